// Helpers for the multi-node tests: Mamori nodes as child processes (bin/mamori.js start), a private redis-server, a
// private PostgreSQL, and a small HTTP client with the store API key.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";

export const CTX = { ip: "133.0.0.10", userAgent: "Mozilla/5.0 Chrome/120.0", deviceId: "owner-pc", channel: "web" };
export const PASSWORD = "amber lantern drifts past quiet harbors 47";

/**
 * The i-th address of a load's own range (`prefix` like "133.2"): a new address each call, the last octet kept in 1–254
 * (`(i & 255) + 1` made x.x.x.256 every 256th call, a 400 a fault test counted as a wrong answer).
 */
export function loadAddress(prefix: string, i: number): string {
  return `${prefix}.${Math.floor(i / 254) & 255}.${(i % 254) + 1}`;
}

/**
 * A port for a private server, in [base, base + span): each test has a range of its own, below Linux's ephemeral
 * range (32768–60999), where the kernel picks the local port of every outgoing connection — a private Redis on 49004
 * once found such a connection holding its port (CI), and the test failed before it began. Checked free by binding it.
 */
export async function freePort(base: number, span = 1000): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = base + Math.floor(Math.random() * span);
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once("error", () => resolve(false));
      s.listen(p, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (free) return p;
  }
  throw new Error(`no free port in ${base}–${base + span - 1}`);
}

export function redisServerMissing(): string | null {
  const r = spawnSync("redis-server", ["--version"], { stdio: "ignore" });
  if (r.status === 0) return null;
  const reason = "redis-server is not installed (the test runs a Redis of its own to stop)";
  if (process.env.MAMORI_TEST_REQUIRE_SERVICES === "1") throw new Error(`MAMORI_TEST_REQUIRE_SERVICES=1 but ${reason}`);
  return reason;
}

// A process killed by a signal has no exit code, only a signal code.
export const exited = (p: ChildProcess) =>
  new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once("exit", r)));

/** A private redis-server, no persistence; resolves once it accepts connections. */
export function startRedis(port: number): Promise<ChildProcess> {
  const proc = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server on ${port} did not start: ${out}`)), 10_000);
    proc.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve(proc);
      }
    });
    proc.once("exit", (c) => reject(new Error(`redis-server exited ${c}: ${out}`)));
  });
}

export interface Node {
  proc: ChildProcess;
  url: string;
  out: string;
}

export function startNode(
  port: number,
  dbUrl: string,
  redisUrl: string,
  env: Record<string, string> = {},
): Promise<Node> {
  const proc = spawn(process.execPath, ["bin/mamori.js", "start"], {
    env: {
      ...process.env,
      MAMORI_PORT: String(port),
      MAMORI_DATABASE_URL: dbUrl,
      MAMORI_REDIS_URL: redisUrl,
      MAMORI_SECRET: "ab".repeat(32),
      MAMORI_FAST_HASH: "1",
      MAMORI_LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const node: Node = { proc, url: `http://127.0.0.1:${port}`, out: "" };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node on ${port} did not start: ${node.out}`)), 60_000);
    const onData = (d: Buffer) => {
      node.out += d.toString();
      if (node.out.includes("listening on")) {
        clearTimeout(timer);
        resolve(node);
      }
    };
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
    proc.on("exit", (code) => reject(new Error(`node on ${port} exited ${code}: ${node.out}`)));
  });
}

/** Calls on the nodes with the store API key (read when called: the first node prints it once started). */
export function client(dbUrl: string | (() => string), key: () => string) {
  async function call(n: Node, path: string, body: unknown, session?: string) {
    const res = await fetch(`${n.url}${path}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${key()}`,
        "content-type": "application/json",
        ...(session ? { "x-mamori-session": session } : {}),
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    return { status: res.status, text: await res.text() };
  }
  const json = (r: { text: string }) => JSON.parse(r.text) as Record<string, any>;
  const active = async (n: Node, token: string) =>
    json(await call(n, "/v1/sessions/introspect", { token })).active as boolean;

  async function signUp(n: Node, email: string): Promise<string> {
    const started = json(await call(n, "/v1/accounts", { email, password: PASSWORD, context: CTX }));
    const db = new pg.Client({ connectionString: typeof dbUrl === "string" ? dbUrl : dbUrl() });
    await db.connect();
    const row = await db.query(
      "select body from notifications where recipient = $1 and template = 'signup_code' order by created_at desc limit 1",
      [email],
    );
    await db.end();
    const code = String(row.rows[0]?.body ?? "").match(/\b(\d{6})\b/)?.[1];
    const done = await call(n, "/v1/accounts/confirm", { signupId: started.signupId, code, context: CTX });
    assert.equal(done.status, 201, done.text);
    return json(done).session.token as string;
  }

  return { call, json, active, signUp };
}

/** The directory of PostgreSQL's server programs (initdb, pg_ctl): MAMORI_TEST_PG_BIN, Debian's newest, or PATH. */
function pgBin(): string | null {
  const given = process.env.MAMORI_TEST_PG_BIN;
  if (given) return fs.existsSync(path.join(given, "initdb")) ? given : null;
  const root = "/usr/lib/postgresql";
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => fs.existsSync(path.join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0]) return path.join(root, versions[0], "bin");
  const r = spawnSync("pg_config", ["--bindir"], { encoding: "utf8" });
  const dir = r.status === 0 ? r.stdout.trim() : "";
  return dir && fs.existsSync(path.join(dir, "initdb")) ? dir : null;
}

