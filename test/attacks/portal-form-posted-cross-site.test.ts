import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";
import { openPortal } from "../portal/helpers.ts";

// A page elsewhere posts a form to the security center while the owner's portal cookie is in her browser (SameSite=Lax
// lets top-level posts from other sites' links through in some browsers' grace periods, and a sibling subdomain is
// same-site). Every change the center offers must refuse a post without our token or marked cross-site, with a
// page, and change nothing.
describe("portal-form-posted-cross-site", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("every change refuses a forged post with a 403 page and changes nothing", async () => {
    const owner = await t.signUp("portal-csrf@example.jp", STRONG, undefined, "ja");
    const b = await openPortal(t, owner.token);
    await b.get();
    const forms: [string, Record<string, string>][] = [
      ["/portal/app-passwords", { name: "forged" }],
      ["/portal/countries", { countries: "RU" }],
      ["/portal/authenticator", { code: "123456" }],
      ["/portal/authenticator/remove", {}],
      ["/portal/recovery-codes", {}],
      ["/portal/app-passwords/revoke", { id: "x" }],
      ["/portal/confirm", { password: STRONG, next: "countries" }],
      ["/portal/not-me", { kind: "order", ref: "x" }],
    ];
    const before = await t.app.risk.getAllowedCountries(owner.accountId);
    for (const [path, form] of forms) {
      for (const forged of [{ site: "cross-site" }, { csrf: null }, { csrf: "mcs_forged" }] as const) {
        const r = await b.post(path, form, forged);
        assert.equal(r.statusCode, 403, `${path} ${JSON.stringify(forged)}`);
        assert.match(String(r.headers["content-type"]), /text\/html/);
        assert.match(r.body, /もう一度お試しください/);
      }
    }
    const apps = await t.app.database.db
      .selectFrom("app_passwords")
      .select("id")
      .where("account_id", "=", owner.accountId)
      .execute();
    assert.equal(apps.length, 0);
    assert.deepEqual(await t.app.risk.getAllowedCountries(owner.accountId), before);
    assert.equal((await t.app.identity.getAccount(owner.accountId)).status, "active");
    // The same posts from the page itself work (the session is fresh: she just signed up).
    assert.equal((await b.post("/portal/countries", { countries: "JP, US" })).statusCode, 200);
    assert.deepEqual(await t.app.risk.getAllowedCountries(owner.accountId), ["JP", "US"]);
  });
});
