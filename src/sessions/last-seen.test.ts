import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import SqliteDatabase from "better-sqlite3";
import { openStore } from "../store.ts";
import { makeTestApp } from "../testing/app.ts";
import { testStores } from "../testing/stores.ts";
import { createLastSeenWriter, createWorkerLastSeenWrite, LAST_SEEN_SCHEMA, SLICE } from "./last-seen.ts";
import { sessionStore } from "./store.ts";

describe("last-seen batches", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mamori-last-seen-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a batch's commit (the writer thread's, to the last-seen file) leaves the kept session rows; any other commit, here or in another process, moves the change counter", async () => {
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
    const row = await h.db.selectFrom("sessions").select(["id"]).executeTakeFirstOrThrow();
    assert.equal(await t.app.sessions.storedLastSeen(row.id), t.clock.now(), "and it was written");

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

  /** A store on a file as two processes see it: two handles; B looks for A's commits on every request. */
  async function fileNodes(name: string, env: NodeJS.ProcessEnv) {
    const d = mkdtempSync(path.join(dir, `${name}-`));
    const ha = openStore({ dataDir: d, foreignCheckMs: 0 });
    await ha.migrate();
    const hb = openStore({ dataDir: d, foreignCheckMs: 0 });
    const a = await makeTestApp(testStores[0]!, ha, { env });
    const b = await makeTestApp(testStores[0]!, hb, { env });
    const both = (ms: number) => {
      a.clock.advance(ms);
      b.clock.advance(ms);
    };
    const active = async (n: typeof a, token: string) =>
      (await n.call("POST", "/v1/sessions/introspect", { token })).json().active as boolean;
    const close = async () => {
      await a.close();
      await b.close();
      await ha.close();
      await hb.close();
    };
    return { d, a, b, both, active, close };
  }

  it("a session revoked by another process is refused on the next request while this node's last-seen batch is held up in the writer thread", async () => {
    const { d, a, b, both, active, close } = await fileNodes("held", { MAMORI_SESSION_LAST_SEEN_FLUSH_MS: "3600000" });
    try {
      const owner = await a.signUp("held@example.jp");
      both(2 * 60_000);
      assert.equal(await active(b, owner.token), true, "B notes the session's last-seen and keeps its row");
      // Another connection holds the last-seen file's write lock: B's batch waits in the writer thread.
      const blocker = new SqliteDatabase(path.join(d, "mamori.seen.sqlite"));
      blocker.exec("begin immediate");
      let landed = false;
      const flushing = b.app.sessions.flushLastSeen().then(() => {
        landed = true;
      });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(landed, false, "the batch is in flight");
      assert.equal(await active(b, owner.token), true);
      // A ends the session (an ordinary commit to the sessions file, by another process as far as B knows).
      const s = (await a.app.sessions.lookup(owner.token))!;
      await a.app.sessions.signOut(s);
      assert.equal(await active(b, owner.token), false, "B refuses on its very next check");
      blocker.exec("commit");
      blocker.close();
      await flushing;
      assert.equal(landed, true);
      assert.equal(await b.app.sessions.storedLastSeen(s.id), b.clock.now(), "the batch landed");
      assert.equal(await active(b, owner.token), false, "and did not revive the session");
    } finally {
      await close();
    }
  });

  it("a session another process saw lately is not refused as idle from this node's older kept row", async () => {
    // The last-seen file's commits do not empty the kept rows, so a kept row may show an older last-seen than the store.
    // The checks go to the service directly: an HTTP call commits to the sessions file itself (the API key's use).
    const { a, b, both, close } = await fileNodes("idle", { MAMORI_SESSION_IDLE_DAYS: "1" });
    try {
      const owner = await a.signUp("idle-kept@example.jp");
      const counter = a.app.database.changeCounter!;
      assert.ok(await a.app.sessions.lookup(owner.token), "A keeps the row");
      const kept = counter();
      both(20 * 3600_000);
      assert.ok(await b.app.sessions.lookup(owner.token), "B serves the owner 20 h later");
      await b.app.sessions.flushLastSeen();
      both(10 * 3600_000);
      assert.equal(counter(), kept, "nothing emptied A's kept rows");
      // 30 h since A last saw it (past the 1-day idle limit), 10 h since B did.
      assert.ok(await a.app.sessions.lookup(owner.token), "A reads the store before refusing as idle");
      both(25 * 3600_000);
      assert.equal(await a.app.sessions.lookup(owner.token), undefined, "idle past the limit everywhere: refused");
    } finally {
      await close();
    }
  });

  it("the writer thread commits a flush of many messages whole, each time only moved forward", async () => {
    // A flush goes to the thread in messages of 1,000 sessions and is committed in one transaction: a batch split
    // wrongly (a message lost, the last one taken for the end too soon) leaves sessions without their time.
    const file = path.join(dir, "many.seen.sqlite");
    const c = new SqliteDatabase(file);
    c.pragma("journal_mode = WAL");
    c.exec(LAST_SEEN_SCHEMA);
    c.prepare("insert into session_last_seen (session_id, at) values ('s-7', 99999)").run();
    const w = createWorkerLastSeenWrite(file);
    const ids = Array.from({ length: 2_500 }, (_, i) => `s-${i}`);
    await w.write({ ids, ats: ids.map((_, i) => 1000 + i) });
    assert.equal(c.prepare("select count(*) from session_last_seen").pluck().get(), 2_500);
    assert.equal(c.prepare("select at from session_last_seen where session_id = 's-2499'").pluck().get(), 3499);
    assert.equal(c.prepare("select at from session_last_seen where session_id = 's-7'").pluck().get(), 99999);
    await w.write({ ids: ["s-1"], ats: [5] });
    assert.equal(c.prepare("select at from session_last_seen where session_id = 's-1'").pluck().get(), 1001);
    await w.close();
    c.close();
  });

  it("a noted last-seen time is written by a clean shutdown", async () => {
    const d = mkdtempSync(path.join(dir, "shutdown-"));
    const h = openStore({ dataDir: d });
    await h.migrate();
    const t = await makeTestApp(testStores[0]!, h, { env: { MAMORI_SESSION_LAST_SEEN_FLUSH_MS: "3600000" } });
    const owner = await t.signUp("shutdown@example.jp");
    t.clock.advance(2 * 60_000);
    const s = (await t.app.sessions.lookup(owner.token))!;
    await t.close();
    await h.close();
    const seen = new SqliteDatabase(path.join(d, "mamori.seen.sqlite"), { readonly: true });
    const row = seen.prepare("select at from session_last_seen where session_id = ?").get(s.id) as { at: number };
    seen.close();
    assert.equal(row?.at, t.clock.now());
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
      await sessionStore.advanceLastSeen(t.app.database.db, { ids: [id], ats: [now + 5000] });
      assert.equal(await read(), now + 5000);
      // Another node's older batch, or a retried one, lands later.
      await sessionStore.advanceLastSeen(t.app.database.db, {
        ids: [id, "no-such-session"],
        ats: [now + 1000, now + 9000],
      });
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
        for (let i = 0; i < seen.ids.length; i++) written.push([seen.ids[i]!, seen.ats[i]!]);
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

  it("a flush of many sessions lets the event loop turn, and what is noted meanwhile is neither lost nor taken back", async () => {
    // Regression: taking a flush's batch and forgetting it ran in one go, a stall of ~50 ms a flush at 130,000
    // sessions that every request arriving meanwhile waited behind. Now the flush polls between slices — and a session
    // noted again (or for the first time) while it does so must keep its newer time.
    const n = 3 * SLICE + 17;
    const written = new Map<string, number>();
    const w = createLastSeenWriter({
      flushMs: 3_600_000,
      chunk: Number.POSITIVE_INFINITY,
      // Resolves at once: without the slices, nothing else would run until the flush had forgotten the whole batch.
      write: async ({ ids, ats }) => {
        for (let i = 0; i < ids.length; i++) written.set(ids[i]!, ats[i]!);
      },
    });
    for (let i = 0; i < n; i++) w.note(`s${i}`, 1000);
    let turns = 0;
    let flushed = false;
    const during: string[] = [];
    const tick = () => {
      if (flushed) return;
      turns++;
      // A check while the flush runs: an old session seen again, a new one seen for the first time.
      const again = `s${turns * 97}`;
      w.note(again, 2000 + turns);
      w.note(`new${turns}`, 3000);
      during.push(again);
      setImmediate(tick);
    };
    setImmediate(tick);
    await w.flush();
    flushed = true;
    assert.ok(turns >= 4, `the event loop turned during the flush (${turns} turns)`);
    for (let i = 0; i < n; i++) assert.ok((written.get(`s${i}`) ?? 0) >= 1000, `s${i} written`);
    for (const [i, id] of during.entries()) {
      assert.ok(Math.max(written.get(id) ?? 0, w.pending(id)) >= 2000 + i + 1, `${id}'s later time kept`);
      assert.ok(Math.max(written.get(`new${i + 1}`) ?? 0, w.pending(`new${i + 1}`)) === 3000, `new${i + 1} kept`);
    }
    await w.close();
    for (const id of during) assert.equal(w.pending(id), 0, "close wrote the rest");
  });
});
