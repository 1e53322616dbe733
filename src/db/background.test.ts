import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { makeTestApp, STRONG, TOKYO } from "../testing/app.ts";
import { testStores } from "../testing/stores.ts";
import { openDatabase } from "./database.ts";

// Decision rows are written off the event loop on the embedded store: the write must still commit, be visible to
// this process, fail loudly, and be finished before the store closes.
describe("background writes on the embedded store", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mamori-background-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const policy = (version: number) => ({
    id: `p${version}`,
    version,
    status: "draft",
    source: "{}",
    created_at: 1,
    created_by: null,
    activated_at: null,
    retired_at: null,
  });

  it("commits on the thread's connection, answers after the commit, and reports a failed statement", async () => {
    const h = openDatabase({ dataDir: dir, sqliteFile: "bg.sqlite" });
    await h.migrate();
    assert.ok(h.background, "a file store writes in the background");
    await h.background(
      h.db
        .insertInto("risk_policy_sets")
        .values([policy(7), policy(8)])
        .compile(),
    );
    const rows = await h.db.selectFrom("risk_policy_sets").select("version").orderBy("version").execute();
    assert.deepEqual(
      rows.map((r) => r.version),
      [7, 8],
      "visible here once answered",
    );
    await assert.rejects(
      h.background(h.db.insertInto("risk_policy_sets").values(policy(7)).compile()),
      /UNIQUE constraint failed/,
    );
    // Sent, not awaited: close() lets it finish before the connection closes.
    const last = h.background(h.db.insertInto("risk_policy_sets").values(policy(9)).compile());
    await h.close();
    await last;
    const again = openDatabase({ dataDir: dir, sqliteFile: "bg.sqlite" });
    const n = await again.db.selectFrom("risk_policy_sets").select("version").where("version", "=", 9).execute();
    assert.equal(n.length, 1, "the last write was committed before close");
    await again.close();
  });

  it("a transaction that reads, then writes, is not refused when the background writer committed in between", async () => {
    // DEFERRED transactions failed here at once with SQLITE_BUSY_SNAPSHOT; they now begin IMMEDIATE and wait their turn.
    const h = openDatabase({ dataDir: dir, sqliteFile: "race.sqlite" });
    await h.migrate();
    const sent: Promise<void>[] = [];
    const txs: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      sent.push(
        h.background!(
          h.db
            .insertInto("risk_policy_sets")
            .values(policy(100 + i))
            .compile(),
        ),
      );
      txs.push(
        h.db.transaction().execute(async (t) => {
          await t.selectFrom("risk_policy_sets").select("version").execute();
          await new Promise((r) => setTimeout(r, 1));
          await t
            .insertInto("instance")
            .values({ key: `k${i}`, value: "v" })
            .execute();
        }),
      );
    }
    await Promise.all([...sent, ...txs]);
    const n = await h.db.selectFrom("instance").select("key").where("key", "like", "k%").execute();
    assert.equal(n.length, 20);
    await h.close();
  });

  it("risk decisions made on a file store are recorded and listed", async () => {
    const db = openDatabase({ dataDir: dir, sqliteFile: "risk.sqlite" });
    await db.migrate();
    const t = await makeTestApp(testStores[0]!, db);
    const owner = await t.signUp("bg-risk@example.jp");
    for (let i = 0; i < 3; i++) await t.signIn("bg-risk@example.jp", STRONG, TOKYO);
    const decisions = await t.app.risk.listDecisions(owner.accountId);
    assert.ok(decisions.length >= 3, `listed ${decisions.length} decisions`);
    await t.close();
    await db.close();
  });
});
