#!/usr/bin/env node
// Runs the plain JavaScript that `npm ci` built into dist/ (scripts/build.mjs, the `prepare` script): no TypeScript is
// compiled per call. A checkout without a build — or whose src/ changed since the build (a file or folder newer than
// dist/.built: an edit, a pull, a deleted file) — runs the sources through tsx instead (a dependency), slower to start
// but never stale. MAMORI_FROM_SOURCE=1 forces the sources.
import { readdirSync, statSync } from "node:fs";
import path from "node:path";

const root = path.join(import.meta.dirname, "..");

function builtAndFresh() {
  if (process.env.MAMORI_FROM_SOURCE === "1") return false;
  let built;
  try {
    built = statSync(path.join(root, "dist", ".built")).mtimeMs;
  } catch {
    return false;
  }
  const src = path.join(root, "src");
  if (statSync(src).mtimeMs > built) return false;
  for (const e of readdirSync(src, { recursive: true })) {
    if (statSync(path.join(src, e)).mtimeMs > built) return false;
  }
  return true;
}

let main;
if (builtAndFresh()) {
  ({ main } = await import("../dist/cli.js"));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../src/cli.ts"));
}
const code = await main(process.argv.slice(2));
if (code >= 0) process.exit(code);
