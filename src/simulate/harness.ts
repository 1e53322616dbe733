import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { totpCodeAt, totpStep } from "../identity/totp.ts";
import { MailSink } from "./mail.ts";
import { StoreReceiver } from "./receiver.ts";

// biome-ignore lint/suspicious/noExplicitAny: Mamori's JSON answers, read field by field as the stories need them
export type J = any;

export interface Answer {
  status: number;
  body: J;
}

export type Out = (line: string) => void;

/** The request context a store forwards for its end user (see README, Integration model). */
export interface Ctx {
  ip: string;
  userAgent: string;
  deviceId?: string;
  channel: "web" | "app";
}

export const CONTEXTS = {
  tokyoPc: {
    ip: "133.0.0.10",
    userAgent:
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    deviceId: "owner-pc",
    channel: "web",
  },
  osakaPhone: {
    ip: "126.0.0.1",
    userAgent:
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    deviceId: "buyer-phone",
    channel: "web",
  },
  // Geolocated by Mamori's bundled data: 8.8.8.8 → US, 36.110.x → CN, 110.30.x → TW, 1.0.1.x → CN.
  attackerUs: {
    ip: "8.8.8.8",
    userAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    deviceId: "atk-linux",
    channel: "web",
  },
  attackerCn: {
    ip: "36.110.1.1",
    userAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0",
    deviceId: "atk-cn",
    channel: "web",
  },
  attackerTw: {
    ip: "110.30.1.1",
    userAgent:
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
    deviceId: "atk-tw",
    channel: "web",
  },
  attackerCn2: {
    ip: "1.0.1.1",
    userAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0",
    deviceId: "atk-mule",
    channel: "web",
  },
  // A residential proxy in Japan (SoftBank range): where an attacker goes when foreign sign-ins are refused.
  proxyJp: {
    ip: "126.200.3.4",
    userAgent:
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36 Edg/118.0",
    deviceId: "atk-proxy",
    channel: "web",
  },
} satisfies Record<string, Ctx>;

/** The store backend's HTTP client for Mamori: every call the stories make goes through here. */
export class Api {
  constructor(
    readonly base: string,
    readonly apiKey: string,
  ) {}

  async call(
    method: "GET" | "POST" | "DELETE",
    urlPath: string,
    opts: { body?: unknown; session?: string; admin?: string; noKey?: boolean } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (opts.admin) headers.authorization = `Bearer ${opts.admin}`;
    else if (!opts.noKey) headers.authorization = `Bearer ${this.apiKey}`;
    if (opts.session) headers["x-mamori-session"] = opts.session;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(this.base + urlPath, {
      method,
      headers,
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
    const text = await res.text();
    let body: J = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = { raw: text };
    }
    return { status: res.status, body };
  }
}

/** Prints the play: who did what, and Mamori's answer. */
export class Narrator {
  constructor(readonly out: Out) {}

  scene(title: string): void {
    this.out("");
    this.out(title);
  }

  /** `who` acts; `ans` is Mamori's answer, summarised by `said` (else its status and error code). */
  act(who: string, what: string, ans?: Answer, said?: string): void {
    const answer = ans ? `  → ${ans.status}${said ? ` ${said}` : errorOf(ans) ? ` ${errorOf(ans)}` : ""}` : "";
    this.out(`  ${who.padEnd(9)} ${what}${answer}`);
  }

