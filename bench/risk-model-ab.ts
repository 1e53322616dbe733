// bench/risk-model-ab.ts — prints JSON: the sign-in's Freeman score and takeover-model part of a decision (what
// service.ts `gather` runs for a login: quickScore, atoVector, shippedModelFor, scoreAto) of two builds in ONE
// process, over histories built from the same generated sign-ins: this checkout's ato-model.ts and rba.ts (B) and a
// baseline checkout's (A, BENCH_BASE). Blocks of 1,000 sign-ins alternate A B B A …, each timed by the main thread's CPU
// (/proc); sharing one process and one heap, the two see the same machine far more alike than two processes do, so a
// few per cent show. Every score of B must equal A's (checked; it throws otherwise).
// Run: BENCH_BASE=<checkout of the baseline> node --import tsx bench/risk-model-ab.ts
//   (BENCH_USERS 24000, BENCH_DAYS 50: the bench:risk-http data set; BENCH_ROUNDS 5)
import path from "node:path";
import { pathToFileURL } from "node:url";
import * as atoB from "../src/risk/ato-model.ts";
import { generateLogins } from "../src/risk/generate.ts";
import * as rbaB from "../src/risk/rba.ts";
import { deviceOf } from "./risk-data.ts";
import { threadCpuNs } from "./thread-cpu.ts";

const base = process.env.BENCH_BASE;
if (!base) throw new Error("BENCH_BASE (a checkout of the baseline) is needed");
const atoA = (await import(pathToFileURL(path.join(base, "src/risk/ato-model.ts")).href)) as typeof atoB;
const rbaA = (await import(pathToFileURL(path.join(base, "src/risk/rba.ts")).href)) as typeof rbaB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BLOCK = 1000;

const rows = generateLogins({
  users: Number(process.env.BENCH_USERS ?? 24_000),
  days: Number(process.env.BENCH_DAYS ?? 50),
  seed: 1,
}).map((r) => ({ ...r, deviceId: deviceOf(r), channel: "web" }));
const split = rows.length - 20_000;
const build = (m: { ato: typeof atoB; rba: typeof rbaB }) => {
  const rba = new m.rba.RbaHistory();
  const history = new m.ato.AtoHistory();
  for (let i = 0; i < split; i++) {
    const r = rows[i]!;
    if (!r.success) continue;
    rba.add(r);
    history.add(r, r.at);
  }
  return { rba, history };
};
const A = { m: atoA, ...build({ ato: atoA, rba: rbaA }) };
const B = { m: atoB, ...build({ ato: atoB, rba: rbaB }) };
const queries = rows.slice(split);
const previous = queries.map((r) => A.history.previous(r.userId));
const source = { failedLogins: 0, distinctAccounts: 0 };

const decideA = (i: number) => {
  const login = queries[i]!;
  const s = A.rba.quickScore(login).score;
  const x = A.m.atoVector({ login, at: login.at, rba: A.rba, history: A.history, previous: previous[i]!, source });
  return x ? A.m.scoreAto(x, A.m.shippedModelFor(A.history, login)).score + s : s;
};
const decideB = (i: number) => {
  const login = queries[i]!;
  const s = B.rba.quickScore(login).score;
  const account = B.history.account(login.userId);
  const x = B.m.atoVector({
    login,
    at: login.at,
    rba: B.rba,
    history: B.history,
    account: account ?? null,
    previous: previous[i]!,
    source,
  });
  return x ? B.m.scoreAto(x, B.m.shippedModelFor(B.history, login, account)).score + s : s;
};
for (let i = 0; i < queries.length; i++) {
  const a = decideA(i);
  const b = decideB(i);
  if (!Object.is(a, b)) throw new Error(`sign-in ${i}: A ${a}, B ${b}`);
}

const cpu = () => threadCpuNs(process.pid).get(process.pid) ?? 0;
const spent = { A: 0, B: 0 };
const rounds: { A: number; B: number; ratio: number }[] = [];
let sink = 0;
for (let round = 0; round < ROUNDS; round++) {
  const r = { A: 0, B: 0 };
  for (let from = 0, k = 0; from < queries.length; from += BLOCK, k++) {
    const order = k % 2 === 0 ? (["A", "B"] as const) : (["B", "A"] as const);
    for (const which of order) {
      const f = which === "A" ? decideA : decideB;
      const t = cpu();
      for (let i = from; i < Math.min(from + BLOCK, queries.length); i++) sink += f(i) > 1 ? 1 : 0;
      r[which] += cpu() - t;
    }
  }
  spent.A += r.A;
  spent.B += r.B;
  const us = (ns: number) => Number((ns / 1e3 / queries.length).toFixed(2));
  rounds.push({ A: us(r.A), B: us(r.B), ratio: Number((r.B / r.A).toFixed(3)) });
  process.stderr.write(`${JSON.stringify(rounds[rounds.length - 1])}\n`);
}
const us = (ns: number) => Number((ns / 1e3 / queries.length / ROUNDS).toFixed(2));
console.log(
  JSON.stringify(
    {
      base,
      signIns: queries.length,
      accounts: A.rba.userCount,
      history: A.rba.size,
      sameScores: true,
      rounds,
      usPerSignIn: { A: us(spent.A), B: us(spent.B) },
      ratioBtoA: Number((spent.B / spent.A).toFixed(3)),
      sink,
    },
    null,
    2,
  ),
);
