import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseUserAgent } from "./ua.ts";

const CHROME_WINDOWS =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const SAFARI_IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
const CHROME_ANDROID =
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36";
const SAFARI_IPAD =
  "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
const THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0";
const OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17126; Pro)";
const GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

describe("parseUserAgent", () => {
  it("desktop Chrome on Windows", () => {
    assert.deepEqual(parseUserAgent(CHROME_WINDOWS), {
      browser: "Chrome 120",
      os: "Windows 10",
      deviceType: "desktop",
    });
  });

  it("Safari on iPhone and iPad", () => {
    assert.deepEqual(parseUserAgent(SAFARI_IPHONE), {
      browser: "Mobile Safari 17",
      os: "iOS 17.1",
      deviceType: "mobile",
    });
    assert.deepEqual(parseUserAgent(SAFARI_IPAD), {
      browser: "Mobile Safari 17",
      os: "iOS 17.1",
      deviceType: "tablet",
    });
  });

  it("Chrome on Android", () => {
    assert.deepEqual(parseUserAgent(CHROME_ANDROID), { browser: "Chrome 120", os: "Android 14", deviceType: "mobile" });
  });

  it("mail clients signing in over IMAP are named, not reported as 'Mozilla 5'", () => {
    assert.deepEqual(parseUserAgent(THUNDERBIRD), {
      browser: "Thunderbird 115",
      os: "Windows 10",
      deviceType: "desktop",
    });
    assert.deepEqual(parseUserAgent(OUTLOOK), { browser: "Outlook 16", os: "Windows 10", deviceType: "desktop" });
  });

  it("bots and scripts give nulls rather than a guessed device", () => {
    for (const ua of [GOOGLEBOT, "python-requests/2.31.0", "curl/8.4.0", "", "   "]) {
      assert.deepEqual(parseUserAgent(ua), { browser: null, os: null, deviceType: null }, ua);
    }
  });

  it("an OS without a version is reported by name alone", () => {
    const linux = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
    assert.deepEqual(parseUserAgent(linux), { browser: "Firefox 121", os: "Linux", deviceType: "desktop" });
  });

  it("only the first 512 characters are parsed (oversized header)", () => {
    // A real UA past the cap is ignored: only junk is seen, so nothing is known.
    assert.deepEqual(parseUserAgent(`${"x".repeat(600)} ${CHROME_WINDOWS}`), {
      browser: null,
      os: null,
      deviceType: null,
    });
    const started = performance.now();
    parseUserAgent(`Mozilla/5.0 (${"a;".repeat(500_000)})`);
    assert.ok(performance.now() - started < 200, "a megabyte header is cut before the regexes see it");
  });
});
