import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, type TestApp, TOKYO } from "../../src/testing/app.ts";
import { addPasskey, TEST_ORIGIN } from "../../src/testing/passkeys.ts";
import { softAssert, softRegister } from "../../src/testing/soft-authenticator.ts";

/**
 * Staff sign in to the console with a passkey (issue 17 item 3). A passkey is a way in without the password and the
 * authenticator, so adding one is guarded like the owners': a console left open (a session whose sign-in is over 10
 * minutes old) cannot add one for whoever sits down at it. The staff passkeys are their own: an owner's passkey
 * does not open the console, and a challenge of one kind does not finish the other.
 */
describe("staff-console-left-open-adds-passkey", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  const staffLog = async (type: string) =>
    t.app.database.db
      .selectFrom("staff_events")
      .select(["type", "data", "staff_id"])
      .where("type", "=", type)
      .orderBy("seq")
      .execute();

  const signIn = async (credential: Parameters<typeof softAssert>[0]) => {
    const o = await t.call("POST", "/v1/admin/sign-in/passkey/options", {}, { auth: null });
    assert.equal(o.statusCode, 200, o.body);
    const response = softAssert(credential, o.json().challenge, TEST_ORIGIN);
    return { response, res: await t.call("POST", "/v1/admin/sign-in/passkey", { response }, { auth: null }) };
  };

  it("a fresh console session adds a passkey; it then signs the staff member in alone, and once per challenge", async () => {
    const admin = await t.adminToken();
    const start = await t.call("POST", "/v1/admin/passkeys/registration", {}, { auth: admin });
    assert.equal(start.statusCode, 200, start.body);
    assert.equal(start.json().rp.id, "mamori.test", "Mamori's own host: the console's origin");
    assert.equal(start.json().user.name, "support");
    const { credential, response } = softRegister(start.json(), TEST_ORIGIN);
    const add = await t.call("POST", "/v1/admin/passkeys", { response, name: "サポート用キー" }, { auth: admin });
    assert.equal(add.statusCode, 201, add.body);
    assert.equal(add.json().name, "サポート用キー");
    assert.equal((await staffLog("staff.passkey.added")).length, 1);

    const r = await signIn(credential);
    assert.equal(r.res.statusCode, 200, r.res.body);
    assert.equal(r.res.json().status, "signed_in", "no TOTP challenge after a passkey");
    const me = await t.call("GET", "/v1/admin/me", undefined, { auth: r.res.json().token });
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(me.json().username, "support");
    const ok = (await staffLog("staff.signin.succeeded")).at(-1);
    assert.equal(JSON.parse(ok?.data ?? "{}").factor, "passkey");

    // The same answer again: its challenge is spent.
    const replay = await t.call("POST", "/v1/admin/sign-in/passkey", { response: r.response }, { auth: null });
    assert.equal(replay.statusCode, 400);
    assert.equal(replay.json().error.code, "passkey_challenge_invalid");

    // A staff sign-in's challenge does not sign an owner in, nor an owner's challenge a staff member.
    const staffOptions = (await t.call("POST", "/v1/admin/sign-in/passkey/options", {}, { auth: null })).json();
    const cross = await t.call("POST", "/v1/sign-in/passkey", {
      response: softAssert(credential, staffOptions.challenge, TEST_ORIGIN),
      context: TOKYO,
    });
    assert.equal(cross.json().error.code, "passkey_challenge_invalid");

    const list = (await t.call("GET", "/v1/admin/passkeys", undefined, { auth: r.res.json().token })).json();
    assert.equal(list.passkeys.length, 1);
    assert.ok(list.passkeys[0].lastUsedAt);
    const rm = await t.call("DELETE", `/v1/admin/passkeys/${list.passkeys[0].id}`, undefined, {
      auth: r.res.json().token,
    });
    assert.equal(rm.statusCode, 200, rm.body);
    assert.equal((await staffLog("staff.passkey.removed")).length, 1);
    const gone = await signIn(credential);
    assert.equal(gone.res.statusCode, 401);
    assert.equal(gone.res.json().error.code, "passkey_invalid", "a removed passkey opens nothing");
  });

  it("a console session whose sign-in is over 10 minutes old cannot add one", async () => {
    const admin = await t.adminToken();
    t.clock.advance(8 * 60_000);
    // Kept alive (idle limit 15 minutes), but the sign-in is now 16 minutes old.
    assert.equal((await t.call("GET", "/v1/admin/me", undefined, { auth: admin })).statusCode, 200);
    t.clock.advance(8 * 60_000);
    const start = await t.call("POST", "/v1/admin/passkeys/registration", {}, { auth: admin });
    assert.equal(start.statusCode, 403, start.body);
    assert.equal(start.json().error.code, "reauthentication_required");
  });

  it("an owner's passkey does not open the console, and a disabled staff member's passkey signs nobody in", async () => {
    const owner = await t.signUp("owner.passkey@example.jp");
    const mine = await addPasskey(t, owner.token);
    assert.equal(mine.res.statusCode, 201, mine.res.body);
    const wrongDoor = await signIn(mine.credential!);
    assert.equal(wrongDoor.res.json().error.code, "passkey_invalid");

    // The staff member adds a passkey (after a new sign-in: the last one idled out) and is then disabled: it is
    // refused like a wrong password.
    t.clock.advance(16 * 60_000);
    const admin = await t.adminToken();
    const start = (await t.call("POST", "/v1/admin/passkeys/registration", {}, { auth: admin })).json();
    const lead = softRegister(start, TEST_ORIGIN);
    assert.equal(
      (await t.call("POST", "/v1/admin/passkeys", { response: lead.response }, { auth: admin })).statusCode,
      201,
    );
    await t.app.admin.setAdminDisabled("support", true, { actor: "cli" });
    const refused = await signIn(lead.credential);
    assert.equal(refused.res.statusCode, 401);
    assert.equal(refused.res.json().error.code, "invalid_credentials");
    await t.app.admin.setAdminDisabled("support", false, { actor: "cli" });
    const back = await signIn(lead.credential);
    assert.equal(back.res.json().status, "signed_in");
  });
});
