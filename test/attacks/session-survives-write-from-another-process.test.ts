import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import SqliteDatabase from "better-sqlite3";
import { type DatabaseHandle, FOREIGN_CHECK_MS } from "../../src/db/database.ts";
import { openStore } from "../../src/store.ts";
import { ATTACKER, makeTestApp, STRONG } from "../../src/testing/app.ts";
import { testStores } from "../../src/testing/stores.ts";

// The embedded store keeps session rows between requests while nothing was committed. A revocation written by this
// process ends the session on the very next request; one written by another process on the same file (the CLI, a
// second server), within a millisecond.
describe("session-survives-write-from-another-process", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mamori-counter-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** An app on a file store, an owner, and an attacker session whose row the service now keeps. */
  async function keptAttackerSession(db: DatabaseHandle, email: string) {
    await db.migrate();
    const t = await makeTestApp(testStores[0]!, db);
    const owner = await t.signUp(email);
    const atk = await t.signIn(email, STRONG, ATTACKER);
    const introspect = async (token: string) =>
      (await t.call("POST", "/v1/sessions/introspect", { token })).json().active as boolean;
    // Read it twice: the second answer comes from the kept row.
    assert.equal(await introspect(atk.session.token), true);
    assert.equal(await introspect(atk.session.token), true, "answered from the kept row");
    return { t, owner, atk, introspect };
  }

  it("a session revoked by another connection is refused on the next introspection", async () => {
    const db = openStore({ dataDir: dir });
    assert.ok(db.changeCounter, "a file store has a change counter");
    const { t, owner, atk, introspect } = await keptAttackerSession(db, "counter@example.jp");

    // Another process (the CLI, a second server on the same file) revokes it directly in the file.
    const other = new SqliteDatabase(path.join(dir, "mamori.sqlite"));
    other
      .prepare("update sessions set revoked_at = ?, revoked_reason = 'other process' where id = ?")
      .run(t.clock.now(), atk.session.id);
    other.close();
    // Another process's commit is noticed within FOREIGN_CHECK_MS (1 ms); this process's own, at once (below).
    await new Promise((r) => setTimeout(r, FOREIGN_CHECK_MS + 4));
    assert.equal(await introspect(atk.session.token), false, "refused once the other process's commit is seen");
    assert.equal(await introspect(owner.token), true, "the other session is untouched");

    // And a revocation through this process, as before.
    assert.equal(
      (await t.call("POST", "/v1/sessions/sign-out-everywhere", {}, { session: owner.token })).statusCode,
      200,
    );
    const again = await t.signIn("counter@example.jp", STRONG, ATTACKER);
    assert.equal(await introspect(again.session.token), true);
    assert.equal(await introspect(again.session.token), true);
    await t.call("POST", "/v1/sessions/sign-out-everywhere", {}, { session: again.session.token });
    assert.equal(await introspect(again.session.token), true, "sign-out-everywhere keeps the caller's own session");
    const out = await t.call("POST", "/v1/session/sign-out", {}, { session: again.session.token });
    assert.equal(out.statusCode, 200, out.body);
    assert.equal(await introspect(again.session.token), false);
    await t.close();
    await db.close();
  });

  it("this process's commit counts at once, in a transaction too (COMMIT is a read-only statement to SQLite)", async () => {
    // Other processes' commits are looked for only once a minute here, so only this process's own counting can move
    // the counter: a revocation committed in a transaction must end the session on the very next request.
    const db = openStore({ dataDir: dir, sqliteFile: "own.sqlite", foreignCheckMs: 60_000 });
    const counter = db.changeCounter!;
    const { t, owner, atk, introspect } = await keptAttackerSession(db, "own-commit@example.jp");

    const before = counter();
    await db.db.transaction().execute(async (tx) => {
      await tx.updateTable("sessions").set({ revoked_at: t.clock.now() }).where("id", "=", atk.session.id).execute();
    });
    assert.notEqual(counter(), before, "the transaction's commit moved the counter");
    assert.equal(await introspect(atk.session.token), false, "refused on the next request");
    assert.equal(await introspect(owner.token), true);

    // A read-only transaction is not a change (it may count, but reads alone must not lose the kept rows' meaning).
    const reads = counter();
    await db.db.selectFrom("sessions").select("id").execute();
    assert.equal(counter(), reads, "a read outside a transaction does not count");
    await t.close();
    await db.close();
  });
});
