import fs from "node:fs";
import { parseArgs } from "node:util";
import { backtestCsvFile, DEFAULT_FPRS, formatSummary } from "./backtest.ts";
import { generateLogins, writeCsv } from "./generate.ts";

export const RISK_HELP = `  mamori gen logins [--users N] [--days D] [--seed S] [--attacked SHARE] [--out file.csv]
                                    write synthetic logins in the RBA data set's CSV layout (stdout without --out)
  mamori backtest --csv FILE [--out scores.csv] [--fpr 0.001,0.01,0.05,0.1] [--history-includes-takeovers]
                                    replay a login CSV through the RBA model; print TPR at fixed FPRs`;

function positiveInt(v: string | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

/** The risk module's offline commands; they need no store, so they run before the CLI opens one. */
export async function riskCli(argv: string[], out: (s: string) => void): Promise<number> {
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
      "history-includes-takeovers": { type: "boolean" },
    },
  });
  const [cmd, sub] = positionals;
  if (cmd === "gen" && sub === "logins") {
    const rows = generateLogins({
      users: positiveInt(values.users, 1000, "users"),
      days: positiveInt(values.days, 30, "days"),
      seed: positiveInt(values.seed, 1, "seed"),
      attackedShare: values.attacked === undefined ? undefined : Number(values.attacked),
    });
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
  if (cmd === "backtest") {
    if (!values.csv) {
      out(RISK_HELP);
      return 2;
    }
    const fprs = values.fpr ? values.fpr.split(",").map(Number) : DEFAULT_FPRS;
    if (fprs.some((f) => !(f > 0 && f < 1))) throw new Error("--fpr takes rates between 0 and 1");
    const summary = await backtestCsvFile(values.csv, values.out, {
      fprs,
      historyIncludesTakeovers: values["history-includes-takeovers"] ?? false,
    });
    out(formatSummary(summary));
    if (values.out) out(`per-row scores and decisions: ${values.out}`);
    return 0;
  }
  out(RISK_HELP);
  return 2;
}
