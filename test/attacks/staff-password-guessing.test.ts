import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { totpCodeAt } from "../../src/identity/totp.ts";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";

// A staff login opens every account, so guessing its password must get nowhere: per source, per username from
// everywhere and across usernames from one source, with the same answers for names that do not exist — and a right
// password alone is never an admin session (NIST SP 800-63B §5.2.2; AAL2 needs a second factor).
const PASSWORD = "granite owls mend silver fences 58";

/** A staff member who has been through the first sign-in: own password, TOTP enrolled. */
async function enrolledStaff(t: TestApp, username: string): Promise<{ secret: string }> {
  const setup = `setup-${username}-from-the-operator`;
  await t.app.admin.createAdminUser(username, setup);
  const s = await t.call("POST", "/v1/admin/sign-in", { username, password: setup }, { auth: null, ip: "10.0.0.1" });
  assert.equal(s.statusCode, 200, s.body);
  const token = s.json().token;
  const pw = await t.call(
    "POST",
    "/v1/admin/password",
    { currentPassword: setup, newPassword: PASSWORD },
    { auth: token, ip: "10.0.0.1" },
  );
  assert.equal(pw.statusCode, 200, pw.body);
  const { secret } = (await t.call("POST", "/v1/admin/totp/setup", {}, { auth: token })).json();
  const c = await t.call(
    "POST",
    "/v1/admin/totp/confirm",
    { code: totpCodeAt(secret, t.clock.now()) },
    { auth: token },
  );
  assert.equal(c.statusCode, 200, c.body);
  return { secret };
}

async function signIn(t: TestApp, username: string, password: string, ip: string) {
  return t.call("POST", "/v1/admin/sign-in", { username, password }, { auth: null, ip });
}

/** The answer with what may differ between two refusals (the seconds to wait) taken out. */
function shape(r: { statusCode: number; body: string }) {
  const j = JSON.parse(r.body);
  if (j.error?.details?.retryAfterSeconds !== undefined) j.error.details.retryAfterSeconds = "n";
  return { status: r.statusCode, body: j };
}

