import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, STRONG, type TestApp, TOKYO } from "../../src/testing/app.ts";
import { openPortal, textOf } from "./helpers.ts";

/**
 * An old tablet of hers, sold or lent, is still signed in. Before, the security center offered only "This wasn't me"
 * for another device: a full lockdown (account frozen, recovery) for a device that is simply hers. Now one button signs
 * that device out — through the API's revokeSession, so its rules hold — and nothing else changes; a forged or foreign
 * id is a page, and a cross-site post does nothing.
 */
describe("old-tablet-left-signed-in", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("signs the other device out without a lockdown, and nothing else", async () => {
    const owner = await t.signUp("old-tablet@example.jp", STRONG, undefined, "ja");
    const tablet = await t.signIn("old-tablet@example.jp", STRONG, { ...TOKYO, userAgent: "Mozilla/5.0 (iPad)" });
    const tabletToken = tablet.session.token as string;
    const tabletId = (await t.app.sessions.introspect(tabletToken)).sessionId as string;
    assert.ok(tabletId);
    const other = await t.signUp("someone-else@example.jp", STRONG, undefined, "ja");
    const b = await openPortal(t, owner.token);
    const page = await b.get();
    assert.match(textOf(page.body), /この端末をログアウトさせる/);

    // A cross-site post does nothing.
    const forged = await b.post("/portal/sessions/sign-out", { id: tabletId }, { site: "cross-site" });
    assert.equal(forged.statusCode, 403);
    assert.equal((await t.app.sessions.introspect(tabletToken)).active, true);
    // Someone else's session id, or garbage: a page, nothing ended.
    const foreign = await b.post("/portal/sessions/sign-out", {
      id: (await t.app.sessions.introspect(other.token)).sessionId as string,
    });
    assert.equal(foreign.statusCode, 404);
    assert.match(String(foreign.headers["content-type"]), /text\/html/);
    assert.equal((await t.app.sessions.introspect(other.token)).active, true);
    assert.equal((await b.post("/portal/sessions/sign-out", { id: "'><script>" })).statusCode, 404);

    const done = await b.post("/portal/sessions/sign-out", { id: tabletId });
    assert.equal(done.statusCode, 303, done.body);
    assert.match(String(done.headers.location), /signedOut=1#sessions/);
    assert.equal((await t.app.sessions.introspect(tabletToken)).active, false, "the tablet is signed out");
    assert.equal((await t.app.sessions.introspect(owner.token)).active, true, "this device stays signed in");
    const a = await t.app.identity.getAccount(owner.accountId);
    assert.equal(a.status, "active", "no lockdown: the account is not frozen");
    const cases = await t.app.database.db
      .selectFrom("cases")
      .select("id")
      .where("account_id", "=", owner.accountId)
      .execute();
    assert.equal(cases.length, 0);
    const shown = await b.get("/portal/?lang=ja&signedOut=1");
    assert.match(textOf(shown.body), /その端末をログアウトさせました/);
    assert.doesNotMatch(shown.body, /iPad/, "the tablet is no longer listed");
  });
});
