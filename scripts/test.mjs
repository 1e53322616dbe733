// Runs every *.test.ts(x) under src/, test/ and packages/, and the real-browser tests (*.e2e.ts, test/e2e/), with
// node's test runner (Node 20 has no --test globs). The browser tests skip themselves, saying why, where Chromium is missing.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

function find(dir, out) {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== "node_modules" && e.name !== "dist") find(p, out);
    } else if (/\.(test\.tsx?|e2e\.ts)$/.test(e.name)) out.push(p);
  }
  return out;
}

const filter = process.argv.slice(2);
// packages/: the npm workspaces (@mamori/client), tested with the service
let files = [...find("src", []), ...find("test", []), ...find("packages", [])].sort();
if (filter.length) files = files.filter((f) => filter.some((x) => f.includes(x)));
const r = spawnSync(
  process.execPath,
  [
    "--import",
    "tsx",
    "--conditions=@mamori/source",
    "--test",
    "--test-concurrency=2",
    "--test-reporter=spec",
    ...files,
  ],
  { stdio: "inherit", env: { MAMORI_FAST_HASH: "1", ...process.env } },
);
process.exit(r.status ?? 1);
