import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { makeTestApp, type TestApp } from "../../../testing/app.ts";
import { createPasskeyFactor, type PasskeyFactor } from "./factor.ts";
import { passkeyStore } from "./store.ts";

/**
 * The passkey factor against recorded responses (fixtures.json, made once by scripts/passkey-fixtures.ts with a
 * software authenticator): real attestation and assertion bytes, verified by @simplewebauthn/server, for the
 * relying party shop.example. The challenges are the recorded ones, handed out in order by the factor's seam.
 */
const F = JSON.parse(readFileSync(new URL("./fixtures.json", import.meta.url), "utf8"));

async function rejects(p: Promise<unknown>, code: string) {
  await assert.rejects(p, (e: { code?: string }) => {
    assert.equal(e.code, code);
    return true;
  });
}

describe("passkey factor (recorded fixtures)", () => {
  let t: TestApp;
  let factor: PasskeyFactor;
  let accountId: string;
  const queue: string[] = [];
  before(async () => {
    t = await makeTestApp();
    accountId = (await t.signUp("fixture-owner@example.jp")).accountId;
    factor = createPasskeyFactor({
      db: t.app.database.db,
      clock: t.clock,
      events: t.app.events,
      config: { rpId: F.rpId, rpName: "Shop", origins: [F.origin], challengeTtlMs: 5 * 60_000 },
      newChallenge: () => queue.shift() ?? assert.fail("no recorded challenge left"),
      newUserHandle: () => F.userHandle,
    });
  });
  after(() => t.close());

  const register = async (fixture: { challenge: string; response: unknown }, sessionId = "s1") => {
    queue.push(fixture.challenge);
    const o = await factor.registrationOptions({ accountId, sessionId, userName: "fixture-owner@example.jp" });
    assert.equal(o.challenge, fixture.challenge);
    assert.equal(o.attestation, "none", "attestation none by default");
    assert.equal(o.authenticatorSelection?.residentKey, "required", "discoverable credential");
    const v = await factor.verifyRegistration({ accountId, sessionId, response: fixture.response as never });
    return t.app.database.db.transaction().execute((tx) => factor.addRegistered(tx, v, { name: "Phone", by: "test" }));
  };
  const signIn = async (fixture: { challenge: string; response: unknown }, issue = true) => {
    if (issue) {
      queue.push(fixture.challenge);
      await factor.challenge({ purpose: "signin", accountId: null, boundTo: null });
    }
    return factor.verify({
      purpose: "signin",
      accountId: null,
      boundTo: null,
      proof: fixture.response as never,
      ip: "203.0.113.9",
    });
  };

  it("refuses a registration made on a phishing origin, and one for another RP id", async () => {
    await rejects(register(F.registrationFromPhishingOrigin), "passkey_invalid");
    await rejects(register(F.registrationForWrongRpId), "passkey_invalid");
    assert.equal(await factor.enrolled(t.app.database.db, accountId), false);
  });

  it("refuses a registration answered for another session's challenge", async () => {
    queue.push(F.registration.challenge);
    await factor.registrationOptions({ accountId, sessionId: "owner-session", userName: "x" });
    await rejects(
      factor.verifyRegistration({ accountId, sessionId: "attacker-session", response: F.registration.response }),
      "passkey_challenge_invalid",
    );
    // That challenge is spent: the recorded registration needs it issued again below.
    await t.app.database.db.deleteFrom("passkey_challenges").execute();
  });

  it("registers the recorded credential (ES256, attestation none)", async () => {
    const row = await register(F.registration);
    assert.equal(row.credential_id, F.registration.response.id);
    assert.equal(row.user_handle, F.userHandle);
    assert.equal(row.sign_count, 0);
    assert.equal(await factor.enrolled(t.app.database.db, accountId), true);
    assert.deepEqual(
      (await factor.describe(t.app.database.db, accountId)).map((i) => i.name),
      ["Phone"],
    );
  });

  it("signs in with the recorded assertion, and its challenge cannot be replayed", async () => {
    const r = await signIn(F.assertion1);
    assert.equal(r.accountId, accountId);
    const row = await passkeyStore.byCredentialId(t.app.database.db, F.registration.response.id);
    assert.equal(row?.sign_count, 1);
    await rejects(signIn(F.assertion1, false), "passkey_challenge_invalid");
  });

  it("refuses an assertion signed for a phishing origin or another RP id", async () => {
    await rejects(signIn(F.assertionFromPhishingOrigin), "passkey_invalid");
    await rejects(signIn(F.assertionForWrongRpId), "passkey_invalid");
    const row = await passkeyStore.byCredentialId(t.app.database.db, F.registration.response.id);
    assert.equal(row?.sign_count, 1, "a refused assertion moves no counter");
  });

  it("refuses a challenge issued for another purpose, and an expired one", async () => {
    queue.push(F.assertion2.challenge);
    await factor.challenge({ purpose: "step_up", accountId, boundTo: "some-session" });
    await rejects(signIn(F.assertion2, false), "passkey_challenge_invalid");
    await t.app.database.db.deleteFrom("passkey_challenges").execute();
    queue.push(F.assertion2.challenge);
    await factor.challenge({ purpose: "signin", accountId: null, boundTo: null });
    t.clock.advance(5 * 60_000 + 1);
    await rejects(signIn(F.assertion2, false), "passkey_challenge_invalid");
    await t.app.database.db.deleteFrom("passkey_challenges").execute();
  });

  it("a signed counter that goes backwards is a clone warning and a refusal", async () => {
    assert.equal((await signIn(F.assertion2)).accountId, accountId);
    await rejects(signIn(F.assertionRegressed), "passkey_clone_suspected");
    const ev = await t.app.database.db
      .selectFrom("events")
      .select(["type", "data"])
      .where("account_id", "=", accountId)
      .where("type", "=", "passkey.clone_warning")
      .execute();
    assert.equal(ev.length, 1);
    assert.deepEqual(
      { stored: JSON.parse(ev[0]!.data).storedCount, presented: JSON.parse(ev[0]!.data).presentedCount },
      { stored: 2, presented: 1 },
    );
    const row = await passkeyStore.byCredentialId(t.app.database.db, F.registration.response.id);
    assert.equal(row?.sign_count, 2, "the clone did not move the counter");
  });

  it("roll-back since a time removes a passkey added after it, and brings back one removed after it", async () => {
    const db = t.app.database.db;
    const [p] = await passkeyStore.live(db, accountId);
    const since = p!.created_at + 1;
    assert.deepEqual(await factor.planRollBack(db, { accountId, since }), []);
    await db
      .transaction()
      .execute((tx) => factor.remove(tx, { accountId, itemId: p!.id, by: "attacker", now: since + 5 }));
    const plan = await factor.planRollBack(db, { accountId, since });
    assert.deepEqual(
      plan.map((c) => c.action),
      ["restored"],
    );
    await db.transaction().execute((tx) => factor.rollBackSince(tx, { accountId, since, now: since + 10, by: "case" }));
    assert.equal((await passkeyStore.live(db, accountId)).length, 1);
    const before = p!.created_at - 1;
    const removed = await db
      .transaction()
      .execute((tx) => factor.rollBackSince(tx, { accountId, since: before, now: since + 20, by: "case" }));
    assert.deepEqual(
      removed.map((c) => c.action),
      ["removed"],
    );
    assert.equal(await factor.enrolled(db, accountId), false);
  });
});
