// `npm run lint:spec`: writes the OpenAPI document an in-process app serves at /openapi.json (embedded store in memory,
// nothing listening) to a temporary file and lints it with Redocly's recommended rules: any error or warning fails.
// `--out FILE` keeps the document instead of a temporary one.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { makeTestApp } from "../src/testing/app.ts";
import { testStores } from "../src/testing/stores.ts";

const outAt = process.argv.indexOf("--out");
const dir = mkdtempSync(path.join(tmpdir(), "mamori-spec-"));
const file = outAt > 0 ? path.resolve(process.argv[outAt + 1] ?? "openapi.json") : path.join(dir, "openapi.json");
let status = 1;

interface Problem {
  ruleId: string;
  severity: string;
  message: string;
  location: { pointer?: string }[];
}
try {
  const t = await makeTestApp(testStores[0]);
  try {
    const r = await t.app.http.inject({ method: "GET", url: "/openapi.json" });
    if (r.statusCode !== 200) throw new Error(`/openapi.json answered ${r.statusCode}`);
    writeFileSync(file, JSON.stringify(r.json(), null, 2));
  } finally {
    await t.close();
  }
  const cli = createRequire(import.meta.url).resolve("@redocly/cli/bin/cli.js");
  // JSON output, so that a warning fails the step too (Redocly's own exit status counts errors only).
  const lint = spawnSync(process.execPath, [cli, "lint", "--extends=recommended", "--format=json", file], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    // Redocly would otherwise send usage data and check for updates on every CI run.
    env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
  });
  let report: { totals: { errors: number; warnings: number }; problems: Problem[] };
  try {
    report = JSON.parse(lint.stdout);
  } catch {
    process.stderr.write(lint.stdout + lint.stderr);
    throw new Error(`redocly lint gave no report (exit ${lint.status})`);
  }
  for (const p of report.problems) {
    const where = p.location[0]?.pointer ?? "";
    console.log(`${p.severity.padEnd(7)} ${p.ruleId.padEnd(28)} ${where}  ${p.message}`);
  }
  const { errors, warnings } = report.totals;
  console.log(
    `redocly lint (recommended) on ${outAt > 0 ? file : "/openapi.json"}: ${errors} errors, ${warnings} warnings`,
  );
  status = errors + warnings === 0 ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(status);
