import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { freePort } from "../../src/simulate/harness.ts";

const ROOT = path.join(import.meta.dirname, "..", "..");

// What `npm ci` ships is dist/, built by scripts/build.mjs: an operator's `mamori start`, `mamori migrate` and
// `mamori mail` run that, not the sources. A file the code reads beside itself (the stylesheet, the ASN table, the
// password lists, the decision-log worker) missing from the build, or an import still naming a .ts file, would break
// only there. Builds into a folder of its own beside dist/ (so node_modules and ../package.json resolve as from dist/)
// and runs from it.
describe("the built CLI (dist/)", () => {
  const out = path.join(ROOT, `.dist-test-${randomBytes(4).toString("hex")}`);
  const dataDir = mkdtempSync(path.join(tmpdir(), "mamori-built-"));
  const env = { ...process.env, MAMORI_DATA_DIR: dataDir, MAMORI_FAST_HASH: "1", MAMORI_DATABASE_URL: "" };
  // the built CLI's main, as bin/mamori.js calls it
  const cli = (args: string[]) =>
    [
      "--input-type=module",
      "-e",
      `const { main } = await import(${JSON.stringify(pathToFileURL(path.join(out, "cli.js")).href)});
       const code = await main(${JSON.stringify(args)});
       if (code >= 0) process.exit(code);`,
    ] as string[];
  before(() => {
    const b = spawnSync(process.execPath, [path.join(ROOT, "scripts", "build.mjs"), "--outdir", out], {
      cwd: ROOT,
      encoding: "utf8",
    });
    assert.equal(b.status, 0, b.stderr);
  });
  after(() => {
    rmSync(out, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  const builtFiles = () =>
    readdirSync(out, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith(".js"))
      .map((e) => path.join(e.parentPath, e.name));

  it("imports no TypeScript, and every file a module reads beside itself is there", () => {
    const files = builtFiles();
    assert.ok(files.length > 100);
    for (const f of files) {
      const code = readFileSync(f, "utf8");
      assert.doesNotMatch(code, /(from|import)\s*\(?\s*["']\.{1,2}\/[^"']*\.tsx?["']/, f);
      for (const m of code.matchAll(/new URL\(\s*["'](\.{1,2}\/[^"']*)["'],\s*import\.meta\.url\s*\)/g)) {
        assert.ok(existsSync(path.resolve(path.dirname(f), m[1]!)), `${f} reads ${m[1]}, missing from the build`);
      }
    }
    // the password lists are read from a folder URL (new URL(name, dir)): the names themselves must be there
    assert.ok(existsSync(path.join(out, "identity", "password-lists", "common-passwords.txt.gz")));
    assert.ok(existsSync(path.join(out, "identity", "password-lists", "extra-passwords.txt")));
  });

  it("migrate, mail --json, mail preview and asn-table show run from the build", () => {
    const run = (...args: string[]) => spawnSync(process.execPath, cli(args), { env, cwd: ROOT, encoding: "utf8" });
    const m = run("migrate");
    assert.equal(m.status, 0, m.stderr);
    assert.match(m.stdout, /migrated \(sqlite\)/);
    const mail = run("mail", "--json");
    assert.equal(mail.status, 0, mail.stderr);
    assert.deepEqual(JSON.parse(mail.stdout), []);
    const preview = run("mail", "preview");
    assert.equal(preview.status, 0, preview.stderr);
    assert.ok(preview.stdout.trim().split("\n").length > 3);
    const asn = run("asn-table", "show");
    assert.equal(asn.status, 0, asn.stderr);
    assert.match(asn.stdout, /\d+ ASNs/);
  });

  it("start serves the API description and the stylesheet from the build", async () => {
    const port = await freePort();
    const proc = spawn(process.execPath, cli(["start"]), {
      env: { ...env, MAMORI_PORT: String(port), MAMORI_LOG_LEVEL: "warn" },
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let printed = "";
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`did not start: ${printed}`)), 30_000);
        const onData = (d: Buffer) => {
          printed += d.toString();
          if (printed.includes("listening on")) {
            clearTimeout(timer);
            resolve();
          }
        };
        proc.stdout.on("data", onData);
        proc.stderr.on("data", onData);
        proc.once("exit", (code) => reject(new Error(`exited ${code}: ${printed}`)));
      });
      const api = await fetch(`http://127.0.0.1:${port}/openapi.json`);
      assert.equal(api.status, 200);
      assert.ok(((await api.json()) as { paths: object }).paths);
      const css = readFileSync(path.join(ROOT, "src", "web", "style.css"));
      const name = `/assets/mamori-${createHash("sha256").update(css).digest("hex").slice(0, 12)}.css`;
      const sheet = await fetch(`http://127.0.0.1:${port}${name}`);
      assert.equal(sheet.status, 200);
      assert.equal(Buffer.from(await sheet.arrayBuffer()).compare(css), 0);
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        await new Promise((r) => proc.once("exit", r));
      }
    }
  });
});
