import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";

const BIN = path.join(import.meta.dirname, "..", "..", "bin", "mamori.js");

// A store's migration script runs `mamori import users.ndjson`; it is interrupted, or the file has bad lines. Every
// line is accounted for (imported, already imported, or refused with its line and reason in a file of its own), and
// running the same file again imports nothing twice.
describe("mamori import", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mamori-import-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { ...process.env, MAMORI_DATA_DIR: dir, MAMORI_FAST_HASH: "1", MAMORI_DATABASE_URL: "" };
  const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { env, encoding: "utf8" });
  const file = path.join(dir, "users.ndjson");
  const PBKDF2 = "$pbkdf2-sha256$29000$c2FsdHNhbHRzYWx0c2FsdA$hDleuKiKzb.uSuEdtHo0IXmCNvfO.hPvhqn8wW80R.w";

  it("imports good lines, lists refused ones with line and reason, exit 3; the second run only skips", () => {
    const lines = [
      JSON.stringify({ externalId: "u1", email: "one@example.jp", passwordHash: PBKDF2 }),
      "{not json",
      JSON.stringify({
        externalId: "u2",
        email: "two@example.jp",
        passwordHash: "md5:5f4dcc3b5aa765d61d8327deb882cf99",
      }),
      "",
      JSON.stringify({ externalId: "u3", email: "three@example.jp", phone: "090-1234-5678" }),
      JSON.stringify({ externalId: "u4", email: "four@example.jp", language: "ja", totpSecret: "JBSWY3DPEHPK3PXP" }),
    ];
    writeFileSync(file, `${lines.join("\n")}\n`);
    const first = run("import", file, "--json");
    assert.equal(first.status, 3, first.stderr);
    const s = JSON.parse(first.stdout);
    assert.equal(s.lines, 6);
    assert.equal(s.imported, 2);
    assert.equal(s.refused, 3);
    assert.deepEqual(s.reasons, { line_not_json: 1, hash_format_unknown: 1, invalid_phone: 1 });
    const refused = readFileSync(`${file}.refused.ndjson`, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      refused.map((r) => [r.line, r.reason]),
      [
        [2, "line_not_json"],
        [3, "hash_format_unknown"],
        [5, "invalid_phone"],
      ],
    );
    const again = run("import", file, "--json", "--refused", path.join(dir, "again.ndjson"));
    const s2 = JSON.parse(again.stdout);
    assert.equal(s2.imported, 0);
    assert.equal(s2.skipped, 2);
    const audit = run("audit", "verify", "--json");
    assert.equal(audit.status, 0, audit.stdout);
    assert.equal(JSON.parse(audit.stdout).accounts.accounts, 2, "imported accounts are in the event log");
  });

  it("a missing file is an error with exit 1, not a stack trace", () => {
    const r = run("import", path.join(dir, "nope.ndjson"));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /mamori import: .*nope\.ndjson/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});
