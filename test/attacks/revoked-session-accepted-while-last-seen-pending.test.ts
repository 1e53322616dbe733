import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import type { DatabaseHandle } from "../../src/db/database.ts";
import { HOUR, MINUTE } from "../../src/shared/clock.ts";
import { openStore } from "../../src/store.ts";
import { APP_STORE, ATTACKER, makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";
import { migrateAmongTests, PG_URL } from "../../src/testing/stores.ts";

// Two nodes on one store, each noting sessions' last-seen times and writing them later in batches (on SQLite without
// moving the change counter that keeps session rows). The attack: the owner signs out everywhere on node A while
// node B holds the attacker's session in memory with a last-seen write pending; B — or B's batch landing after the
// revocation — must not let the attacker's next request through.
describe("revoked-session-accepted-while-last-seen-pending", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mamori-pending-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Two handles on one store: the same SQLite file (as two processes), or the same PostgreSQL schema. */
  async function twoNodes(): Promise<[DatabaseHandle, DatabaseHandle, () => Promise<void>]> {
    if (APP_STORE.name === "sqlite") {
      const a = openStore({ dataDir: dir });
      await a.migrate();
      // Node B looks for other processes' commits on every request (default: at most once a millisecond), so "the
      // very next request" is exact here rather than a millisecond later.
      const b = openStore({ dataDir: dir, foreignCheckMs: 0 });
      return [a, b, async () => {}];
    }
    const skip = await APP_STORE.skip();
    if (skip) throw new Error(skip);
    const schema = `t_${randomBytes(6).toString("hex")}`;
    const a = openStore({ dataDir: "", databaseUrl: PG_URL, pgSchema: schema });
    await migrateAmongTests(a);
    const b = openStore({ dataDir: "", databaseUrl: PG_URL, pgSchema: schema });
    return [
      a,
      b,
      async () => {
        const { default: pg } = await import("pg");
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await c.end();
      },
    ];
  }

  it("a session ended on node A is refused by node B on its next check while B's last-seen writes are pending", async () => {
    const [ha, hb, drop] = await twoNodes();
    // An hour between batches: nothing is written unless the test flushes.
    const env = { MAMORI_SESSION_LAST_SEEN_FLUSH_MS: String(HOUR) };
    const a: TestApp = await makeTestApp(APP_STORE, ha, { env });
    const b: TestApp = await makeTestApp(APP_STORE, hb, { env });
    const both = (ms: number) => {
      a.clock.advance(ms);
      b.clock.advance(ms);
    };
    const activeOn = async (n: TestApp, token: string) =>
      (await n.call("POST", "/v1/sessions/introspect", { token })).json().active as boolean;
    try {
      const email = "pending-owner@example.jp";
      const owner = await a.signUp(email);
      const atk = await a.signIn(email, STRONG, ATTACKER);
      assert.equal(atk.http, 200, JSON.stringify(atk));
      const attacker = atk.session.token as string;

      // Two minutes on: B's checks note both sessions' last-seen (pending), and B keeps the attacker's row.
      both(2 * MINUTE);
      assert.equal(await activeOn(b, attacker), true);
      assert.equal(await activeOn(b, owner.token), true);
      // B writes a batch (on SQLite a commit to the last-seen file, by its writer thread: B's kept rows stay), and answers from its kept row.
      await b.app.sessions.flushLastSeen();
      assert.equal(await activeOn(b, attacker), true);
      // Another minute and more: B notes the attacker again, and this time keeps the note pending.
      both(2 * MINUTE);
      assert.equal(await activeOn(b, attacker), true);

      // The owner ends every other session on node A.
      const out = await a.call("POST", "/v1/sessions/sign-out-everywhere", {}, { session: owner.token });
      assert.equal(out.statusCode, 200, out.body);

      assert.equal(await activeOn(b, attacker), false, "node B refuses on its very next check");
      assert.equal(await activeOn(a, attacker), false);
      // B's pending batch lands after the revocation: it moves last_seen_at only, so the session stays ended.
      await b.app.sessions.flushLastSeen();
      assert.equal(await activeOn(b, attacker), false, "the late last-seen write does not revive it");
      const row = await a.app.database.db
        .selectFrom("sessions")
        .select(["revoked_at"])
        .where("id", "=", atk.session.id)
        .executeTakeFirstOrThrow();
      assert.notEqual(row.revoked_at, null);
      assert.equal(
        await a.app.sessions.storedLastSeen(atk.session.id),
        b.clock.now(),
        "the pending time was written, and only that",
      );
      // The owner's own session lives on, on both nodes.
      assert.equal(await activeOn(b, owner.token), true);
      assert.equal(await activeOn(a, owner.token), true);
    } finally {
      await a.close();
      await b.close();
      await ha.close();
      await hb.close();
      await drop();
    }
  });
});
