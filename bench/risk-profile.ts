// Where a whole login decision spends its time: CPU profile of risk.assessEvent over the benchmark's store (1M logins,
// 100 rules), taken with node:inspector around the decision loop only (not the data generation or the app start).
// Run: node --import tsx bench/risk-profile.ts   (BENCH_DIR to keep/reuse the prepared store, default a fixed tmp dir;
// BENCH_USERS 24000, BENCH_DAYS 50, BENCH_N 20000, BENCH_ROUNDS 3). Prints the top functions by self time as JSON
// and writes the .cpuprofile next to the store.
import fs from "node:fs";
import { Session } from "node:inspector/promises";
import os from "node:os";
import path from "node:path";
import { buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { deviceOf, prepareBenchStore } from "./risk-data.ts";

const dataDir = process.env.BENCH_DIR ?? path.join(os.tmpdir(), "mamori-risk-profile");
const data = await prepareBenchStore({
  dataDir,
  users: Number(process.env.BENCH_USERS ?? 24_000),
  days: Number(process.env.BENCH_DAYS ?? 50),
  n: Number(process.env.BENCH_N ?? 20_000),
  reuse: true,
});
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const app = await buildApp(loadConfig({ ...process.env, MAMORI_DATA_DIR: dataDir, MAMORI_DISPATCHER: "off" }));
const q = data.queries;
const contexts = q.map((r) => ({ ip: r.ip, userAgent: r.userAgent, deviceId: deviceOf(r), channel: "web" as const }));
const once = (i: number) =>
  app.risk.assessEvent({ type: "login", accountId: q[i % q.length]!.userId, context: contexts[i % q.length]! });
for (let i = 0; i < 3000; i++) await once(i);

const session = new Session();
session.connect();
await session.post("Profiler.enable");
await session.post("Profiler.setSamplingInterval", { interval: 50 });
await session.post("Profiler.start");
const t0 = performance.now();
const total = q.length * rounds;
for (let i = 0; i < total; i++) await once(i);
const ms = performance.now() - t0;
const { profile } = (await session.post("Profiler.stop")) as {
  profile: {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
    samples: number[];
    timeDeltas: number[];
  };
};
fs.writeFileSync(path.join(dataDir, "assess.cpuprofile"), JSON.stringify(profile));
await app.close();

// Self time per function (file:line), from the sample counts.
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
for (const id of profile.samples) {
  const n = byId.get(id)!;
  const f = n.callFrame;
  const file = f.url.replace(/^.*\/node_modules\//, "").replace(/^file:\/\/.*\/main\//, "");
  const key = `${f.functionName || "(anon)"} ${file}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + 1);
}
const byFile = new Map<string, number>();
for (const [k, v] of self) {
  const file = k.split(" ")[1]!.replace(/:\d+$/, "");
  const pkg =
    file.includes("/") && !file.startsWith("src/")
      ? file
          .split("/")
          .slice(0, file.startsWith("@") ? 2 : 1)
          .join("/")
      : file;
  byFile.set(pkg, (byFile.get(pkg) ?? 0) + v);
}
const n = profile.samples.length;
const top = (m: Map<string, number>, k: number) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([name, c]) => `${((100 * c) / n).toFixed(1).padStart(5)} %  ${name}`);
console.log(
  JSON.stringify(
    {
      decisions: total,
      decisionsPerSec: Math.round(total / (ms / 1000)),
      usPerDecision: Number(((ms * 1000) / total).toFixed(1)),
      byFileOrPackage: top(byFile, 25),
      byFunction: top(self, 40),
    },
    null,
    2,
  ),
);
