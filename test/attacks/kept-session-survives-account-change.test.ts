import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import SqliteDatabase from "better-sqlite3";
import { FOREIGN_CHECK_MS } from "../../src/db/database.ts";
import { createKeptRows } from "../../src/sessions/kept-rows.ts";
import { sessionStore } from "../../src/sessions/store.ts";
import { openStore } from "../../src/store.ts";
import { ATTACKER, makeTestApp, STRONG } from "../../src/testing/app.ts";
import { testStores } from "../../src/testing/stores.ts";

// The embedded store keeps every live session's row in memory (loaded at start) and forgets exactly the rows the
// store's change feed names. The attack: an attacker's session, kept in memory, outlives a change that ends it — the
// account locked, its credential epoch moved, the token rotated, the account removed — because the change was made
// in a way the process did not see (another process on the file, a statement the feed missed), or because a
// sign-in's commit no longer empties the kept rows.
describe("kept-session-survives-account-change", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mamori-kept-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const settle = () => new Promise((r) => setTimeout(r, FOREIGN_CHECK_MS + 4));

  async function setUp(file: string, email: string) {
    const db = openStore({ dataDir: dir, sqliteFile: file });
    await db.migrate();
    const t = await makeTestApp(testStores[0]!, db);
    const owner = await t.signUp(email);
    const atk = await t.signIn(email, STRONG, ATTACKER);
    const warmed = await t.app.sessions.warm();
    assert.ok(warmed && warmed.rows >= 2, "the warm-up loads the live sessions");
    const introspect = async (token: string) =>
      (await t.call("POST", "/v1/sessions/introspect", { token })).json().active as boolean;
    assert.equal(await introspect(atk.session.token), true);
    const other = new SqliteDatabase(path.join(dir, file));
    const done = async () => {
      other.close();
      await t.close();
      await db.close();
    };
    return { t, owner, atk, introspect, other, done };
  }

  for (const [what, change] of [
    ["the account locked", "update accounts set status = 'locked' where id = ?"],
    ["the credential epoch moved", "update accounts set credential_epoch = credential_epoch + 1 where id = ?"],
    ["the session's epoch moved off the account's", "update sessions set epoch = epoch - 1 where account_id = ?"],
    ["the session's expiry moved into the past", "update sessions set expires_at = 1 where account_id = ?"],
  ] as const) {
    it(`${what} by another process: the kept session is refused within the counter's millisecond`, async () => {
      const file = `${what.replaceAll(/\W+/g, "-")}.sqlite`;
      const s = await setUp(file, `${file}@example.jp`);
      s.other.prepare(change).run(s.owner.accountId);
      await settle();
      assert.equal(await s.introspect(s.atk.session.token), false, "refused");
      assert.equal(await s.introspect(s.owner.token), false, "every session of the account");
      await s.done();
    });
  }

  it("a rotated session's old token and a deleted session are refused", async () => {
    const s = await setUp("rotate.sqlite", "rotate@example.jp");
    s.other.prepare("update sessions set token_hash = 'rotated' where id = ?").run(s.atk.session.id);
    await settle();
    assert.equal(await s.introspect(s.atk.session.token), false, "the old token is dead once rotated");
    s.other.pragma("foreign_keys = off");
    s.other.prepare("delete from sessions where account_id = ?").run(s.owner.accountId);
    await settle();
    assert.equal(await s.introspect(s.owner.token), false, "a deleted session is refused");
    await s.done();
  });

  it("this process's sign-out-everywhere ends the kept sessions on the very next check", async () => {
    const s = await setUp("own.sqlite", "own@example.jp");
    const r = await s.t.call("POST", "/v1/sessions/sign-out-everywhere", {}, { session: s.owner.token });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(await s.introspect(s.atk.session.token), false);
    assert.equal(await s.introspect(s.owner.token), true, "the caller's own session is kept, epoch moved with it");
    await s.done();
  });

  it("a sign-in's commit keeps the other kept rows (it changes no session's answer)", async () => {
    const s = await setUp("keep.sqlite", "keep@example.jp");
    const before = s.t.app.sessions.keptRows();
    await s.t.signUp("someone-else@example.jp");
    await s.introspect(s.atk.session.token);
    assert.ok(s.t.app.sessions.keptRows() >= before, "the kept rows were not emptied by an unrelated commit");
    await s.done();
  });

  it("a reader further behind than one catch-up forgets every kept row, and answers from the store", async () => {
    const db = openStore({ dataDir: dir, sqliteFile: "behind.sqlite" });
    await db.migrate();
    const t = await makeTestApp(testStores[0]!, db);
    const owner = await t.signUp("behind@example.jp");
    const kept = createKeptRows(
      {
        readSync: db.readSync!,
        changeCounter: db.changeCounter!,
        pageSql: sessionStore.keptRowsPageSql(db.db),
        feedSql: sessionStore.changeFeedSql,
        now: () => t.clock.now(),
      },
      { feedCatchUp: 2 },
    );
    assert.equal((await kept.warm()).rows, 1);
    assert.equal(kept.size(), 1);
    const other = new SqliteDatabase(path.join(dir, "behind.sqlite"));
    // Three feed rows (one more than a catch-up holds), the last of them the revocation.
    for (let i = 0; i < 2; i++)
      other.prepare("update sessions set factor = factor where account_id = ?").run(owner.accountId);
    other.prepare("update sessions set revoked_at = 1 where account_id = ?").run(owner.accountId);
    other.close();
    await settle();
    kept.current();
    assert.equal(kept.size(), 0, "every kept row forgotten");
    await t.close();
    await db.close();
  });
});
