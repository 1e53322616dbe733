import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../shared/clock.ts";
import { testStores } from "../testing/stores.ts";
import { createStaffAudit } from "./audit.ts";

for (const store of testStores) {
  describe(`staff audit log contract on ${store.name}`, async () => {
    const skip = (await store.skip()) ?? false;

    it("one chain that concurrent appends cannot fork, and that shows where it was edited or cut", {
      skip,
    }, async () => {
      const h = await store.open();
      try {
        const audit = createStaffAudit({ db: h.db, dialect: h.dialect, clock: new ManualClock() });
        // Forty appends at once, as a guessing flood from many sources would make them.
        await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            audit.record({
              type: "staff.signin.failed",
              username: `u${i % 3}`,
              data: { i },
              actor: "anonymous",
              ip: `192.0.2.${i}`,
            }),
          ),
        );
        const r = await audit.verify();
        assert.deepEqual(r, { events: 40, firstBreak: null });
        const seqs = (await audit.list({ limit: 100 })).map((e) => e.seq).sort((a, b) => a - b);
        assert.deepEqual(
          seqs,
          Array.from({ length: 40 }, (_, i) => i + 1),
        );

        await h.db.updateTable("staff_events").set({ ip: "10.0.0.1" }).where("seq", "=", 17).execute();
        assert.deepEqual((await audit.verify()).firstBreak, {
          seq: 17,
          reason: "hash does not match the event's content",
        });
        await h.db.deleteFrom("staff_events").where("seq", "=", 17).execute();
        assert.deepEqual((await audit.verify()).firstBreak, { seq: 18, reason: "expected seq 17, found 18" });
      } finally {
        await h.close();
      }
    });
  });
}
