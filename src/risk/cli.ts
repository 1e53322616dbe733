import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { fitAtoModel } from "./ato-fit.ts";
import { backtestCsvFile, DEFAULT_FPRS, formatSummary, readLabels, readLoginCsv } from "./backtest.ts";
import { generateLogins, writeCsv } from "./generate.ts";
import { RISK_HELP } from "./help.ts";
import { type CompiledPolicySet, compilePolicySet, PolicyError } from "./policy.ts";
import { backtestStoredDecisions, formatReplaySummary, REPLAY_CSV_HEADER, replayCsvLine } from "./replay.ts";

function positiveInt(v: string | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

function isoTime(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (!Number.isFinite(t))
    throw new Error(`--${name} must be an ISO date or date-time, like 2026-11-01 or 2026-11-01T09:00:00Z`);
  return t;
}

/**
 * `mamori backtest --policy`: reads the candidate set (validated as putPolicySet validates it: exit 2 with the
 * problems when it does not compile), then replays the stored decisions of the store in MAMORI_DATA_DIR or
 * MAMORI_DATABASE_URL. Opens the store read-only in effect: no migration, no engine, no live counters.
 */
async function backtestPolicy(
  file: string,
  opts: { since?: string; until?: string; out?: string },
  out: (s: string) => void,
  err: (s: string) => void,
): Promise<number> {
  const since = isoTime(opts.since, "since");
  const until = isoTime(opts.until, "until");
  let source: unknown;
  try {
    source = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    err(`policy ${file}: ${(e as Error).message}`);
    return 2;
  }
  let set: CompiledPolicySet;
  try {
    set = compilePolicySet(source, 0);
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    err(`policy ${file} is invalid:`);
    for (const p of e.problems) err(`  ${p.path || "(set)"}: ${p.message}`);
    return 2;
  }
  const { loadConfig } = await import("../config.ts");
  const { openStore } = await import("../store.ts");
  const config = loadConfig();
  if (!config.databaseUrl && !fs.existsSync(path.join(config.dataDir, "mamori.sqlite"))) {
    throw new Error(`no store in ${config.dataDir} (set MAMORI_DATA_DIR or MAMORI_DATABASE_URL)`);
  }
  const database = openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const csv = opts.out ? fs.createWriteStream(opts.out) : null;
  try {
    csv?.write(`${REPLAY_CSV_HEADER}\n`);
    const summary = await backtestStoredDecisions(database.db, set, {
      ...(database.attachedDb ? { decisionsDb: database.attachedDb } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
      ...(csv
        ? {
            onRow: async (r) => {
              if (!csv.write(`${replayCsvLine(r)}\n`))
                await new Promise<void>((resolve) => csv.once("drain", () => resolve()));
            },
          }
        : {}),
    });
    out(formatReplaySummary(summary));
    if (opts.out) out(`per-decision replay: ${opts.out}`);
    return 0;
  } finally {
    if (csv) await new Promise<void>((resolve, reject) => csv.end((e?: Error | null) => (e ? reject(e) : resolve())));
    await database.close();
  }
}

/** The risk module's commands. The generator and the CSV backtest need no store; `backtest --policy` reads one. */
export async function riskCli(
  argv: string[],
  out: (s: string) => void,
  err: (s: string) => void = (s) => process.stderr.write(`${s}\n`),
): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      users: { type: "string" },
      days: { type: "string" },
      seed: { type: "string" },
      attacked: { type: "string" },
      out: { type: "string" },
      csv: { type: "string" },
      fpr: { type: "string" },
      "oracle-history": { type: "boolean" },
      labels: { type: "string" },
      "stuffing-attempts": { type: "string" },
      "max-legit-rate": { type: "string" },
      "without-device-ids": { type: "boolean" },
      policy: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
    },
  });
  const [cmd, sub] = positionals;
  if (cmd === "gen" && sub === "logins") {
    const rows = generateLogins({
      users: positiveInt(values.users, 1000, "users"),
      days: positiveInt(values.days, 30, "days"),
      seed: positiveInt(values.seed, 1, "seed"),
      attackedShare: values.attacked === undefined ? undefined : Number(values.attacked),
      ...(values["stuffing-attempts"] === undefined
        ? {}
        : { stuffingAttempts: positiveInt(values["stuffing-attempts"], 0, "stuffing-attempts") }),
    });
    if (values.labels) {
      // Row numbers as the backtest counts them: data rows from 0, in the CSV's order.
      fs.writeFileSync(
        values.labels,
        `row,attacker,pool\n${rows.map((r, i) => `${i},${r.attacker ?? ""},${r.pool ?? ""}`).join("\n")}\n`,
      );
    }
    const stream = values.out ? fs.createWriteStream(values.out) : process.stdout;
    await writeCsv(rows, stream);
    if (values.out) {
      await new Promise<void>((resolve, reject) =>
        (stream as fs.WriteStream).end((e?: Error | null) => (e ? reject(e) : resolve())),
      );
      const takeovers = rows.filter((r) => r.takeover).length;
      out(`wrote ${rows.length} logins (${takeovers} account takeovers) to ${values.out}`);
    }
    return 0;
  }
  if (cmd === "backtest" && values.policy !== undefined) {
    if (values.csv) {
      err("--policy replays stored decisions, --csv a login CSV: use one");
      return 2;
    }
    return backtestPolicy(values.policy, { since: values.since, until: values.until, out: values.out }, out, err);
  }
  if (cmd === "backtest") {
    if (!values.csv) {
      out(RISK_HELP);
      return 2;
    }
    const fprs = values.fpr ? values.fpr.split(",").map(Number) : DEFAULT_FPRS;
    if (fprs.some((f) => !(f > 0 && f < 1))) throw new Error("--fpr takes rates between 0 and 1");
    const summary = await backtestCsvFile(values.csv, values.out, {
      fprs,
      oracleHistory: values["oracle-history"] ?? false,
      ...(values.labels ? { labels: await readLabels(values.labels) } : {}),
    });
    out(formatSummary(summary));
    if (values.out) out(`per-row scores and decisions: ${values.out}`);
    return 0;
  }
  if (cmd === "fit" && sub === "logins") {
    if (!values.csv) {
      out(RISK_HELP);
      return 2;
    }
    const rate = values["max-legit-rate"] === undefined ? 0.02 : Number(values["max-legit-rate"]);
    if (!(rate > 0 && rate < 1)) throw new Error("--max-legit-rate takes a rate between 0 and 1");
    const noDevice = values["without-device-ids"] === true;
    const model = await fitAtoModel(
      readLoginCsv(fs.createReadStream(values.csv, { encoding: "utf8", highWaterMark: 1 << 20 })),
      `mamori fit logins --csv ${path.basename(values.csv)} --max-legit-rate ${rate}${noDevice ? " --without-device-ids" : ""}`,
      { maxLegitChallengeRate: rate, withoutDeviceIds: noDevice },
    );
    out(JSON.stringify(model, null, 2));
    return 0;
  }
  out(RISK_HELP);
  return 2;
}