  note(text: string): void {
    this.out(`  ${"".padEnd(9)} · ${text}`);
  }
}

export function errorOf(a: Answer): string | null {
  return typeof a.body?.error?.code === "string" ? a.body.error.code : null;
}

/** A step the story cannot go on without: an unexpected answer ends the story with the answer in the message. */
export function must(a: Answer, status: number | number[], what: string): J {
  const ok = Array.isArray(status) ? status.includes(a.status) : a.status === status;
  if (!ok) throw new Error(`${what}: expected ${status}, got ${a.status} ${JSON.stringify(a.body).slice(0, 300)}`);
  return a.body;
}

export interface StaffLogin {
  username: string;
  password: string;
  totpSecret?: string | undefined;
}

export interface MamoriTarget {
  url: string;
  apiKey: string;
  /** support's login; totpSecret once enrolled (a self-started Mamori's login is set up at the first adminToken) */
  admin: StaffLogin;
  /** what was started (self-started mode), for the printout */
  describe: string;
  stop(): Promise<void>;
}

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bin/mamori.js");

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts a temporary Mamori as its own process (`mamori start`), exactly as an operator would: embedded SQLite in a
 * temp dir, or a fresh schema of `databaseUrl`; mail by SMTP to the simulator's sink. The store API key and admin
 * login are read from its first-start printout. Fast password hashing: this is a simulation, not a deployment.
 */
export async function startMamori(opts: { smtpPort: number; databaseUrl?: string | undefined }): Promise<MamoriTarget> {
  const port = await freePort();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "mamori-sim-"));
  let schema: string | null = null;
  let dbUrl: string | undefined;
  if (opts.databaseUrl) {
    // A schema of its own, so the first start bootstraps (and prints) a key and an admin, and teardown is one DROP.
    schema = `sim_${randomBytes(6).toString("hex")}`;
    const c = new pg.Client({ connectionString: opts.databaseUrl });
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA "${schema}"`);
    } finally {
      await c.end();
    }
    const u = new URL(opts.databaseUrl);
    u.searchParams.set("options", `-c search_path=${schema}`);
    dbUrl = u.toString();
  }
  const env: NodeJS.ProcessEnv = {};
  // Only the settings given here: a stray MAMORI_DISPATCHER=off or MAMORI_REDIS_URL would change the play.
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("MAMORI_")) env[k] = v;
  Object.assign(env, {
    MAMORI_HOST: "127.0.0.1",
    MAMORI_PORT: String(port),
    MAMORI_PUBLIC_URL: `http://127.0.0.1:${port}`,
    MAMORI_DATA_DIR: dataDir,
    MAMORI_SMTP_URL: `smtp://127.0.0.1:${opts.smtpPort}`,
    MAMORI_MAIL_FROM: "Mamori <no-reply@mamori.invalid>",
    MAMORI_FAST_HASH: "1",
    MAMORI_LOG_LEVEL: "error",
    ...(dbUrl ? { MAMORI_DATABASE_URL: dbUrl } : {}),
  });
  const child = spawn(process.execPath, [BIN, "start"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString("utf8");
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString("utf8");
  });
  const cleanup = async () => {
    await stopChild(child);
    await rm(dataDir, { recursive: true, force: true });
    if (schema && opts.databaseUrl) {
      const c = new pg.Client({ connectionString: opts.databaseUrl });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await c.end();
      }
    }
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Mamori did not start within 60 s:\n${stdout}${stderr}`)),
        60_000,
      );
      const check = () => {
        if (/listening on/.test(stdout)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on("data", check);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`Mamori exited with ${code} while starting:\n${stdout}${stderr}`));
      });
    });
    const key = stdout.match(/store API key:\s+(mk_\S+)/)?.[1];
    const admin = stdout.match(/admin login:\s+(\S+) \/ (\S+)/);
    if (!key || !admin) throw new Error(`no first-start credentials in Mamori's output:\n${stdout}`);
    return {
      url: `http://127.0.0.1:${port}`,
      apiKey: key,
      admin: { username: admin[1]!, password: admin[2]! },
      describe: `temporary Mamori (pid ${child.pid}, port ${port}, ${schema ? `PostgreSQL schema ${schema}` : `SQLite in ${dataDir}`}, SMTP → sink :${opts.smtpPort})`,
      stop: cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Everything a story plays against: Mamori's API, the mailboxes, the store's webhook receiver, support's login. */
export interface World {
  api: Api;
  mail: MailSink;
  store: StoreReceiver;
  n: Narrator;
  /** A fresh admin session (support signs in through the admin API). */
  adminToken(): Promise<string>;
  /** Unique per run, so stories can be played again against the same Mamori. */
  tag: string;
  /** Bounds of the polling waits. */
  waits: { deliveryMs: number; retryMs: number };
}

export interface WorldOptions {
  /** An already-running Mamori; omitted: a temporary one is started. */
  url?: string;
  apiKey?: string;
  admin?: StaffLogin;
  /** The sink's SMTP port (the running Mamori's MAMORI_SMTP_URL points here); 0 = any free port (self-started). */
  smtpPort?: number;
  webhookPort?: number;
  databaseUrl?: string | undefined;
  out: Out;
  waits?: Partial<World["waits"]>;
}

/**
 * Support signs in as a staff member does. A login that still owes its first-sign-in steps (a self-started Mamori's
 * bootstrap login) sets a password of its own and enrols TOTP, and keeps both in `login`; an enrolled one signs in
 * with password and code, waiting for the next 30-second step when this step's code was used already.
 */
async function staffSignIn(
  api: Api,
  login: StaffLogin,
  used: (step: number) => void,
  lastStep: number,
): Promise<string> {
  const first = must(
    await api.call("POST", "/v1/admin/sign-in", {
      body: { username: login.username, password: login.password },
      noKey: true,
    }),
    200,
    "adminSignIn",
  );
  if (first.status === "setup_required") {
    const token = first.token as string;
    if ((first.required as string[]).includes("password_change")) {
      const newPassword = `sim ${randomBytes(12).toString("base64url")} staff`;
      must(
        await api.call("POST", "/v1/admin/password", {
          body: { currentPassword: login.password, newPassword },
          admin: token,
        }),
        200,
        "changeStaffPassword",
      );
      login.password = newPassword;
    }
    if ((first.required as string[]).includes("totp_enrolment")) {
      const { secret } = must(
        await api.call("POST", "/v1/admin/totp/setup", { body: {}, admin: token }),
        200,
        "setupStaffTotp",
      );
      const step = totpStep(Date.now());
      must(
        await api.call("POST", "/v1/admin/totp/confirm", {
          body: { code: totpCodeAt(secret, Date.now()) },
          admin: token,
        }),
        200,
        "confirmStaffTotp",
      );
      login.totpSecret = secret;
      used(step);
    }
    return token;
  }
  if (!login.totpSecret) throw new Error("the staff login has TOTP enrolled: give its secret (--admin-totp)");
  // One code per step: wait for the next one when this one was used (a code is never accepted twice).
  while (totpStep(Date.now()) <= lastStep) await new Promise((r) => setTimeout(r, 1000));
  const step = totpStep(Date.now());
  const v = must(
    await api.call("POST", "/v1/admin/sign-in/verify", {
      body: { challengeId: first.challengeId, code: totpCodeAt(login.totpSecret, Date.now()) },
      noKey: true,
    }),
    200,
    "adminSignInVerify",
  );
  used(step);
  return v.token as string;
}

export async function openWorld(o: WorldOptions): Promise<World & { close(): Promise<void>; target: string }> {
  const mail = new MailSink();
  const store = new StoreReceiver();
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    await mail.start(o.smtpPort ?? 0);
    closers.push(() => mail.stop());
    await store.start(o.webhookPort ?? 0);
    closers.push(() => store.stop());
    let target: MamoriTarget;
    if (o.url) {
      if (!o.apiKey || !o.admin) throw new Error("--url needs --api-key and --admin user:password");
      target = {
        url: o.url.replace(/\/$/, ""),
        apiKey: o.apiKey,
        admin: o.admin,
        describe: `Mamori at ${o.url} (its MAMORI_SMTP_URL must point at smtp://127.0.0.1:${mail.port})`,
        stop: async () => {},
      };
    } else {
      target = await startMamori({ smtpPort: mail.port, databaseUrl: o.databaseUrl });
      closers.push(() => target.stop());
    }
    const api = new Api(target.url, target.apiKey);
    const health = await api.call("GET", "/health", { noKey: true });
    must(health, 200, "health");
    // The store registers its webhook endpoint; the secret is shown once and kept by the receiver.
    const ep = must(
      await api.call("POST", "/v1/webhooks/endpoints", { body: { url: store.url, description: "mamori simulate" } }),
      201,
      "createWebhookEndpoint",
    );
    store.setSecret(ep.secret);
    // Disabled at the end: a long-running Mamori must not keep retrying a receiver that is gone.
    closers.push(async () => {
      await api.call("DELETE", `/v1/webhooks/endpoints/${ep.id}`);
    });
    const n = new Narrator(o.out);
    n.out(`Mamori: ${target.describe}; store ${health.body.store}, version ${health.body.version}`);
    n.out(`Mailboxes: SMTP sink on :${mail.port}. Store webhook receiver: ${store.url} (endpoint ${ep.id})`);
    let staffToken: string | null = null;
    let lastStep = -1;
    const world: World = {
      api,
      mail,
      store,
      n,
      // a letter first: an all-digit tag in an address would read as a 6-digit code in a mail body
      tag: `s${randomBytes(3).toString("hex")}`,
      waits: { deliveryMs: 15_000, retryMs: 30_000, ...o.waits },
      async adminToken() {
        if (staffToken) {
          const me = await api.call("GET", "/v1/admin/me", { admin: staffToken, noKey: true });
          if (me.status === 200 && me.body.required.length === 0) return staffToken;
        }
        const enrolled = target.admin.totpSecret;
        staffToken = await staffSignIn(
          api,
          target.admin,
          (step) => {
            lastStep = step;
          },
          lastStep,
        );
        if (!enrolled && target.admin.totpSecret && o.url) {
          n.out(
            `Support login ${target.admin.username}: first sign-in done by the simulator; its password is now ` +
              `${target.admin.password} and its TOTP secret ${target.admin.totpSecret} (use --admin and --admin-totp next time)`,
          );
        }
        return staffToken;
      },
    };
    return { ...world, close, target: target.describe };
  } catch (e) {
    await close();
    throw e;
  }
}
