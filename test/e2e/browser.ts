import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import axe from "axe-core";
import { type Browser, type BrowserContext, type CDPSession, chromium, type Page } from "playwright-core";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";

/**
 * Real-browser tests: Debian's Chromium driven by playwright-core, Mamori in this process on a port of its own.
 * A developer without Chromium sees the suites skipped with the reason; CI (MAMORI_TEST_REQUIRE_SERVICES=1) fails.
 */

export const CHROMIUM = process.env.MAMORI_TEST_CHROMIUM ?? "/usr/bin/chromium";

/** Why the browser tests cannot run here, or false. Throws where they must run. */
export function browserSkip(): string | false {
  if (existsSync(CHROMIUM)) return false;
  const reason = `Chromium not found at ${CHROMIUM} (apt-get install -y chromium fonts-noto-cjk, or set MAMORI_TEST_CHROMIUM)`;
  if (process.env.MAMORI_TEST_REQUIRE_SERVICES === "1") throw new Error(`MAMORI_TEST_REQUIRE_SERVICES=1 but ${reason}`);
  return reason;
}

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

/** A phone-sized, Japanese-speaking browser: how most owners open the link in a mail. */
export function phone(browser: Browser, opts: { javaScriptEnabled?: boolean; locale?: string } = {}) {
  return browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 1,
    isMobile: true,
    hasTouch: true,
    locale: opts.locale ?? "ja-JP",
    javaScriptEnabled: opts.javaScriptEnabled ?? true,
  });
}

export interface LiveMamori {
  t: TestApp;
  /** http://127.0.0.1:<port> */
  base: string;
  /** A link from a mail (made for MAMORI_PUBLIC_URL) as this server's URL. */
  local(url: string): string;
  close(): Promise<void>;
}

/**
 * Mamori listening on 127.0.0.1, on `port` (default: chosen by the system), with the store's branding of the
 * screenshots. A test that passes a port can also pass MAMORI_PUBLIC_URL on it, so Mamori's own redirects are followed.
 * `risk`: the tests' permissive policy, or "default", the one production starts with (the seed stories face it).
 */
export async function liveMamori(
  env: NodeJS.ProcessEnv = {},
  port = 0,
  risk: "permissive" | "default" = "permissive",
): Promise<LiveMamori> {
  const t = await makeTestApp(undefined, undefined, { env, risk });
  await t.app.http.listen({ host: "127.0.0.1", port });
  const addr = t.app.http.server.address();
  if (!addr || typeof addr === "string") throw new Error("no port");
  const base = `http://127.0.0.1:${addr.port}`;
  return {
    t,
    base,
    local: (url) => url.replace(t.app.config.publicUrl, base),
    close: () => t.close(),
  };
}

/** The first link to `path` in a mail body, whole, as it would be clicked. */
export function linkIn(body: string | undefined, linkPath: string): string {
  const m = body?.match(new RegExp(`https?://\\S+${linkPath.replace(/\//g, "\\/")}\\?t=\\S+`));
  if (!m) throw new Error(`no ${linkPath} link in: ${body}`);
  return m[0];
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * axe-core run in the page (through the DevTools protocol, which the page's CSP does not govern): the serious and
 * critical violations, each with the elements it names.
 */
export async function seriousA11yViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axe.source);
  const violations = await page.evaluate(async () => {
    const w = window as unknown as {
      axe: {
        run(
          ctx: Document,
          o: object,
        ): Promise<{
          violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[];
        }>;
      };
    };
    const r = await w.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => JSON.stringify(n.target)),
    }));
  });
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** Whether a script put into the page runs: with the pages' CSP it must not. */
export function inlineScriptRuns(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const w = window as unknown as { __mamoriRan?: number };
    const s = document.createElement("script");
    s.textContent = "window.__mamoriRan = 1";
    document.body.append(s);
    return w.__mamoriRan === 1;
  });
}

const SHOTS = path.resolve("docs/screenshots");

/**
 * A screenshot of the whole page: into docs/screenshots/ when MAMORI_UPDATE_SCREENSHOTS=1 (the committed pictures),
 * else into a scratch directory, so a test run leaves the work tree as it was.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir =
    process.env.MAMORI_UPDATE_SCREENSHOTS === "1" ? SHOTS : path.join(process.env.TMPDIR ?? "/tmp", "mamori-shots");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** One DevTools session per page for its virtual authenticators (WebAuthn enabled once). */
const webAuthnSessions = new WeakMap<Page, Promise<CDPSession>>();

/**
 * A device's platform authenticator on the page: Chromium's virtual one (DevTools WebAuthn: CTAP2, internal, resident
 * keys, user verification done, presence answered), so the passkey ceremonies complete without a person. Call again
 * for a second device; `remove` takes it away (a lost phone), `credentials` lists what it holds.
 */
export async function virtualAuthenticator(page: Page) {
  let session = webAuthnSessions.get(page);
  if (!session) {
    session = page
      .context()
      .newCDPSession(page)
      .then(async (cdp) => {
        await cdp.send("WebAuthn.enable");
        return cdp;
      });
    webAuthnSessions.set(page, session);
  }
  const cdp = await session;
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    authenticatorId,
    credentials: async () => (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials,
    remove: () => cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId }),
  };
}

export type { Browser, BrowserContext, Page };
