import { randomBytes } from "node:crypto";
import type { LightMyRequestResponse } from "fastify";
import { type App, type BuildOptions, buildApp } from "../app.ts";
import { createTestGateway, type PaymentGateway } from "../commerce/gateway.ts";
import { loadConfig } from "../config.ts";
import type { DatabaseHandle } from "../db/database.ts";
import { fastTestHasher, type PasswordHasher } from "../identity/passwords.ts";
import { totpCodeAt } from "../identity/totp.ts";
import { createRedisCounterStore } from "../limits/redis.ts";
import type { ExtraStep } from "../response/service.ts";
import { DEFAULT_POLICY, PERMISSIVE_POLICY } from "../risk/default-policy.ts";
import type { PolicySetSource } from "../risk/policy.ts";
import { ManualClock } from "../shared/clock.ts";
import type { RequestContext } from "../shared/context.ts";
import { REDIS_URL, type TestStore, testStores } from "./stores.ts";

export const STRONG = "amber lantern drifts past quiet harbors 47";
export const STRONG2 = "violet tractor sings at midnight 93";
export const STRONG3 = "seven quiet otters juggle lanterns 18";
/** The password the test staff login sets for itself at its first sign-in. */
export const STAFF_PASSWORD = "copper kettles whistle under autumn rain 62";

export const TOKYO: RequestContext = {
  ip: "133.0.0.10",
  userAgent:
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
  deviceId: "dev-owner-pc",
  channel: "web",
};
export const ATTACKER: RequestContext = {
  ip: "8.8.8.8",
  userAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
  deviceId: "dev-attacker",
  channel: "web",
};

export interface TestApp {
  app: App;
  clock: ManualClock;
  apiKey: string;
  call(
    method: "GET" | "POST" | "DELETE" | "PATCH",
    url: string,
    body?: unknown,
    opts?: { session?: string; auth?: string | null; ip?: string },
  ): Promise<LightMyRequestResponse & { json<T = Record<string, any>>(): T }>;
  /** Newest message to a recipient (after running the dispatcher). */
  lastMail(
    recipient: string,
    template?: string,
  ): Promise<{ template: string; body: string; subject: string } | undefined>;
  mails(recipient: string): Promise<{ template: string; body: string; subject: string }[]>;
  signUp(
    email: string,
    password?: string,
    ctx?: RequestContext,
    language?: "ja" | "en",
  ): Promise<{ accountId: string; token: string }>;
  verifyEmail(token: string, email: string): Promise<void>;
  signIn(email: string, password: string, ctx?: RequestContext): Promise<Record<string, any>>;
  /** The owner's recovery after a lockdown, through the public API: code to `identifier`, new password, devices. */
  recover(
    identifier: string,
    newPassword: string,
    opts?: { claimed?: string[] },
  ): Promise<{ accountId: string; devices: { sessionId: string; role: string }[] }>;
  /**
   * A full admin session token. On first use it creates the staff login "support" and goes through the first sign-in
   * as a staff member would (setup password → own password → TOTP enrolment); later it signs in with password and
   * TOTP code whenever the last session is over (tests move the clock past the staff idle timeout).
   */
  adminToken(): Promise<string>;
  /** The "support" login adminToken created: its own password and TOTP secret (null before the first adminToken). */
  staff: { username: string; password: string; totpSecret: string } | null;
  close(): Promise<void>;
}

/** The store app-level tests run on: SQLite by default, PostgreSQL (+ Redis counters) with MAMORI_TEST_STORE=postgres. */
export const APP_STORE: TestStore = process.env.MAMORI_TEST_STORE === "postgres" ? testStores[1]! : testStores[0]!;

