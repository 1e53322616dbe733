// bench/risk-row.ts — prints JSON: what a decision's row costs the main thread, per row, over rows a `bench:risk-ab` or
// `bench:risk-http` run left in a store's decision log (their event, reasons and scores parsed back to objects, key
// order as written). Measured by the main thread's CPU (/proc schedstat), each way in turn, three rounds:
// - `stringify`: the row's three JSON strings with JSON.stringify (what assessEvent does);
// - `handWritten`: a serializer written for the event's known shape (flat objects of scalars, as a generated one would
//   be), the event only, against `stringifyEvent` (JSON.stringify of the event alone); checked byte-identical first;
// - `postStrings`: the hand-over as it is, its strings already made (32 rows of 13 values to a worker that drops them);
// - `postObjects`: the alternative of cloning the row's objects to the worker and stringifying there (its main-thread
//   part only).
// Run: BENCH_DIR=<prepared store with a decision log> node --import tsx bench/risk-row.ts   (BENCH_ROWS 20000)
import fs from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";

const dir = process.env.BENCH_DIR;
if (!dir) throw new Error("BENCH_DIR (a store whose decision log has rows) is needed");
const limit = Number(process.env.BENCH_ROWS ?? 20000);
const db = new Database(path.join(dir, "mamori.decisions.sqlite"), { readonly: true });
const stored = db.prepare("select event, reasons, scores from risk_decisions order by random() limit ?").all(limit) as {
  event: string;
  reasons: string;
  scores: string;
}[];
db.close();
const rows = stored.map((r) => ({
  event: JSON.parse(r.event) as Record<string, Record<string, unknown>>,
  reasons: JSON.parse(r.reasons) as unknown,
  scores: JSON.parse(r.scores) as unknown,
}));

const S = JSON.stringify;
/** A flat object of scalars, as JSON.stringify writes it (undefined and functions left out, non-finite numbers null). */
function flat(o: Record<string, unknown>): string {
  let s = "{";
  let first = true;
  for (const k in o) {
    const v = o[k];
    if (v === undefined || typeof v === "function") continue;
    s += `${first ? "" : ","}${S(k)}:${typeof v === "number" ? (Number.isFinite(v) ? `${v}` : "null") : typeof v === "boolean" ? (v ? "true" : "false") : S(v)}`;
    first = false;
  }
  return `${s}}`;
}
const hand = (e: Record<string, Record<string, unknown>>) =>
  `{"event":${S(e.event)},"account":${flat(e.account!)},"session":${S(e.session)},"signals":${flat(e.signals!)},"velocity":${flat(e.velocity!)}}`;
const mismatches = rows.filter((r) => hand(r.event) !== S(r.event)).length;

const mainUs = () => Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]) / 1000;
const worker = new Worker("require('node:worker_threads').parentPort.on('message', () => {})", { eval: true });
const strings = rows.map((r) => ({ event: S(r.event), reasons: S(r.reasons), scores: S(r.scores) }));
const row = (i: number, objects: boolean) => [
  "0193a1b2c3d4e5f60718293a4b5c6d7e",
  "-6935542855485211475",
  "login",
  objects ? rows[i]!.event : strings[i]!.event,
  "allow",
  null,
  0,
  objects ? rows[i]!.reasons : strings[i]!.reasons,
  3,
  null,
  objects ? rows[i]!.scores : strings[i]!.scores,
  1796419749266,
  57,
];
const ways: Record<string, () => void> = {
  stringify: () => {
    for (const r of rows) S(r.event) + S(r.reasons) + S(r.scores);
  },
  stringifyEvent: () => {
    for (const r of rows) S(r.event);
  },
  handWritten: () => {
    for (const r of rows) hand(r.event);
  },
  postStrings: () => {
    for (let i = 0; i + 32 <= rows.length; i += 32) {
      const batch = [];
      for (let j = i; j < i + 32; j++) batch.push(row(j, false));
      worker.postMessage(batch);
    }
  },
  postObjects: () => {
    for (let i = 0; i + 32 <= rows.length; i += 32) {
      const batch = [];
      for (let j = i; j < i + 32; j++) batch.push(row(j, true));
      worker.postMessage(batch);
    }
  },
};
const out: Record<string, number[]> = {};
for (let round = 0; round < 4; round++) {
  for (const [name, run] of Object.entries(ways)) {
    const t0 = mainUs();
    run();
    const us = (mainUs() - t0) / rows.length;
    if (round > 0) {
      out[name] ??= [];
      out[name].push(Number(us.toFixed(2)));
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
await worker.terminate();
process.stdout.write(
  `${JSON.stringify({ rows: rows.length, handWrittenMismatches: mismatches, usPerRow: out }, null, 1)}\n`,
);