describe("staff-password-guessing", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("from one source: five wrong guesses stop that source, for a real name and an unknown one alike", async () => {
    await enrolledStaff(t, "aiko");
    const real: ReturnType<typeof shape>[] = [];
    const ghost: ReturnType<typeof shape>[] = [];
    for (let i = 0; i < 5; i++) {
      real.push(shape(await signIn(t, "aiko", `guess-${i}`, "203.0.113.5")));
      ghost.push(shape(await signIn(t, "nobody-here", `guess-${i}`, "203.0.113.6")));
    }
    assert.equal(real[0]!.status, 401);
    assert.equal(real[0]!.body.error.code, "invalid_credentials");
    // A wrong password and a name nobody has get the same answer, every time.
    assert.deepEqual(real, ghost);
    // The sixth try is refused before any password check — the right password too.
    const right = await signIn(t, "aiko", PASSWORD, "203.0.113.5");
    const unknown = await signIn(t, "nobody-here", PASSWORD, "203.0.113.6");
    assert.equal(right.statusCode, 429, right.body);
    assert.equal(right.json().error.code, "rate_limited");
    assert.ok(right.json().error.details.retryAfterSeconds > 0);
    assert.ok(Number(right.headers["retry-after"]) > 0);
    assert.deepEqual(shape(right), shape(unknown));
    // Another source is not stopped by this one's guesses: the staff member is not locked out from their desk.
    const desk = await signIn(t, "aiko", PASSWORD, "10.1.1.1");
    assert.equal(desk.statusCode, 200, desk.body);
    assert.equal(desk.json().status, "totp_required");
    // Once the window has passed, the source may try again.
    t.clock.advance(16 * 60_000);
    assert.equal((await signIn(t, "aiko", PASSWORD, "203.0.113.5")).json().status, "totp_required");
  });

  it("from many sources: ten wrong guesses at one name stop it from everywhere for the window, known or not", async () => {
    await enrolledStaff(t, "botan");
    for (let i = 0; i < 10; i++) {
      // A botnet: every guess from another address, so no source reaches its own limit.
      const a = await signIn(t, "botan", `guess-${i}`, `198.51.${i}.7`);
      const b = await signIn(t, "no-such-staff", `guess-${i}`, `198.52.${i}.7`);
      assert.equal(a.statusCode, 401);
      assert.deepEqual(shape(a), shape(b));
    }
    const right = await signIn(t, "botan", PASSWORD, "198.51.200.1");
    assert.equal(right.statusCode, 429, "the right password is refused too: the guesses learn nothing");
    assert.deepEqual(shape(right), shape(await signIn(t, "no-such-staff", PASSWORD, "198.52.200.1")));
    t.clock.advance(16 * 60_000);
    assert.equal((await signIn(t, "botan", PASSWORD, "198.51.200.1")).json().status, "totp_required");
  });

  it("spraying: one source guessing many names is stopped after 20 failures, whatever name it tries next", async () => {
    await enrolledStaff(t, "chika");
    for (let i = 0; i < 20; i++) {
      const r = await signIn(t, `name-${i}`, "Password1!", "192.0.2.50");
      assert.equal(r.statusCode, 401);
    }
    const r = await signIn(t, "chika", PASSWORD, "192.0.2.50");
    assert.equal(r.statusCode, 429);
    assert.equal(r.json().error.code, "rate_limited");
  });

  it("a right password without the TOTP code gets no admin session; guessing the code is bounded", async () => {
    const { secret } = await enrolledStaff(t, "daichi");
    t.clock.advance(30_000); // the enrolment used this step's code
    const r = await signIn(t, "daichi", PASSWORD, "100.64.0.9");
    assert.equal(r.statusCode, 200);
    const answer = r.json();
    assert.equal(answer.status, "totp_required");
    assert.equal(answer.token, undefined, "no session before the second factor");
    assert.match(answer.challengeId, /^msa_/);
    // The challenge id is not an admin token.
    const asToken = await t.call("GET", "/v1/admin/accounts?q=abc", undefined, { auth: answer.challengeId });
    assert.equal(asToken.statusCode, 401);
    // Five wrong codes, then the challenge is spent: even the right code is refused.
    const good = totpCodeAt(secret, t.clock.now());
    const wrongCode = good === "000000" ? "111111" : "000000";
    for (let i = 0; i < 5; i++) {
      const v = await t.call(
        "POST",
        "/v1/admin/sign-in/verify",
        { challengeId: answer.challengeId, code: wrongCode },
        { auth: null, ip: "100.64.0.9" },
      );
      assert.equal(v.statusCode, 401);
      assert.equal(v.json().error.code, "invalid_code");
    }
    const late = await t.call(
      "POST",
      "/v1/admin/sign-in/verify",
      { challengeId: answer.challengeId, code: good },
      { auth: null, ip: "100.64.0.9" },
    );
    assert.equal(late.statusCode, 401);
    assert.equal(late.json().error.code, "staff_challenge_invalid");
    // Those five wrong codes counted against the source: the pair is stopped now.
    assert.equal((await signIn(t, "daichi", PASSWORD, "100.64.0.9")).statusCode, 429);
    // From the desk, password and code give a session that works.
    const c = (await signIn(t, "daichi", PASSWORD, "10.2.2.2")).json();
    const v = await t.call(
      "POST",
      "/v1/admin/sign-in/verify",
      { challengeId: c.challengeId, code: good },
      { auth: null, ip: "10.2.2.2" },
    );
    assert.equal(v.statusCode, 200, v.body);
    assert.equal(v.json().status, "signed_in");
    assert.equal(
      (await t.call("GET", "/v1/admin/accounts?q=abc", undefined, { auth: v.json().token })).statusCode,
      200,
    );
    // The same code again (a replay, e.g. read over a shoulder) does not sign in a second time.
    const c2 = (await signIn(t, "daichi", PASSWORD, "10.2.2.2")).json();
    const replay = await t.call(
      "POST",
      "/v1/admin/sign-in/verify",
      { challengeId: c2.challengeId, code: good },
      { auth: null, ip: "10.2.2.2" },
    );
    assert.equal(replay.statusCode, 401);
  });

  it("a staff member who has not enrolled yet gets a setup session that opens no admin route", async () => {
    await t.app.admin.createAdminUser("eri", "setup-eri-from-the-operator");
    const r = await signIn(t, "eri", "setup-eri-from-the-operator", "10.3.3.3");
    assert.equal(r.json().status, "setup_required");
    assert.deepEqual(r.json().required, ["password_change", "totp_enrolment"]);
    const denied = await t.call("GET", "/v1/admin/accounts?q=abc", undefined, { auth: r.json().token });
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.json().error.code, "staff_password_change_required");
  });

  it("a disabled login answers like a wrong password, right password or not, and its sessions are over", async () => {
    const { secret } = await enrolledStaff(t, "goro");
    t.clock.advance(30_000);
    const c = (await signIn(t, "goro", PASSWORD, "10.4.4.4")).json();
    const token = (
      await t.call(
        "POST",
        "/v1/admin/sign-in/verify",
        { challengeId: c.challengeId, code: totpCodeAt(secret, t.clock.now()) },
        { auth: null, ip: "10.4.4.4" },
      )
    ).json().token;
    await t.app.admin.setAdminDisabled("goro", true);
    assert.equal((await t.call("GET", "/v1/admin/accounts?q=abc", undefined, { auth: token })).statusCode, 401);
    const right = await signIn(t, "goro", PASSWORD, "10.4.4.5");
    const wrong = await signIn(t, "goro", "not-it", "10.4.4.6");
    assert.deepEqual(shape(right), shape(wrong));
    assert.equal(right.json().error.code, "invalid_credentials");
  });

  it("every failure and refusal is in the staff log, which is hash-chained and intact", async () => {
    const log = await t.app.staffAudit.list({ limit: 1000 });
    const failed = log.filter((e) => e.type === "staff.signin.failed");
    const at = (ip: string) => failed.filter((e) => e.ip === ip);
    // aiko's five from one source, and the unknown name's five, with the reason only the log knows.
    assert.equal(at("203.0.113.5").length, 5);
    assert.ok(at("203.0.113.5").every((e) => e.username === "aiko" && e.data.reason === "wrong_password"));
    assert.equal(at("203.0.113.6").length, 5);
    assert.ok(at("203.0.113.6").every((e) => e.staffId === null && e.data.reason === "unknown_user"));
    assert.equal(failed.filter((e) => e.username === "botan").length, 10);
    assert.equal(failed.filter((e) => e.ip === "192.0.2.50").length, 20);
    assert.equal(failed.filter((e) => e.username === "daichi" && e.data.reason === "totp_invalid").length, 5);
    const throttled = log.filter((e) => e.type === "staff.signin.throttled");
    for (const ip of ["203.0.113.5", "203.0.113.6", "198.51.200.1", "192.0.2.50", "100.64.0.9"]) {
      assert.ok(
        throttled.some((e) => e.ip === ip),
        `the refusal from ${ip} is logged`,
      );
    }
    assert.ok(log.some((e) => e.type === "staff.signin.succeeded" && e.username === "daichi"));
    assert.ok(failed.some((e) => e.username === "goro" && e.ip === "10.4.4.5" && e.data.reason === "disabled"));
    assert.ok(log.some((e) => e.type === "staff.disabled" && e.username === "goro"));
    assert.ok(log.some((e) => e.type === "staff.totp.enrolled" && e.username === "aiko"));
    assert.ok(log.some((e) => e.type === "staff.password.changed" && e.username === "aiko" && e.data.forced === true));
    const report = await t.app.staffAudit.verify();
    assert.equal(report.firstBreak, null);
    assert.equal(report.events, log.length);
    // Editing any event breaks the chain there.
    const victim = failed[3]!;
    await t.app.database.db
      .updateTable("staff_events")
      .set({ data: JSON.stringify({ reason: "nothing to see" }) })
      .where("id", "=", victim.id)
      .execute();
    assert.equal((await t.app.staffAudit.verify()).firstBreak?.seq, victim.seq);
  });
});
