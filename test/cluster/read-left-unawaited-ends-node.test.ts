import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import ts from "typescript";

// A PostgreSQL restart under load ended a node (CI, 2026-12-05): a decision started two reads at once, awaited the
// first, and when both failed the second's rejection had no handler yet — an unhandled rejection ends a Node process.
// The class of fault is visible in the code: a promise held in a variable while its function awaits something else
// first. This reads src/ with the TypeScript checker and names every such promise that is not handled (used: `.catch`,
// `Promise.all`, …) before that other await. Promises that cannot reject (`Promise.resolve(x)`, `new Promise`) pass.
const ROOT = path.resolve(import.meta.dirname, "../..");

function heldAcrossAwait(): string[] {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    path.join(ROOT, "tsconfig.json"),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
      },
    },
  );
  if (!parsed) throw new Error("tsconfig.json could not be read");
  const src = `${path.join(ROOT, "src")}${path.sep}`;
  const files = parsed.fileNames.filter((f) => f.startsWith(src) && !/\.test\.tsx?$/.test(f));
  const program = ts.createProgram(files, { ...parsed.options, noEmit: true });
  const checker = program.getTypeChecker();
  const found: string[] = [];
  const enclosing = (n: ts.Node): ts.Node | undefined => {
    let p = n.parent;
    while (p && !ts.isFunctionLike(p)) p = p.parent;
    return p;
  };
  const mentions = (n: ts.Node, name: string): boolean =>
    (ts.isIdentifier(n) && n.text === name) || (ts.forEachChild(n, (c) => mentions(c, name) || undefined) ?? false);
  const cannotReject = (e: ts.Expression): boolean =>
    ts.isNewExpression(e) ||
    (ts.isCallExpression(e) && e.expression.getText() === "Promise.resolve") ||
    (ts.isConditionalExpression(e) && cannotReject(e.whenTrue) && cannotReject(e.whenFalse));
  const isPromise = (t: ts.Type): boolean =>
    t.isUnion() ? t.types.every(isPromise) : t.getSymbol()?.getName() === "Promise";
  for (const sf of program.getSourceFiles()) {
    if (!files.includes(sf.fileName)) continue;
    const visit = (node: ts.Node) => {
      if (
        ts.isVariableDeclaration(node) &&
        ts.isIdentifier(node.name) &&
        node.initializer &&
        !ts.isAwaitExpression(node.initializer) &&
        !cannotReject(node.initializer) &&
        isPromise(checker.getTypeAtLocation(node.initializer))
      ) {
        const fn = enclosing(node);
        const name = node.name.text;
        let firstUse = Number.POSITIVE_INFINITY;
        let firstAwait = Number.POSITIVE_INFINITY;
        const walk = (n: ts.Node) => {
          if (n.getStart(sf) > node.end) {
            if (ts.isIdentifier(n) && n.text === name) firstUse = Math.min(firstUse, n.getStart(sf));
            // Only this function's own awaits (a callback's run when the callback does); `await p` is a use of p.
            if (ts.isAwaitExpression(n) && enclosing(n) === fn) {
              if (mentions(n.expression, name)) firstUse = Math.min(firstUse, n.getStart(sf));
              else firstAwait = Math.min(firstAwait, n.getStart(sf));
            }
          }
          ts.forEachChild(n, walk);
        };
        if (fn) ts.forEachChild(fn, walk);
        // A module-level promise is held across every request's awaits: it must be handled where it is made.
        if (firstAwait < firstUse || (!fn && firstUse === Number.POSITIVE_INFINITY)) {
          const { line } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
          found.push(`${path.relative(ROOT, sf.fileName)}:${line + 1} ${name}`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return found;
}

describe("read-left-unawaited-ends-node", () => {
  it("no promise in src/ is held unhandled while its function awaits something else", { timeout: 120_000 }, () => {
    assert.deepEqual(heldAcrossAwait(), [], "handle it at once (`p.catch(() => {})`, as risk/service.ts does)");
  });
});