export async function makeTestApp(
  store: TestStore = APP_STORE,
  database?: DatabaseHandle,
  opts: {
    now?: number;
    crashPoint?: (name: string) => void;
    /**
     * The risk policy set the app starts with: "permissive" (default: no rules, so tests of other modules see sign-ins
     * and orders as before), "default" (risk/default-policy.ts, what production starts with) or a set of its own.
     */
    risk?: "permissive" | "default" | PolicySetSource;
    /** more environment for loadConfig, e.g. the store's branding (MAMORI_STORE_NAME, …) */
    env?: NodeJS.ProcessEnv;
    /** the password hasher (default: argon2id with test parameters); attack tests wrap it to count hashes */
    hasher?: PasswordHasher;
    /** steps added to the lockdown's plan (a newer version's plan, for the re-plan test) */
    lockdownSteps?: ExtraStep[];
    /** wraps the test gateway (a gateway that fails some calls, for the settlement-retry tests) */
    gateway?: (g: PaymentGateway) => PaymentGateway;
    /** factors registered after the built-in ones (the plug-in test's own) */
    extraFactors?: BuildOptions["extraFactors"];
    /** the server's logger (a pino logger; default none) */
    logger?: BuildOptions["logger"];
  } = {},
): Promise<TestApp> {
  const clock = new ManualClock(opts.now ?? Date.UTC(2026, 10, 1, 9, 0, 0));
  const skip = await store.skip();
  if (skip) throw new Error(`MAMORI_TEST_STORE=${store.name} but ${skip}`);
  const db = database ?? (await store.open());
  // No answer floor unless a test asks for one: it only adds waiting (test/attacks/sign-in-answer-reveals-password).
  const config = loadConfig(
    { MAMORI_ANSWER_FLOOR_MS: "0", ...opts.env, MAMORI_DISPATCHER: "off" },
    // a test whose browser must follow Mamori's own links (the demo store's redirect) names where it listens
    { publicUrl: opts.env?.MAMORI_PUBLIC_URL?.replace(/\/$/, "") ?? "http://mamori.test" },
  );
  const counters =
    store.name === "postgres"
      ? createRedisCounterStore(REDIS_URL, { prefix: `t:${randomBytes(6).toString("hex")}:` })
      : undefined;
  const app = await buildApp(config, {
    clock,
    hasher: opts.hasher ?? fastTestHasher(),
    database: db,
    ...(counters ? { counters } : {}),
    ...(opts.crashPoint ? { crashPoint: opts.crashPoint } : {}),
    ...(opts.lockdownSteps ? { lockdownSteps: opts.lockdownSteps } : {}),
    ...(opts.extraFactors ? { extraFactors: opts.extraFactors } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.gateway ? { gateway: opts.gateway(createTestGateway(db.db, clock)) } : {}),
    riskPolicy:
      opts.risk === "default"
        ? DEFAULT_POLICY
        : opts.risk === "permissive" || !opts.risk
          ? PERMISSIVE_POLICY
          : opts.risk,
  });
  const { key } = await app.admin.createApiKey("test");
  const t: TestApp = {
    app,
    clock,
    apiKey: key,
    async call(method, url, body, opts = {}) {
      const headers: Record<string, string> = {};
      const auth = opts.auth === undefined ? key : opts.auth;
      if (auth) headers.authorization = `Bearer ${auth}`;
      if (opts.session) headers["x-mamori-session"] = opts.session;
      const res = await app.http.inject({
        method,
        url,
        headers,
        ...(opts.ip ? { remoteAddress: opts.ip } : {}),
        ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
      });
      return res as never;
    },
    async mails(recipient) {
      await app.dispatcher.runOnce();
      const rows = await app.outbox.listMailbox({ recipient, limit: 100 });
      return rows.map((r) => ({ template: r.template, body: r.body, subject: r.subject }));
    },
    async lastMail(recipient, template) {
      const all = await t.mails(recipient);
      return all.find((m) => !template || m.template === template);
    },
    async signUp(email, password = STRONG, ctx = TOKYO, language = "en") {
      // Two steps, as a store does it: the code goes to the address, and confirming it creates the account.
      const r = await t.call("POST", "/v1/accounts", { email, password, language, context: ctx });
      if (r.statusCode !== 202) throw new Error(`signUp ${r.statusCode} ${r.body}`);
      const code = codeIn((await t.lastMail(email, "signup_code"))?.body);
      const c = await t.call("POST", "/v1/accounts/confirm", { signupId: r.json().signupId, code, context: ctx });
      if (c.statusCode !== 201) throw new Error(`confirmSignUp ${c.statusCode} ${c.body}`);
      const j = c.json();
      return { accountId: j.accountId, token: j.session.token };
    },
    async verifyEmail(token, email) {
      // Sign-up verifies its address; this verifies one added later (and is a no-op for one already verified).
      const acc = await t.call("GET", "/v1/account", undefined, { session: token });
      if (acc.json().emails?.some((e: { value: string; verified: boolean }) => e.value === email && e.verified)) return;
      const m = await t.lastMail(email, "email_verify_code");
      const code = m?.body.match(/\b(\d{6})\b/)?.[1];
      const r = await t.call("POST", "/v1/contacts/verification/confirm", { kind: "email", code }, { session: token });
      if (r.statusCode !== 200) throw new Error(`verify ${r.statusCode} ${r.body}`);
    },
    async signIn(email, password, ctx = TOKYO) {
      const r = await t.call("POST", "/v1/sign-in", { email, password, context: ctx });
      return { http: r.statusCode, ...r.json() };
    },
    async recover(identifier, newPassword, opts = {}) {
      const start = await t.call("POST", "/v1/recovery/start", { identifier });
      if (start.statusCode !== 202) throw new Error(`recovery/start ${start.statusCode} ${start.body}`);
      const code = codeIn((await t.lastMail(identifier, "recovery_code"))?.body);
      const v = await t.call("POST", "/v1/recovery/verify", { recoveryId: start.json().recoveryId, code });
      if (v.statusCode !== 200) throw new Error(`recovery/verify ${v.statusCode} ${v.body}`);
      const { recoveryToken, devices } = v.json();
      const steps: [string, Record<string, unknown>][] = [
        ["/v1/recovery/password", { recoveryToken, newPassword }],
        ["/v1/recovery/devices", { recoveryToken, claimed: opts.claimed ?? [] }],
        ["/v1/recovery/complete", { recoveryToken }],
      ];
      let accountId = "";
      for (const [url, body] of steps) {
        const r = await t.call("POST", url, body);
        if (r.statusCode !== 200) throw new Error(`${url} ${r.statusCode} ${r.body}`);
        accountId = r.json().accountId ?? accountId;
      }
      return { accountId, devices };
    },
    staff: null,
    async adminToken() {
      if (staffToken) {
        const live = await app.admin.requireAdmin(staffToken).then(
          () => true,
          () => false,
        );
        if (live) return staffToken;
      }
      const ok = (r: LightMyRequestResponse, what: string) => {
        if (r.statusCode !== 200) throw new Error(`${what} ${r.statusCode} ${r.body}`);
        return r.json() as Record<string, any>;
      };
      if (!t.staff) {
        const setup = "setup-password-from-the-operator";
        await app.admin.createAdminUser("support", setup, "cli", "lead");
        const s = ok(
          await t.call("POST", "/v1/admin/sign-in", { username: "support", password: setup }, { auth: null }),
          "admin sign-in",
        );
        const token = s.token as string;
        ok(
          await t.call(
            "POST",
            "/v1/admin/password",
            { currentPassword: setup, newPassword: STAFF_PASSWORD },
            { auth: token },
          ),
          "staff password",
        );
        const { secret } = ok(await t.call("POST", "/v1/admin/totp/setup", {}, { auth: token }), "totp setup");
        ok(
          await t.call("POST", "/v1/admin/totp/confirm", { code: totpCodeAt(secret, clock.now()) }, { auth: token }),
          "totp confirm",
        );
        t.staff = { username: "support", password: STAFF_PASSWORD, totpSecret: secret };
        staffToken = token;
        return token;
      }
      const c = ok(
        await t.call(
          "POST",
          "/v1/admin/sign-in",
          { username: t.staff.username, password: t.staff.password },
          { auth: null },
        ),
        "admin sign-in",
      );
      const v = ok(
        await t.call(
          "POST",
          "/v1/admin/sign-in/verify",
          { challengeId: c.challengeId, code: totpCodeAt(t.staff.totpSecret, clock.now()) },
          { auth: null },
        ),
        "admin sign-in verify",
      );
      staffToken = v.token as string;
      return staffToken;
    },
    async close() {
      await app.close();
      if (!database) await db.close();
    },
  };
  let staffToken: string | null = null;
  return t;
}

/** Requests of `operation` answered with `status`, as /metrics counts them (`mamori_http_requests_total`). */
export async function requestCount(t: TestApp, operation: string, status: number): Promise<number> {
  const text = (await t.app.http.inject({ method: "GET", url: "/metrics" })).body;
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`mamori_http_requests_total{operation="${operation}",status="${status}"}`));
  return line ? Number(line.split(" ").pop()) : 0;
}

export function codeIn(body: string | undefined): string {
  const m = body?.match(/\b(\d{6})\b/);
  if (!m?.[1]) throw new Error(`no code in: ${body}`);
  return m[1];
}

/** The token from a link in a message body: `path` like "/links/not-me". */
export function linkToken(body: string | undefined, path: string): string {
  const re = new RegExp(`${path.replace(/\//g, "\\/")}\\?t=([^\\s"<>]+)`);
  const m = body?.match(re);
  if (!m?.[1]) throw new Error(`no ${path} link in: ${body}`);
  return decodeURIComponent(m[1]);
}
