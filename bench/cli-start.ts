// How long a CLI call takes, beside a bare `node -e 1`, in the same run and in interleaved rounds (each round runs every
// command once, so a busy moment hits them all). Builds dist/ first (npm run build), as `npm ci` does. Prints JSON.
// `npm run bench:cli-start`; N rounds (default 15). Target (issue 16): `mamori --help` within 2× `node -e 1`.
//   help / mailHelp:  the help path (dist/, lazy imports: no store, no Fastify)
//   mailJson:          `mamori mail --json` on an empty migrated store (a real command: the whole app is built)
//   helpFromSource:    `mamori --help` through tsx (MAMORI_FROM_SOURCE=1): a checkout without a build
//   baselineHelp:      with BASELINE_BIN=/other/checkout/bin/mamori.js, that one's `--help` (e.g. before this change)
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const N = Number(process.env.N ?? 15);
const root = path.join(import.meta.dirname, "..");
const bin = path.join(root, "bin", "mamori.js");
const dataDir = mkdtempSync(path.join(tmpdir(), "mamori-cli-bench-"));
const env = { ...process.env, MAMORI_DATA_DIR: dataDir, MAMORI_DATABASE_URL: "", MAMORI_REDIS_URL: "" };

function run(args: string[], extraEnv: Record<string, string> = {}): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { env: { ...env, ...extraEnv }, cwd: root, stdio: "ignore" });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${args.join(" ")}: exit ${r.status}`);
  return ms;
}

const build = spawnSync(process.execPath, [path.join(root, "scripts", "build.mjs")], { cwd: root, encoding: "utf8" });
if (build.status !== 0) throw new Error(`build failed: ${build.stderr}`);
run([bin, "migrate"]);

const commands: Record<string, () => number> = {
  nodeBare: () => run(["-e", "1"]),
  help: () => run([bin, "--help"]),
  mailHelp: () => run([bin, "mail", "--help"]),
  mailJson: () => run([bin, "mail", "--json"]),
  helpFromSource: () => run([bin, "--help"], { MAMORI_FROM_SOURCE: "1" }),
};
const baseline = process.env.BASELINE_BIN;
if (baseline) commands.baselineHelp = () => run([baseline, "--help"]);
const samples: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
for (const fn of Object.values(commands)) fn(); // warm the file cache and tsx's compile cache out of the figures
for (let i = 0; i < N; i++) for (const [k, fn] of Object.entries(commands)) samples[k]!.push(fn());
rmSync(dataDir, { recursive: true, force: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, Number(median(v).toFixed(1))]));
console.log(
  JSON.stringify(
    {
      bench: "cli-start",
      node: process.version,
      rounds: N,
      ...(baseline ? { baselineBin: baseline } : {}),
      build: build.stdout.trim(),
      medianMs: ms,
      helpOverNode: Number((ms.help! / ms.nodeBare!).toFixed(2)),
      mailHelpOverNode: Number((ms.mailHelp! / ms.nodeBare!).toFixed(2)),
      targetHelpOverNode: 2,
    },
    null,
    2,
  ),
);
