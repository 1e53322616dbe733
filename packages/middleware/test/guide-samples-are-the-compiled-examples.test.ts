import assert from "node:assert/strict";
import fs from "node:fs";
import { describe, it } from "node:test";

// docs/integration.md and the README's SDK snippet promise samples that compile: each line of their TypeScript blocks
// must be a line of the examples, which tsconfig.json type-checks (packages/middleware/examples). A sample edited in
// the doc alone, or an example changed without its doc, fails here.
const root = new URL("../../../", import.meta.url);
const read = (p: string) => fs.readFileSync(new URL(p, root), "utf8");
const examples = fs
  .readdirSync(new URL("packages/middleware/examples/", root))
  .filter((f) => f.endsWith(".ts"))
  .map((f) => read(`packages/middleware/examples/${f}`))
  .join("\n");
const exampleLines = new Set(examples.split("\n").map((l) => l.trim()));

function tsBlocks(md: string): string[] {
  return [...md.matchAll(/```ts\n([\s\S]*?)\n```/g)].map((m) => m[1] ?? "");
}

function missing(block: string): string[] {
  return block
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("// …"))
    .filter((l) => !exampleLines.has(l));
}

describe("the integration guide's samples are the compiled examples", () => {
  for (const doc of ["docs/integration.md", "README.md"]) {
    it(`${doc}: every line of every ts block is in packages/middleware/examples`, () => {
      const blocks = tsBlocks(read(doc));
      if (doc === "docs/integration.md") assert.ok(blocks.length >= 10, `only ${blocks.length} ts blocks`);
      for (const b of blocks) assert.deepEqual(missing(b), [], `not in the examples:\n${b}`);
    });
  }
});
