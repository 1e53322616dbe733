#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx (installed as a dependency), so `npm ci && npm start` needs no build.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli.ts");
const code = await main(process.argv.slice(2));
if (code >= 0) process.exit(code);
