import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createMamoriClient, type MamoriClient } from "@mamori/client";
import type { TestApp } from "../../../src/testing/app.ts";
import { FRAMEWORKS, startMamori, unique } from "./harness.ts";

// A store route that calls Mamori (through @mamori/client's unwrap) and is refused answers its own user with Mamori's
// status and code — a frozen account is 423 account_frozen, not a generic 500 the user retries; a rate limit keeps
// its Retry-After — while a refusal of the store's own API key, or Mamori being down, is the store's 503, never a
// 401 that would sign the user out. A session that cannot be checked is not let through (fail closed).
describe("Mamori's refusals become the framework's answers", () => {
  let t: TestApp;
  let mamori: MamoriClient;
  let baseUrl: string;
  before(async () => {
    ({ t, mamori, baseUrl } = await startMamori());
  });
  after(() => t.close());

  for (const fw of FRAMEWORKS) {
    it(`${fw.name}: 401 invalid_credentials, 423 account_frozen, 429 with Retry-After, 503 for the store's key`, async () => {
      const store = await fw.build(mamori, {});
      try {
        const email = `${unique("refusals")}@example.jp`;
        await t.signUp(email);
        const wrong = await store.request("POST", "/login", {
          body: { email, password: "certainly not the password 77" },
        });
        assert.equal(wrong.status, 401);
        assert.equal(wrong.json.error.code, "invalid_credentials");

        const frozen = await store.request("GET", "/refuse?status=423&code=account_frozen");
        assert.equal(frozen.status, 423);
        assert.equal(frozen.json.error.code, "account_frozen");

        const limited = await store.request("GET", "/refuse?status=429&code=rate_limited&retry=30");
        assert.equal(limited.status, 429);
        assert.equal(limited.json.error.code, "rate_limited");
        assert.equal(limited.header("retry-after"), "30");

        const keyRefused = await store.request("GET", "/refuse?status=401&code=unauthorized");
        assert.equal(keyRefused.status, 503);
        assert.equal(keyRefused.json.error.code, "mamori_unavailable");
      } finally {
        await store.close();
      }
    });

    it(`${fw.name}: a session is refused (503), not let through, when Mamori cannot check it`, async () => {
      const { token } = await t.signUp(`${unique("unchecked")}@example.jp`);
      const cookie = `mamori_session=${token}`;
      // the store's key revoked or mistyped: Mamori answers 401 to the store, the user gets 503 and keeps their cookie
      const badKey = await fw.build(createMamoriClient({ baseUrl, apiKey: "mk_not_a_key", retries: 0 }), {});
      // Mamori unreachable (nothing listens on port 9 of this host)
      const down = await fw.build(createMamoriClient({ baseUrl: "http://127.0.0.1:9", retries: 0 }), {});
      try {
        for (const store of [badKey, down]) {
          const r = await store.request("GET", "/me", { headers: { cookie } });
          assert.equal(r.status, 503);
          assert.equal(r.json.error.code, "mamori_unavailable");
        }
      } finally {
        await badKey.close();
        await down.close();
      }
    });
  }
});
