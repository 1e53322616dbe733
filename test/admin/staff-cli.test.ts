import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { openStore } from "../../src/store.ts";

const BIN = path.join(import.meta.dirname, "..", "..", "bin", "mamori.js");

// The operator's side of staff logins: what `admin create` tells, what `admin list` and `admin log` show, and that
// `audit verify` covers the staff log.
describe("mamori admin (staff logins)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mamori-staff-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { ...process.env, MAMORI_DATA_DIR: dir, MAMORI_FAST_HASH: "1", MAMORI_DATABASE_URL: "" };
  const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { env, encoding: "utf8" });

  it("create prints a setup password and the first-sign-in steps; list, log and audit verify see the login", () => {
    const c = run("admin", "create", "hana");
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /admin hana created; setup password: \S+ \(shown once\)/);
    assert.match(c.stdout, /POST \/v1\/admin\/password/);
    assert.match(c.stdout, /POST \/v1\/admin\/totp\/setup/);
    assert.equal(run("admin", "create", "bad name!").status, 1);

    const list = run("admin", "list");
    assert.match(list.stdout, /hana .*owes: password change, TOTP enrolment/);
    assert.equal(run("admin", "reset-password", "hana").status, 0);

    const log = run("admin", "log");
    assert.equal(log.status, 0, log.stderr);
    assert.match(log.stdout, /staff\.password\.reset\s+hana/);
    assert.match(log.stdout, /staff\.created\s+hana/);

    const ok = run("audit", "verify");
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /staff log: 2 events, intact/);
  });

  it("audit verify exits 1 naming the staff log's first edited event", async () => {
    const h = openStore({ dataDir: dir });
    await h.db.updateTable("staff_events").set({ actor: "someone-else" }).where("seq", "=", 1).execute();
    await h.close();
    const r = run("audit", "verify");
    assert.equal(r.status, 1);
    assert.match(r.stdout, /BROKEN: staff log, event 1: hash does not match/);
  });
});
