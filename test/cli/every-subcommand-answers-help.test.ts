import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";

const BIN = path.join(import.meta.dirname, "..", "..", "bin", "mamori.js");

// An operator asks a command what it does before running it: `--help` must answer, exit 0, and do nothing else — no
// store created or migrated (not even ./mamori-data in the working directory), no server, no secret, no mail.
describe("mamori <command> --help", () => {
  const cwd = mkdtempSync(path.join(tmpdir(), "mamori-help-"));
  after(() => rmSync(cwd, { recursive: true, force: true }));
  // No store setting: a command that opened its store would create ./mamori-data in cwd.
  const env: NodeJS.ProcessEnv = { ...process.env, MAMORI_DATABASE_URL: "", MAMORI_REDIS_URL: "", MAMORI_SMTP_URL: "" };
  delete env.MAMORI_DATA_DIR;
  const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { env, cwd, encoding: "utf8" });

  const cases: [args: string[], says: RegExp][] = [
    [["start", "--help"], /mamori start\s/],
    [["migrate", "--help"], /mamori migrate\s/],
    [["keys", "--help"], /mamori keys create/],
    [["keys", "create", "shop", "--help"], /mamori keys create/],
    [["keys", "revoke", "k_1", "-h"], /mamori keys list \| revoke/],
    [["admin", "--help"], /mamori admin create/],
    [["admin", "create", "hana", "--help"], /mamori admin create/],
    [["admin", "log", "--help"], /mamori admin log/],
    [["mail", "--help"], /mamori mail \[--to ADDR\] \[--limit N\] \[--json\]/],
    [["mail", "preview", "--help"], /mamori mail preview/],
    [["audit", "--help"], /mamori audit verify \[--json\]/],
    [["audit", "verify", "--help"], /mamori audit verify/],
    [["case", "--help"], /mamori case show <id> \[--json\]/],
    [["case", "show", "c_1", "--help"], /mamori case show/],
    [["case", "resume", "--help"], /mamori case resume/],
    [["import", "--help"], /mamori import <file\.ndjson\|-> \[--refused FILE\]/],
    [["import", "users.ndjson", "--help"], /mamori import/],
    [["gen", "logins", "--help"], /mamori gen logins/],
    [["backtest", "--policy", "p.json", "--help"], /mamori backtest --policy/],
    [["fit", "logins", "--help"], /mamori fit logins/],
    [["asn-table", "build", "--help"], /mamori asn-table build/],
    [["simulate", "all", "--help"], /mamori simulate/],
    [["help", "case"], /mamori case list/],
  ];
  for (const [args, says] of cases) {
    it(`mamori ${args.join(" ")}: its help, exit 0, nothing done`, () => {
      const r = run(...args);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, says);
      assert.equal(r.stderr, "");
      assert.deepEqual(readdirSync(cwd), [], "the help created files");
    });
  }

  it("mamori --help lists every command; an unknown command's --help is the whole help", () => {
    const all = run("--help");
    assert.equal(all.status, 0, all.stderr);
    for (const c of ["start", "migrate", "keys", "admin", "mail", "audit", "case", "gen", "backtest", "fit"])
      assert.match(all.stdout, new RegExp(`mamori ${c}\\s`));
    for (const c of ["asn-table", "simulate"]) assert.match(all.stdout, new RegExp(`mamori ${c}\\s`));
    const unknown = run("frobnicate", "--help");
    assert.equal(unknown.status, 0);
    assert.equal(unknown.stdout, all.stdout);
    assert.deepEqual(readdirSync(cwd), []);
  });

  it("an unknown option is a usage error (exit 2), not a crash", () => {
    const r = run("mail", "--frobnicate");
    assert.equal(r.status, 2);
    assert.match(r.stderr, /frobnicate/);
    assert.deepEqual(readdirSync(cwd), []);
  });
});
