import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import SqliteDatabase from "better-sqlite3";
import { openStore } from "../store.ts";
import { makeTestApp } from "../testing/app.ts";
import { testStores } from "../testing/stores.ts";
import { createLastSeenWriter } from "./last-seen.ts";
import { sessionStore } from "./store.ts";

describe("last-seen batches", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mamori-last-seen-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a batch's commit leaves the kept session rows; any other commit, here or in another process, still drops them", async () => {
    // Regression (issue 18): every last-seen write moved the change counter, so with many distinct sessions the kept
    // rows were dropped many times a second and each check went back to the store.
    const h = openStore({ dataDir: dir, foreignCheckMs: 0 });
    await h.migrate();
    const t = await makeTestApp(testStores[0]!, h, { env: { MAMORI_SESSION_LAST_SEEN_FLUSH_MS: "3600000" } });
    const owner = await t.signUp("batch@example.jp");
    t.clock.advance(2 * 60_000);
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: owner.token })).json().active, true);
    const counter = h.changeCounter!;
    const before = counter();
    await t.app.sessions.flushLastSeen();
    assert.equal(counter(), before, "the last-seen batch did not move the counter");
    const row = await h.db.selectFrom("sessions").select(["id", "last_seen_at"]).executeTakeFirstOrThrow();
    assert.equal(row.last_seen_at, t.clock.now(), "and it was written");

    await h.db.updateTable("accounts").set({ updated_at: t.clock.now() }).execute();
    const afterOwn = counter();
    assert.notEqual(afterOwn, before, "an ordinary commit of this process moves it");
    const other = new SqliteDatabase(path.join(dir, "mamori.sqlite"));
    other.prepare("update sessions set revoked_at = 1 where id = ?").run(row.id);
    other.close();
    assert.notEqual(counter(), afterOwn, "another process's commit moves it (read on the writer connection)");
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: owner.token })).json().active, false);
    await t.close();
    await h.close();
  });

  for (const store of testStores) {
    it(`${store.name}: a late batch never moves a last-seen time back`, async (ctx) => {
      const skip = await store.skip();
      if (skip) return ctx.skip(skip);
      const t = await makeTestApp(store);
      const owner = await t.signUp(`late-${store.name}@example.jp`);
      const id = (await t.app.sessions.lookup(owner.token))!.id;
      const now = t.clock.now();
      const read = async () =>
        (
          await t.app.database.db
            .selectFrom("sessions")
            .select("last_seen_at")
            .where("id", "=", id)
            .executeTakeFirstOrThrow()
        ).last_seen_at;
      await sessionStore.advanceLastSeen(t.app.database.db, [[id, now + 5000]]);
      assert.equal(await read(), now + 5000);
      // Another node's older batch, or a retried one, lands later.
      await sessionStore.advanceLastSeen(t.app.database.db, [
        [id, now + 1000],
        ["no-such-session", now + 9000],
      ]);
      assert.equal(await read(), now + 5000);
      await t.close();
    });
  }

  it("a failed write keeps the noted times for the next attempt, and a time noted meanwhile is not lost", async () => {
    const written: [string, number][] = [];
    let fail = true;
    const w = createLastSeenWriter({
      flushMs: 3_600_000,
      write: async (seen) => {
        if (fail) throw new Error("store away");
        written.push(...seen.map(([id, at]) => [id, at] as [string, number]));
      },
    });
    w.note("s1", 100);
    w.note("s2", 200);
    w.note("s1", 50); // an older time never replaces a newer one
    await assert.rejects(w.flush(), /store away/);
    assert.equal(w.pending("s1"), 100);
    fail = false;
    const flushing = w.flush();
    w.note("s2", 300); // noted while the batch is being written: kept for the next one
    await flushing;
    assert.deepEqual(written.sort(), [
      ["s1", 100],
      ["s2", 200],
    ]);
    assert.equal(w.pending("s1"), 0);
    assert.equal(w.pending("s2"), 300);
    await w.close();
    assert.deepEqual(written.at(-1), ["s2", 300], "close writes what is left");
  });
});
