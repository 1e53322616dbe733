// Credential stuffing against a Mamori with production argon2id (issue 14, "legit-user-starved-by-stuffing"):
// 1,000 accounts, 1 % of them still on the leaked password; an attacker sends 10,000 sign-in attempts from 500
// addresses in Japanese residential ranges (NTT, SoftBank, KDDI, docomo, …), no device cookie, `BENCH_ATTACK_INFLIGHT`
// at a time (default 16). A legitimate user signs in once a second from her own PC (a known device), first at rest
// (`BENCH_SECONDS`, default 20) and then for as long as the attack runs. Prints JSON: her p50/p99 at rest and under
// attack side by side (target: p99 under attack ≤ 2 × p99 at rest), and what the attacker got (accounts entered
// without a second factor must be 0; answers by kind).
//
// The server is a child process (this file with argument `server`), on the embedded store in a temp dir; the
// accounts are written by src/testing/accounts.ts through identity's own store code with one argon2id hash per
// distinct password (a loader, not 1,000 sign-ups: each sign-up would hash too), each with its owner's first sign-in
// from home; the attacker's addresses are other /24s of the same ISPs.
//
//   npm run bench:stuffing
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";

const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 1000);
const ATTEMPTS = Number(process.env.BENCH_ATTEMPTS ?? 10_000);
const SOURCES = Number(process.env.BENCH_SOURCES ?? 500);
const INFLIGHT = Number(process.env.BENCH_ATTACK_INFLIGHT ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const LEAKED = "hanako-summer-2019!";
const OWN = "violet tractor sings at midnight 93";
const LEGIT = "legit-user@example.jp";
const PC = {
  ip: "153.150.10.20",
  userAgent:
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
  deviceId: "legit-pc",
  channel: "web" as const,
};

async function server(dir: string) {
  const { buildApp } = await import("../src/app.ts");
  const { loadConfig } = await import("../src/config.ts");
  const { signUpInProcess } = await import("../src/testing/signup.ts");
  const config = loadConfig({ ...process.env, MAMORI_DATA_DIR: dir, MAMORI_DISPATCHER: "off", MAMORI_FAST_HASH: "" });
  const app = await buildApp(config);
  const { key } = await app.admin.createApiKey("bench");
  const { createArgon2Hasher } = await import("../src/identity/passwords.ts");
  const { bulkAccounts } = await import("../src/testing/accounts.ts");
  // The owners signed up from home (a /24 of a Japanese consumer ISP each, their PC's cookie); 1 % still use the
  // leaked password.
  await bulkAccounts(
    app,
    createArgon2Hasher(config.argon2),
    Array.from({ length: ACCOUNTS }, (_, i) => ({
      email: `user${i}@example.jp`,
      password: i % 100 === 0 ? LEAKED : OWN,
      home: { ...PC, ip: `${POOLS[i % POOLS.length]}.${(i >> 4) & 127}.${((i * 37) & 253) + 1}`, deviceId: `pc-${i}` },
    })),
    Date.now() - 30 * 86_400_000,
  );
  await signUpInProcess(app, { email: LEGIT, password: OWN, context: PC, language: "ja" });
  const { preload } = await import("../src/context/geo.ts");
  preload();
  await app.http.listen({ host: "127.0.0.1", port: 0 });
  const port = (app.http.server.address() as { port: number }).port;
  process.stdout.write(`${JSON.stringify({ port, key, argon2: config.argon2 })}\n`);
  process.once("SIGTERM", async () => {
    await app.close();
    process.exit(0);
  });
}

// Japanese residential and mobile ranges (country and ASN as the bundled data have them).
const POOLS = [
  "153.150",
  "114.160",
  "180.12",
  "124.100",
  "126.10",
  "61.200",
  "106.128",
  "27.80",
  "49.96",
  "1.72",
  "220.100",
  "111.168",
  "121.80",
  "183.76",
  "110.0",
  "36.12",
];
const sourceIp = (i: number) => `${POOLS[i % POOLS.length]}.${128 + ((i >> 4) & 127)}.${(i * 37) & 255}`;
const ATTACKER_UA = [
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
  PC.userAgent,
];

async function client() {
  const dir = mkdtempSync(path.join(tmpdir(), "mamori-bench-stuffing-"));
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", new URL(import.meta.url).pathname, "server", dir],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const first = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once("line", resolve);
    child.once("exit", (c) => reject(new Error(`server exited ${c}`)));
  });
  const { port, key, argon2 } = JSON.parse(first) as { port: number; key: string; argon2: unknown };
  // Node's fetch keeps connections alive.
  const post = async (body: unknown) => {
    const r = await fetch(`http://127.0.0.1:${port}/v1/sign-in`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = (await r.json()) as { status?: string; error?: { code?: string } };
    return { status: r.status, json };
  };

  async function legitFor(stop: () => boolean) {
    const lat: number[] = [];
    let bad = 0;
    while (!stop()) {
      const due = performance.now() + 1000;
      const t0 = performance.now();
      const r = await post({ email: LEGIT, password: OWN, context: PC });
      lat.push(performance.now() - t0);
      if (r.json.status !== "signed_in") bad++;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    }
    return { lat, bad };
  }

  // Warm-up, then at rest.
  for (let i = 0; i < 3; i++) await post({ email: LEGIT, password: OWN, context: PC });
  const restEnd = performance.now() + SECONDS * 1000;
  const rest = await legitFor(() => performance.now() > restEnd);

  // Under attack.
  const outcomes: Record<string, number> = {};
  let entered = 0;
  let next = 0;
  let attackDone = false;
  const t0 = performance.now();
  const attackers = Array.from({ length: INFLIGHT }, async () => {
    for (;;) {
      const i = next++;
      if (i >= ATTEMPTS) return;
      const r = await post({
        email: `user${(i * 7919) % ACCOUNTS}@example.jp`,
        password: LEAKED,
        context: { ip: sourceIp(i % SOURCES), userAgent: ATTACKER_UA[i % ATTACKER_UA.length]!, channel: "web" },
      });
      const k = `${r.status}:${r.json.status ?? r.json.error?.code}`;
      outcomes[k] = (outcomes[k] ?? 0) + 1;
      if (r.json.status === "signed_in") entered++;
    }
  });
  const legit = legitFor(() => attackDone);
  await Promise.all(attackers);
  attackDone = true;
  const attack = await legit;
  const attackSeconds = (performance.now() - t0) / 1000;

  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  rmSync(dir, { recursive: true, force: true });

  const q = (xs: number[], p: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]! * 100) / 100;
  };
  const restP99 = q(rest.lat, 0.99);
  const attackP99 = q(attack.lat, 0.99);
  process.stdout.write(
    `${JSON.stringify(
      {
        bench: "stuffing",
        node: process.version,
        argon2,
        accounts: ACCOUNTS,
        leakedAccounts: Math.ceil(ACCOUNTS / 100),
        attempts: ATTEMPTS,
        sources: SOURCES,
        inflight: INFLIGHT,
        legitAtRest: { n: rest.lat.length, p50Ms: q(rest.lat, 0.5), p99Ms: restP99, notSignedIn: rest.bad },
        legitUnderAttack: {
          n: attack.lat.length,
          p50Ms: q(attack.lat, 0.5),
          p99Ms: attackP99,
          notSignedIn: attack.bad,
        },
        p99Ratio: Math.round((attackP99 / restP99) * 100) / 100,
        attacker: {
          seconds: Math.round(attackSeconds),
          perSecond: Math.round(ATTEMPTS / attackSeconds),
          entered,
          outcomes,
        },
      },
      null,
      2,
    )}\n`,
  );
}

if (process.argv[2] === "server") await server(process.argv[3]!);
else await client();
