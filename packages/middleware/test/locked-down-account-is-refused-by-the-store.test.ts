import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { MamoriClient } from "@mamori/client";
import { STRONG, type TestApp, TOKYO } from "../../../src/testing/app.ts";
import { FRAMEWORKS, PEER, startMamori, unique } from "./harness.ts";

// Support locks a taken-over account down. Through the store's own routes, with caching on: the thief's session is
// refused at the next checkout, and a sign-in with the (stolen) password answers Mamori's real 423 account_frozen,
// so the store can offer recovery instead of "wrong password". (From the owner's own context, forwarded through the
// store's proxy: from a stranger's context the answer is the same challenge as for a wrong password.)
describe("a locked-down account is refused by the store", () => {
  let t: TestApp;
  let mamori: MamoriClient;
  before(async () => {
    ({ t, mamori } = await startMamori());
  });
  after(() => t.close());

  for (const fw of FRAMEWORKS) {
    it(`${fw.name}: the session is refused on checkout, the sign-in answers 423 account_frozen`, async () => {
      const store = await fw.build(mamori, { cacheMs: 5_000, now: () => 1_000_000, trustedProxies: [PEER] });
      try {
        const email = `${unique("frozen")}@example.jp`;
        const { accountId } = await t.signUp(email);
        // a day later (a sign-in minutes after sign-up is judged a risky context), from the owner's own device,
        // forwarded through the store's proxy
        t.clock.advance(86_400_000);
        const owner = {
          "x-forwarded-for": TOKYO.ip,
          "user-agent": TOKYO.userAgent,
          cookie: `mamori_device=${TOKYO.deviceId}`,
        };
        const login = await store.request("POST", "/login", { headers: owner, body: { email, password: STRONG } });
        assert.equal(login.json.status, "signed_in", JSON.stringify(login.json));
        const cookie = `mamori_session=${login.json.token}`;
        assert.equal((await store.request("GET", "/me", { headers: { cookie } })).status, 200);
        assert.equal((await store.request("POST", "/checkout", { headers: { cookie } })).status, 200);

        const lock = await t.call(
          "POST",
          `/v1/admin/accounts/${accountId}/lockdown`,
          { reason: "owner phoned: not their orders" },
          { auth: await t.adminToken() },
        );
        assert.equal(lock.statusCode, 200, lock.body);

        const checkout = await store.request("POST", "/checkout", { headers: { cookie } });
        assert.equal(checkout.status, 401);
        assert.equal(checkout.json.error.code, "session_invalid");

        const signIn = await store.request("POST", "/login", { headers: owner, body: { email, password: STRONG } });
        assert.equal(signIn.status, 423, JSON.stringify(signIn.json));
        assert.equal(signIn.json.error.code, "account_frozen");
      } finally {
        await store.close();
      }
    });
  }
});