/**
 * Why a private PostgreSQL cannot be run here, or null. initdb refuses to run as root: as root the cluster is made and
 * run as the `postgres` user (runuser), which must exist; as anyone else, as that user.
 */
export function postgresServerMissing(): string | null {
  let reason: string | null = null;
  if (!pgBin()) reason = "PostgreSQL's server programs (initdb, pg_ctl) are not installed";
  else if (process.getuid?.() === 0 && spawnSync("id", ["-u", "postgres"], { stdio: "ignore" }).status !== 0) {
    reason = "running as root and there is no `postgres` user to run initdb as";
  }
  if (reason && process.env.MAMORI_TEST_REQUIRE_SERVICES === "1") {
    throw new Error(`MAMORI_TEST_REQUIRE_SERVICES=1 but ${reason}`);
  }
  return reason;
}

export interface PrivatePostgres {
  url: string;
  /** pg_ctl stop: the server shuts down with the given mode, then is down until start(). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  start(): Promise<void>;
  /** Stops the server (immediate) and removes its data directory; safe to call twice. */
  destroy(): void;
}

/**
 * A PostgreSQL cluster of the test's own on `port` (data directory under the OS temp dir, trust auth, listening on
 * 127.0.0.1 only), so a test can stop it without touching the shared one on 5432. fsync is off: the test restarts the
 * server, never the machine, and a committed transaction survives a server restart without it. Also stopped when the
 * test process exits, on any path.
 */
export async function startPostgres(port: number): Promise<PrivatePostgres> {
  const bin = pgBin();
  if (!bin) throw new Error("no PostgreSQL server programs");
  const asRoot = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mamori-pg-"));
  if (asRoot) {
    const uid = Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim());
    const gid = Number(spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout.trim());
    fs.chownSync(dir, uid, gid);
  }
  const data = path.join(dir, "data");
  const run = (prog: string, args: string[], timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const argv = asRoot ? ["-u", "postgres", "--", path.join(bin, prog), ...args] : args;
      const p = spawn(asRoot ? "runuser" : path.join(bin, prog), argv, { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      p.stdout?.on("data", (d: Buffer) => (out += d.toString()));
      p.stderr?.on("data", (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
      p.once("exit", (code) => {
        clearTimeout(timer);
        code === 0 ? resolve() : reject(new Error(`${prog} ${args.join(" ")} exited ${code}: ${out.slice(-2000)}`));
      });
    });
  const stopNow = () => {
    const args = ["-D", data, "-m", "immediate", "-w", "stop"];
    const pgCtl = path.join(bin, "pg_ctl");
    spawnSync(asRoot ? "runuser" : pgCtl, asRoot ? ["-u", "postgres", "--", pgCtl, ...args] : args, {
      stdio: "ignore",
      timeout: 15_000,
    });
  };
  let destroyed = false;
  // pg_ctl leaves the server running on its own: a test process that ends any way at all (an assertion, a timeout,
  // the runner's SIGTERM or a Ctrl-C) stops it and removes its files.
  const onSignal = (signal: NodeJS.Signals) => {
    destroy();
    process.kill(process.pid, signal);
  };
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    process.off("exit", destroy);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (fs.existsSync(path.join(data, "postmaster.pid"))) stopNow();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.on("exit", destroy);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const opts = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c max_connections=100`;
  const start = () =>
    run("pg_ctl", ["-D", data, "-l", path.join(dir, "log"), "-w", "-t", "30", "-o", opts, "start"], 40_000);
  try {
    await run(
      "initdb",
      ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--no-locale"],
      60_000,
    );
    await start();
  } catch (e) {
    destroy();
    throw e;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: (mode = "fast") => run("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "30", "stop"], 40_000),
    start,
    destroy,
  };
}
