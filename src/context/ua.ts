import UAParser from "ua-parser-js";

export interface UserAgentInfo {
  browser: string | null;
  os: string | null;
  deviceType: string | null;
}

/** Real user agents are < 400 chars; anything longer is junk or an attempt to make the regexes work hard. */
export const MAX_UA_LENGTH = 512;

// ua-parser-js 1.x knows neither mail clients (which sign in with app passwords over IMAP/SMTP) nor, usefully,
// Thunderbird (it reports "Mozilla 5"). Extensions are tried before the built-in rules.
const EXTENSIONS = {
  browser: [
    [/\b(thunderbird)\/([\w.]+)/i],
    // Each prop consumes one capture group, in order; [prop, "literal"] overrides the captured value.
    [[UAParser.BROWSER.NAME, "Thunderbird"], UAParser.BROWSER.VERSION],
    [/\b(microsoft outlook) ([\d.]+)/i],
    [[UAParser.BROWSER.NAME, "Outlook"], UAParser.BROWSER.VERSION],
  ],
};

const DESKTOP_OS = new Set([
  "Windows",
  "Mac OS",
  "macOS",
  "Linux",
  "Ubuntu",
  "Debian",
  "Fedora",
  "Mint",
  "Arch",
  "CentOS",
  "RedHat",
  "SUSE",
  "Gentoo",
  "Chromium OS",
  "FreeBSD",
  "OpenBSD",
  "NetBSD",
  "Solaris",
]);

// One parser reused: construction merges the regex lists, and parsing is synchronous so sharing is safe.
const parser = new UAParser(undefined, EXTENSIONS);

/**
 * "Chrome 120" / "Windows 10" / "desktop". Windows 11 reports itself as "Windows NT 10.0", and iPads on iPadOS 13+
 * send the macOS user agent, so those read as Windows 10 and desktop: the values are for showing users their
 * sessions and comparing devices, not proof of anything.
 */
export function parseUserAgent(ua: string): UserAgentInfo {
  const input = ua.slice(0, MAX_UA_LENGTH);
  if (input.trim() === "") return { browser: null, os: null, deviceType: null };
  const r = parser.setUA(input).getResult();
  const browser = r.browser.name ? [r.browser.name, r.browser.major].filter(Boolean).join(" ") : null;
  const os = r.os.name ? [r.os.name, r.os.version].filter(Boolean).join(" ") : null;
  const deviceType = r.device.type ?? (r.os.name && DESKTOP_OS.has(r.os.name) ? "desktop" : null);
  return { browser, os, deviceType };
}
