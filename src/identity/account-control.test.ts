import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { bareAccount, testStores } from "../testing/stores.ts";
import { accountControl as accounts } from "./account-control.ts";
import { identityStore } from "./store.ts";

/** The account's tables that only identity writes; the other modules change them through account-control. */
const IDENTITY_TABLES = ["accounts", "contact_points", "password_history", "app_passwords", "reset_tokens"];
const tables = IDENTITY_TABLES.join("|");
const WRITES = [
  new RegExp(`\\.(?:updateTable|insertInto|deleteFrom)\\(\\s*["'\`](?:${tables})["'\`]`, "g"),
  new RegExp(`\\b(?:update|insert\\s+into|delete\\s+from)\\s+["\`]?(?:${tables})\\b`, "gi"),
];

function identityWrites(source: string): number {
  return WRITES.reduce((n, re) => n + (source.match(re)?.length ?? 0), 0);
}

function productionFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) productionFiles(p, out);
    else if (/\.tsx?$/.test(e.name) && !/\.test\.tsx?$/.test(e.name)) out.push(p.split(path.sep).join("/"));
  }
  return out;
}

describe("identity is the only writer of the account", () => {
  it("finds a write in query-builder and raw SQL form (the check below can fail)", () => {
    assert.equal(identityWrites(`await t.updateTable("accounts").set({ status: "frozen" })`), 1);
    assert.equal(identityWrites(`tx\n  .insertInto("contact_points")`), 1);
    assert.equal(identityWrites(`run("UPDATE app_passwords SET revoked_at = ?")`), 1);
    assert.equal(identityWrites(`sql\`delete from "reset_tokens" where\``), 1);
    assert.equal(identityWrites(`t.selectFrom("accounts").updateTable("cases")`), 0);
  });

  it("no module outside src/identity/ writes accounts, contact points, passwords, app passwords or reset tokens", () => {
    const root = path.resolve(import.meta.dirname, "..");
    const found: string[] = [];
    for (const file of productionFiles(root)) {
      const rel = `src/${path.relative(root, file).split(path.sep).join("/")}`;
      // identity owns them; src/testing/ builds fixtures as identity's own store code would
      if (rel.startsWith("src/identity/") || rel.startsWith("src/testing/")) continue;
      const n = identityWrites(readFileSync(file, "utf8"));
      if (n > 0) found.push(`${rel}: ${n}`);
    }
    assert.deepEqual(found, [], "use identity's account-control port (src/identity/account-control.ts)");
  });
});

for (const store of testStores) {
  describe(`account-control on ${store.name}`, async () => {
    const skip = (await store.skip()) ?? false;

    it("freeze says the status it found and closes the account until unfreeze", { skip }, async () => {
      const h = await store.open();
      try {
        await h.db.insertInto("accounts").values(bareAccount("a1", 0)).execute();
        assert.equal(
          await h.db.transaction().execute((t) => accounts.freeze(t, { accountId: "nobody", now: 5 })),
          null,
        );
        const r = await h.db.transaction().execute((t) => accounts.freeze(t, { accountId: "a1", now: 5 }));
        assert.deepEqual(r, { before: "active" });
        let a = await accounts.getAccount(h.db, "a1");
        assert.equal(a?.status, "frozen");
        assert.equal(a?.password_reset_required, 1);
        await h.db.transaction().execute((t) => accounts.unfreeze(t, { accountId: "a1", now: 6 }));
        a = await accounts.getAccount(h.db, "a1");
        assert.equal(a?.status, "active");
        assert.equal(a?.password_reset_required, 0);
      } finally {
        await h.close();
      }
    });

    it("rolls contacts back: the window's address goes, the one removed in it returns as the primary", {
      skip,
    }, async () => {
      const h = await store.open();
      try {
        await h.db.insertInto("accounts").values(bareAccount("a1", 0)).execute();
        const contact = (value: string, addedAt: number) => ({
          account_id: "a1",
          kind: "email",
          value,
          verified: 1 as const,
          verified_at: addedAt,
          is_primary: 0 as const,
          added_at: addedAt,
          added_by: null,
        });
        const owners = await identityStore.insertContact(h.db, contact("owner@example.jp", 10));
        await identityStore.removeContact(h.db, owners, "session:attacker", 120, null);
        await identityStore.insertContact(h.db, contact("attacker@example.net", 110));

        const plan = await accounts.planContactRollBack(h.db, { accountId: "a1", since: 100 });
        assert.deepEqual(
          [plan.remove.map((c) => c.value), plan.restore.map((c) => c.value)],
          [["attacker@example.net"], ["owner@example.jp"]],
        );
        const first = await h.db
          .transaction()
          .execute((t) => accounts.rollBackContacts(t, { accountId: "a1", since: 100, now: 200, by: "case:c1" }));
        assert.deepEqual(
          first.map((c) => [c.action, c.value]),
          [
            ["removed", "attacker@example.net"],
            ["restored", "owner@example.jp"],
          ],
        );
        assert.deepEqual(
          (await accounts.liveContacts(h.db, "a1")).map((c) => [c.value, c.is_primary, c.added_by]),
          [["owner@example.jp", 1, "case:c1"]],
        );
      } finally {
        await h.close();
      }
    });

    it("restores the password in force before the window, and a new epoch ends app passwords and reset links", {
      skip,
    }, async () => {
      const h = await store.open();
      try {
        await h.db.insertInto("accounts").values(bareAccount("a1", 0)).execute();
        await identityStore.setPassword(h.db, "a1", "owner-hash", 10);
        await identityStore.setPassword(h.db, "a1", "attacker-hash", 150);
        assert.equal(await accounts.planPasswordRestore(h.db, { accountId: "a1", since: 200 }), null);
        const r = await h.db
          .transaction()
          .execute((t) => accounts.restorePassword(t, { accountId: "a1", since: 100, now: 300 }));
        assert.deepEqual(r, { changedAt: 150, restoredTo: 10 });
        assert.equal((await accounts.getAccount(h.db, "a1"))?.password_hash, "owner-hash");

        await h.db
          .insertInto("reset_tokens")
          .values({
            token_hash: "t1",
            account_id: "a1",
            epoch: 1,
            sent_to: "x",
            created_at: 1,
            expires_at: 9e12,
            used_at: null,
          })
          .execute();
        await h.db
          .insertInto("app_passwords")
          .values({
            id: "ap1",
            account_id: "a1",
            name: "mail",
            secret_hash: "h",
            epoch: 1,
            created_at: 1,
            created_by_session: null,
            last_used_at: null,
            last_used_ip: null,
            last_used_country: null,
            revoked_at: null,
            revoked_reason: null,
            hash_version: 2,
          })
          .execute();
        const epoch = await h.db
          .transaction()
          .execute((t) => accounts.bumpCredentialEpoch(t, "a1", { reason: "lockdown", now: 400 }));
        assert.equal(epoch, 2);
        const token = await h.db.selectFrom("reset_tokens").select("used_at").executeTakeFirstOrThrow();
        assert.equal(Number(token.used_at), 400);
        const app = await h.db.selectFrom("app_passwords").select("revoked_reason").executeTakeFirstOrThrow();
        assert.equal(app.revoked_reason, "lockdown");
      } finally {
        await h.close();
      }
    });
  });
}
