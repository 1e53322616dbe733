import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../shared/clock.ts";
import { bareAccount, testStores } from "../testing/stores.ts";
import { createEventLog } from "./store.ts";

for (const store of testStores) {
  describe(`event log contract on ${store.name}`, async () => {
    const skip = (await store.skip()) ?? false;

    async function setup() {
      const h = await store.open();
      const clock = new ManualClock();
      const log = createEventLog({ db: h.db, dialect: h.dialect, clock });
      for (const id of ["a1", "a2"]) {
        await h.db.insertInto("accounts").values(bareAccount(id, 0)).execute();
      }
      return { h, log, clock };
    }

    it("chains per account and verifies", { skip }, async () => {
      const { h, log } = await setup();
      try {
        for (let i = 0; i < 5; i++) {
          await h.db
            .transaction()
            .execute((tx) => log.append(tx, { accountId: "a1", type: "t", data: { i }, actor: "system" }));
          await h.db
            .transaction()
            .execute((tx) => log.append(tx, { accountId: "a2", type: "t", data: { i }, actor: "system" }));
        }
        const list = await log.list("a1");
        assert.deepEqual(
          list.map((e) => e.seq),
          [5, 4, 3, 2, 1],
        );
        assert.equal(list[0]!.prevHash, list[1]!.hash);
        const r = await log.verify();
        assert.deepEqual(r, { accounts: 2, events: 10, firstBreak: null });
      } finally {
        await h.close();
      }
    });

    it("an event rolled back with its change leaves no trace", { skip }, async () => {
      const { h, log } = await setup();
      try {
        await assert.rejects(
          h.db.transaction().execute(async (tx) => {
            await log.append(tx, { accountId: "a1", type: "password.changed", actor: "system" });
            throw new Error("the change failed");
          }),
        );
        assert.equal((await log.list("a1")).length, 0);
      } finally {
        await h.close();
      }
    });

    it("concurrent appends on one account never fork the chain", { skip }, async () => {
      const { h, log } = await setup();
      try {
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            h.db
              .transaction()
              .execute((tx) => log.append(tx, { accountId: "a1", type: "t", data: { i }, actor: "system" })),
          ),
        );
        const r = await log.verify();
        assert.equal(r.firstBreak, null);
        assert.equal(r.events, 20);
      } finally {
        await h.close();
      }
    });

    it("tampering with a stored event is found and named", { skip }, async () => {
      const { h, log } = await setup();
      try {
        for (let i = 0; i < 4; i++) {
          await h.db
            .transaction()
            .execute((tx) =>
              log.append(tx, { accountId: "a2", type: "email.changed", data: { to: `x${i}` }, actor: "system" }),
            );
        }
        await h.db
          .updateTable("events")
          .set({ data: JSON.stringify({ to: "someone-else" }) })
          .where("account_id", "=", "a2")
          .where("seq", "=", 3)
          .execute();
        const r = await log.verify();
        assert.deepEqual(r.firstBreak, { accountId: "a2", seq: 3, reason: "hash does not match the event's content" });
        // Deleting an event is found too.
        await h.db.deleteFrom("events").where("account_id", "=", "a2").where("seq", "=", 2).execute();
        const r2 = await log.verify();
        assert.equal(r2.firstBreak?.seq, 3);
        assert.match(r2.firstBreak?.reason ?? "", /expected seq 2/);
      } finally {
        await h.close();
      }
    });
  });
}
