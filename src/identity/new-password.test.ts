import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MamoriError } from "../shared/errors.ts";
import { bareAccount, testStores } from "../testing/stores.ts";
import { createNewPasswordRules } from "./new-password.ts";
import { createPasswordPolicy } from "./password-policy.ts";
import { fastTestHasher } from "./passwords.ts";
import { identityStore } from "./store.ts";

const refusal = async (p: Promise<unknown>) => {
  try {
    await p;
    return null;
  } catch (e) {
    if (e instanceof MamoriError) return e.code;
    throw e;
  }
};

for (const store of testStores) {
  describe(`one password policy for sign-up, change, reset and recovery on ${store.name}`, async () => {
    const skip = (await store.skip()) ?? false;

    it("recovery refuses the attacker's password and the stolen one, by the same rules change and reset use", {
      skip,
    }, async () => {
      const h = await store.open();
      const hasher = fastTestHasher();
      const rules = createNewPasswordRules({ hasher, policy: createPasswordPolicy() });
      try {
        await h.db.insertInto("accounts").values(bareAccount("a1", 0)).execute();
        await identityStore.insertContact(h.db, {
          account_id: "a1",
          kind: "email",
          value: "hanako.yamada@example.jp",
          verified: 1,
          verified_at: 0,
          is_primary: 1,
          added_at: 0,
          added_by: null,
        });
        const stolen = "Kumo-no-ue 7 Sakura";
        const attackers = "Umi to yama 42 Kaze";
        await identityStore.setPassword(h.db, "a1", await hasher.hash(stolen), 10);
        await identityStore.setPassword(h.db, "a1", await hasher.hash(attackers), 150);
        const check = (password: string, inForceSince?: number) =>
          refusal(
            rules.assertAcceptable(h.db, {
              accountId: "a1",
              password,
              ...(inForceSince === undefined ? {} : { inForceSince }),
            }),
          );

        // Recovery (window from 100): both were known to the attacker.
        assert.equal(await check(attackers, 100), "password_used_in_window");
        assert.equal(await check(stolen, 100), "password_used_in_window");
        // Change and reset: the last 5.
        assert.equal(await check(stolen), "password_reused");
        // The policy itself, with the account's address as context, for every caller.
        assert.equal(await check("hanako.yamada2026", 100), "password_contains_context");
        assert.equal(await check("password123", 100), "password_breached");
        assert.equal(await check("Tsuki ga kireina 88 Yoru", 100), null);
      } finally {
        await h.close();
      }
    });
  });
}
