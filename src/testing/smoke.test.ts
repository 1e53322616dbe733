import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { testStores } from "./stores.ts";

for (const store of testStores) {
  describe(`migrations on ${store.name}`, async () => {
    const skip = await store.skip();
    it("create every table", { skip: skip ?? false }, async () => {
      const h = await store.open();
      try {
        const n = await h.db
          .selectFrom("accounts")
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirstOrThrow();
        assert.equal(Number(n.n), 0);
      } finally {
        await h.close();
      }
    });
  });
}
