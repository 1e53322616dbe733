import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type MamoriClient, unwrap } from "@mamori/client";
import { STRONG, type TestApp, TOKYO } from "../../../src/testing/app.ts";
import { FRAMEWORKS, startMamori, unique } from "./harness.ts";

// A stolen session token: the owner signs out everywhere from their phone. With introspection caching on (5 s), the
// thief's very next request to a money route is refused, because money and credential routes never read the cache;
// and the refusal evicts the cached answer, so normal routes refuse it from then on too.
describe("a revoked session is refused on the next money request despite the cache", () => {
  let t: TestApp;
  let mamori: MamoriClient;
  before(async () => {
    ({ t, mamori } = await startMamori());
  });
  after(() => t.close());

  const stolenAndOwner = async () => {
    const email = `${unique("revoked")}@example.jp`;
    const { token: stolen } = await t.signUp(email);
    const owner = await unwrap(mamori.POST("/v1/sign-in", { body: { email, password: STRONG, context: TOKYO } }));
    assert.equal(owner.status, "signed_in");
    if (owner.status !== "signed_in") throw new Error("owner not signed in");
    const signOutEverywhere = () =>
      unwrap(
        mamori.POST("/v1/sessions/sign-out-everywhere", {
          params: { header: { "x-mamori-session": owner.session.token } },
          body: {},
        }),
      );
    return { stolen, signOutEverywhere };
  };

  for (const fw of FRAMEWORKS) {
    it(`${fw.name}: the money route asks Mamori every time; the refusal clears the cache`, async () => {
      const now = 1_000_000; // the cache's clock stands still: every cached answer is fresh for this test
      const store = await fw.build(mamori, { cacheMs: 5_000, now: () => now });
      try {
        const { stolen, signOutEverywhere } = await stolenAndOwner();
        const cookie = `mamori_session=${stolen}`;
        assert.equal((await store.request("GET", "/me", { headers: { cookie } })).status, 200);
        assert.equal((await store.request("POST", "/checkout", { headers: { cookie } })).status, 200);

        await signOutEverywhere();

        const checkout = await store.request("POST", "/checkout", { headers: { cookie } });
        assert.equal(checkout.status, 401);
        assert.equal(checkout.json.error.code, "session_invalid");
        const me = await store.request("GET", "/me", { headers: { cookie } });
        assert.equal(me.status, 401);
      } finally {
        await store.close();
      }
    });

    it(`${fw.name}: a normal route trusts a cached answer for at most cacheMs; without a cache, not at all`, async () => {
      let now = 1_000_000;
      const cached = await fw.build(mamori, { cacheMs: 60_000, now: () => now }); // clamped to 5 s
      const uncached = await fw.build(mamori, {});
      try {
        const { stolen, signOutEverywhere } = await stolenAndOwner();
        const cookie = `mamori_session=${stolen}`;
        assert.equal((await cached.request("GET", "/me", { headers: { cookie } })).status, 200);
        assert.equal((await uncached.request("GET", "/me", { headers: { cookie } })).status, 200);
        await signOutEverywhere();
        assert.equal((await uncached.request("GET", "/me", { headers: { cookie } })).status, 401);
        // the bound the store chose for normal routes: still the cached answer within it …
        now += 5_000 - 1;
        assert.equal((await cached.request("GET", "/me", { headers: { cookie } })).status, 200);
        // … and never beyond 5 s, whatever cacheMs was asked for
        now += 1;
        assert.equal((await cached.request("GET", "/me", { headers: { cookie } })).status, 401);
      } finally {
        await cached.close();
        await uncached.close();
      }
    });

    it(`${fw.name}: no token, an unknown token, or a token in the configured header`, async () => {
      const store = await fw.build(mamori, { session: { header: "x-store-session" } });
      try {
        const none = await store.request("GET", "/me");
        assert.equal(none.status, 401);
        assert.equal(none.json.error.code, "session_invalid");
        const unknown = await store.request("GET", "/me", {
          headers: { "x-store-session": "mms_not_a_real_token_at_all" },
        });
        assert.equal(unknown.status, 401);
        const { token } = await t.signUp(`${unique("header")}@example.jp`);
        // a cookie of the default name is not read when the store configured a header only
        assert.equal(
          (await store.request("GET", "/me", { headers: { cookie: `mamori_session=${token}` } })).status,
          401,
        );
        const ok = await store.request("GET", "/me", { headers: { "x-store-session": token } });
        assert.equal(ok.status, 200);
        assert.equal(typeof ok.json.accountId, "string");
      } finally {
        await store.close();
      }
    });
  }
});
