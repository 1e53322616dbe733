// Timing of answers that must not tell anything (issues 14 and 19), with production argon2id (m=19456, t=2, p=1):
//
//   sign-in from abroad refused by the owner's country rule: right password vs wrong password vs unknown address
//     (all three answer the same decoy-or-live challenge; the right one also sends the owner a notice);
//   password reset request: a known address vs an unknown one (both write one mail in one transaction);
//   sign-up: a taken address vs a free one.
//
// Two Mamoris side by side in the same run: `baseline` answers as soon as it is ready (MAMORI_ANSWER_FLOOR_MS=0), and
// `floored` holds these answers to the configured floor (default 150 ms, src/api/answer-floor.ts). Classes are
// measured interleaved (each once per round on each, in a rotating order), in process through the HTTP layer
// (`inject`, no sockets), each on the embedded store in a temp dir. A ManualClock moves 25 h between rounds so no
// throttling window carries over. Prints JSON: per class n, median, mean, p10, p90 (ms), and per comparison the
// difference of medians and of means, and the Mann–Whitney U z-score (|z| < 2: not distinguishable at ~5 %).
//
//   npm run bench:signin-oracle            BENCH_ROUNDS=150 (default)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { ManualClock } from "../src/shared/clock.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 150);
const PASSWORD = "violet tractor sings at midnight 93";
const HOME = {
  ip: "133.0.0.10",
  userAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0.0.0",
  deviceId: "pc",
  channel: "web",
};

interface Answer {
  status: number;
  json: { status?: string; signupId?: string; error?: { code?: string } };
  ms: number;
}

/** One Mamori (its own store and clock) answering with the given floor; `floorMs` 0 is the baseline without one. */
async function rig(floorMs: number) {
  const dir = mkdtempSync(path.join(tmpdir(), "mamori-bench-oracle-"));
  const clock = new ManualClock(Date.UTC(2026, 10, 1, 9, 0, 0));
  const config = loadConfig({
    ...process.env,
    MAMORI_DATA_DIR: dir,
    MAMORI_DISPATCHER: "off",
    MAMORI_FAST_HASH: "",
    MAMORI_ANSWER_FLOOR_MS: String(floorMs),
  });
  const app = await buildApp(config, { clock });
  const { key } = await app.admin.createApiKey("bench");
  async function call(url: string, body: unknown): Promise<Answer> {
    const t0 = performance.now();
    const r = await app.http.inject({
      method: "POST",
      url,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      payload: JSON.stringify(body),
    });
    const ms = performance.now() - t0;
    return { status: r.statusCode, json: r.json(), ms };
  }
  async function signUp(email: string) {
    const s = await call("/v1/accounts", { email, password: PASSWORD, context: HOME });
    const [mail] = await app.outbox.listMailbox({ recipient: email, limit: 1 });
    const code = mail?.body.match(/\b(\d{6})\b/)?.[1];
    const c = await call("/v1/accounts/confirm", { signupId: s.json.signupId, code, context: HOME });
    if (c.status !== 201) throw new Error(`sign-up ${c.status} ${JSON.stringify(c.json)}`);
  }
  // A few accounts, each used once per round by each sign-in class (the clock moves a day between rounds).
  await signUp(owner);
  await signUp("taken@example.jp");
  clock.advance(1000);
  return {
    config,
    call,
    clock,
    close: async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const owner = "oracle-owner@example.jp";
const floorMs = loadConfig({ ...process.env, MAMORI_DATA_DIR: tmpdir() }).answerFloorMs;
const rigs = { baseline: await rig(0), floored: await rig(floorMs) };
const config = rigs.floored.config;

const CLASSES = [
  "signin_right_refused",
  "signin_wrong",
  "signin_unknown",
  "reset_known",
  "reset_unknown",
  "signup_taken",
  "signup_free",
] as const;
type Rig = keyof typeof rigs;
const samples = Object.fromEntries(
  (Object.keys(rigs) as Rig[]).map((g) => [g, Object.fromEntries(CLASSES.map((c) => [c, [] as number[]]))]),
) as Record<Rig, Record<(typeof CLASSES)[number], number[]>>;
const abroad = (r: number) => ({
  ip: `8.8.${(r >> 8) & 255}.${r & 255}`,
  userAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
  channel: "web",
});
type Call = (url: string, body: unknown) => Promise<Answer>;
const classes: [(typeof CLASSES)[number], (call: Call, r: number) => Promise<Answer>][] = [
  ["signin_right_refused", (call, r) => call("/v1/sign-in", { email: owner, password: PASSWORD, context: abroad(r) })],
  [
    "signin_wrong",
    (call, r) => call("/v1/sign-in", { email: owner, password: `not it ${r} at all`, context: abroad(r) }),
  ],
  [
    "signin_unknown",
    (call, r) => call("/v1/sign-in", { email: `ghost${r}@example.jp`, password: PASSWORD, context: abroad(r) }),
  ],
  ["reset_known", (call, r) => call("/v1/password/reset-request", { email: owner, context: abroad(r) })],
  [
    "reset_unknown",
    (call, r) => call("/v1/password/reset-request", { email: `ghost${r}@example.jp`, context: abroad(r) }),
  ],
  [
    "signup_taken",
    (call, r) => call("/v1/accounts", { email: "taken@example.jp", password: PASSWORD, context: abroad(r) }),
  ],
  [
    "signup_free",
    (call, r) => call("/v1/accounts", { email: `new${r}@example.jp`, password: PASSWORD, context: abroad(r) }),
  ],
];

// Warm-up: one of each, not counted. Then rounds: every class on both rigs, in a rotating order.
for (const g of Object.keys(rigs) as Rig[]) for (const [, f] of classes) await f(rigs[g].call, 0);
const statuses: Record<string, Record<string, number>> = {};
for (let r = 1; r <= ROUNDS; r++) {
  for (const g of Object.keys(rigs) as Rig[]) rigs[g].clock.advance(25 * 3_600_000);
  for (let i = 0; i < classes.length * 2; i++) {
    const [name, f] = classes[(i + r) % classes.length]!;
    const g: Rig = (i + r) % 2 ? "baseline" : "floored";
    const res = await f(rigs[g].call, r);
    samples[g][name].push(res.ms);
    const k = `${res.status}:${res.json.status ?? res.json.error?.code ?? "ok"}`;
    statuses[name] ??= {};
    statuses[name]![k] = (statuses[name]![k] ?? 0) + 1;
  }
}

const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** Mann–Whitney U, normal approximation with tie correction; z near 0 means the two samples look alike. */
function mannWhitneyZ(a: number[], b: number[]): number {
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const ranks = new Array<number>(all.length);
  let tie = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]!.v === all[i]!.v) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[k] = rank;
    const t = j - i + 1;
    tie += t ** 3 - t;
    i = j + 1;
  }
  let ra = 0;
  for (let i = 0; i < all.length; i++) if (all[i]!.g === 0) ra += ranks[i]!;
  const n1 = a.length;
  const n2 = b.length;
  const u = ra - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tie / (n * (n - 1))));
  return (u - (n1 * n2) / 2) / sd;
}

