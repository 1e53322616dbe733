import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, it } from "node:test";

const ROOT = path.join(import.meta.dirname, "..", "..", "..");

// A store compiles against @mamori/client's types: if the API changed and the generated files did not, the store's
// code type-checks against an API that no longer exists. `npm run gen:client` regenerates them.
describe("@mamori/client's generated files", () => {
  it("match the API an in-process Mamori describes (schema and error catalog)", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/gen-client.ts", "--check"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr + r.stdout);
  });
});
