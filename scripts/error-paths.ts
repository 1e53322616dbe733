// `node --import tsx scripts/error-paths.ts`: for each operation, the error codes reachable from its route handler
// through the call graph (TypeScript's checker; a call on a dependency typed by an interface falls back on every
// implementation with that method name, so the set errs on the side of too many), beside the codes the OpenAPI
// document declares for it. This is how the routes' `errors(…)` lists were first derived (issue 16); run it after
// changing a service to see what a route may now also raise. Codes only the framework gives (413, 415, …) are added
// per kind of route in src/api/openapi.ts and are left out here.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { makeTestApp } from "../src/testing/app.ts";
import { testStores } from "../src/testing/stores.ts";

const root = path.resolve(import.meta.dirname, "..");
const src = `${root}/src/`;
const config = ts.getParsedCommandLineOfConfigFile(
  path.join(root, "tsconfig.json"),
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: () => {},
  },
);
if (!config) throw new Error("tsconfig.json unreadable");
const program = ts.createProgram(
  config.fileNames.filter((f) => f.startsWith(src) && !f.includes(".test.")),
  config.options,
);
const checker = program.getTypeChecker();

// The catalogs' codes, read from each module's errors.ts.
const codes = new Set<string>();
for (const dir of readdirSync(src)) {
  let text = "";
  try {
    text = readFileSync(`${src}${dir}/errors.ts`, "utf8");
  } catch {
    continue;
  }
  for (const m of text.matchAll(/^\s+(\w+):\s*\{\s*\n?\s*status:\s*\d+/gm)) codes.add(m[1] as string);
}

const isFunction = (n: ts.Node) =>
  ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n) || ts.isArrowFunction(n) || ts.isFunctionExpression(n);
const byName = new Map<string, ts.Node[]>();
for (const sf of program.getSourceFiles()) {
  if (!sf.fileName.startsWith(src)) continue;
  const visit = (n: ts.Node) => {
    let name: string | undefined;
    if ((ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n)) && n.name) name = n.name.getText(sf);
    if (ts.isPropertyAssignment(n) && isFunction(n.initializer)) name = n.name.getText(sf);
    if (ts.isVariableDeclaration(n) && n.initializer && isFunction(n.initializer)) name = n.name.getText(sf);
    if (name) byName.set(name, [...(byName.get(name) ?? []), n]);
    ts.forEachChild(n, visit);
  };
  visit(sf);
}

// Method names too common to follow by name alone.
const TOO_COMMON = new Set(
  "get set has map filter push then execute executeTakeFirst now resolve add delete find some every join slice parse stringify from keys values entries includes transaction send status header log info warn error sort forEach test replace split trim catch finally all call apply bind emit close start stop run append check".split(
    " ",
  ),
);

function callees(call: ts.CallExpression): ts.Node[] {
  const callee = call.expression;
  const at = ts.isPropertyAccessExpression(callee) ? callee.name : callee;
  let symbol = checker.getSymbolAtLocation(at);
  if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
  const decls = (symbol?.declarations ?? []).filter(
    (d) => d.getSourceFile().fileName.startsWith(src) && !ts.isMethodSignature(d) && !ts.isPropertySignature(d),
  );
  if (decls.length) return decls;
  const name = ts.isIdentifier(at) ? at.text : "";
  return name && !TOO_COMMON.has(name) ? (byName.get(name) ?? []) : [];
}

const direct = new Map<ts.Node, { codes: Set<string>; calls: Set<ts.Node> }>();
function scan(n: ts.Node) {
  let d = direct.get(n);
  if (d) return d;
  d = { codes: new Set(), calls: new Set() };
  direct.set(n, d);
  const found = d;
  const visit = (x: ts.Node) => {
    if (ts.isPropertyAccessExpression(x) && /Errors$/.test(x.expression.getText()) && codes.has(x.name.text))
      found.codes.add(x.name.text);
    if (ts.isCallExpression(x)) for (const c of callees(x)) found.calls.add(c);
    ts.forEachChild(x, visit);
  };
  visit(n);
  return d;
}

function reachable(start: ts.Node): Set<string> {
  const out = new Set<string>();
  const seen = new Set([start]);
  const queue = [start];
  for (let n = queue.pop(); n; n = queue.pop()) {
    const d = scan(n);
    for (const c of d.codes) out.add(c);
    for (const m of d.calls) if (!seen.has(m)) seen.add(m) && queue.push(m);
  }
  return out;
}

const found = new Map<string, Set<string>>();
for (const sf of program.getSourceFiles()) {
  if (!sf.fileName.startsWith(src) || !/routes\.ts$/.test(sf.fileName)) continue;
  const visit = (n: ts.Node) => {
    if (
      ts.isCallExpression(n) &&
      ts.isPropertyAccessExpression(n.expression) &&
      ["get", "post", "put", "patch", "delete"].includes(n.expression.name.text) &&
      n.arguments.length >= 3
    ) {
      const id = n.arguments[1]?.getText(sf).match(/operationId:\s*"(\w+)"/)?.[1];
      const handler = n.arguments[n.arguments.length - 1];
      if (id && handler) found.set(id, reachable(handler));
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
}

const t = await makeTestApp(testStores[0]);
const doc = (await t.app.http.inject({ method: "GET", url: "/openapi.json" })).json();
await t.close();
type Op = { operationId: string; responses: Record<string, { content?: Record<string, { examples?: object }> }> };
for (const methods of Object.values(doc.paths as Record<string, Record<string, Op>>)) {
  for (const op of Object.values(methods)) {
    const declared = new Set(
      Object.values(op.responses).flatMap((r) => Object.keys(r.content?.["application/json"]?.examples ?? {})),
    );
    const reach = found.get(op.operationId);
    if (!reach) {
      console.log(`${op.operationId.padEnd(30)} (handler not analysed: declared ${[...declared].sort().join(" ")})`);
      continue;
    }
    const more = [...reach].filter((c) => !declared.has(c)).sort();
    const fewer = [...declared].filter((c) => !reach.has(c)).sort();
    console.log(
      `${op.operationId.padEnd(30)} reachable ${[...reach].sort().join(" ") || "—"}` +
        (more.length ? `\n${"".padEnd(30)} not declared: ${more.join(" ")}` : "") +
        (fewer.length ? `\n${"".padEnd(30)} declared, not reached: ${fewer.join(" ")}` : ""),
    );
  }
}