const summarise = (g: Rig) =>
  Object.fromEntries(
    Object.entries(samples[g]).map(([k, xs]) => [
      k,
      { n: xs.length, medianMs: r3(q(xs, 0.5)), meanMs: r3(mean(xs)), p10Ms: r3(q(xs, 0.1)), p90Ms: r3(q(xs, 0.9)) },
    ]),
  );
const compare = (g: Rig, a: (typeof CLASSES)[number], b: (typeof CLASSES)[number]) => ({
  pair: `${a} vs ${b}`,
  medianDiffMs: r3(q(samples[g][a], 0.5) - q(samples[g][b], 0.5)),
  meanDiffMs: r3(mean(samples[g][a]) - mean(samples[g][b])),
  mannWhitneyZ: r3(mannWhitneyZ(samples[g][a], samples[g][b])),
});
const comparisons = (g: Rig) => [
  compare(g, "signin_right_refused", "signin_wrong"),
  compare(g, "signin_unknown", "signin_wrong"),
  compare(g, "reset_known", "reset_unknown"),
  compare(g, "signup_taken", "signup_free"),
];
process.stdout.write(
  `${JSON.stringify(
    {
      bench: "signin-oracle",
      rounds: ROUNDS,
      argon2: config.argon2,
      node: process.version,
      answerFloorMs: floorMs,
      answers: statuses,
      baseline: { answerFloorMs: 0, summary: summarise("baseline"), comparisons: comparisons("baseline") },
      floored: { answerFloorMs: floorMs, summary: summarise("floored"), comparisons: comparisons("floored") },
    },
    null,
    2,
  )}\n`,
);
await rigs.baseline.close();
await rigs.floored.close();
