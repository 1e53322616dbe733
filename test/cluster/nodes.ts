// Helpers for the multi-node tests: Mamori nodes as child processes (bin/mamori.js start), a private redis-server, and
// a small HTTP client with the store API key.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import pg from "pg";

export const CTX = { ip: "133.0.0.10", userAgent: "Mozilla/5.0 Chrome/120.0", deviceId: "owner-pc", channel: "web" };
export const PASSWORD = "amber lantern drifts past quiet harbors 47";

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

export function startNode(port: number, dbUrl: string, redisUrl: string): Promise<Node> {
  const proc = spawn(process.execPath, ["bin/mamori.js", "start"], {
    env: {
      ...process.env,
      MAMORI_PORT: String(port),
      MAMORI_DATABASE_URL: dbUrl,
      MAMORI_REDIS_URL: redisUrl,
      MAMORI_SECRET: "ab".repeat(32),
      MAMORI_FAST_HASH: "1",
      MAMORI_LOG_LEVEL: "warn",
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
export function client(dbUrl: string, key: () => string) {
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
    const db = new pg.Client({ connectionString: dbUrl });
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
