import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FastifyReply } from "fastify";
import { consoleKit } from "../../src/console/kit.tsx";
import { totpCodeAt } from "../../src/identity/totp.ts";
import type { RouteDeps } from "../../src/route-deps.ts";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";
import { ConsoleBrowser } from "./client.ts";
import { consoleSignIn, enrolStaff } from "./helpers.ts";

const suffix = () => Math.random().toString(36).slice(2, 8);

describe("support console sign-in: two factors, a cookie for /console only, CSRF on every form", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("a new agent sets a password and enrols an authenticator before anything else; later sign-ins ask for both", async () => {
    const { staff } = await enrolStaff(t, `aoi${suffix()}`, "agent");
    const b = new ConsoleBrowser(t);
    await b.get("/console/sign-in");
    assert.match(b.last, /<html lang="ja">/);
    const r = await b.post("/console/sign-in", { username: staff.username, password: staff.password });
    // The password alone gives no session: a code form, and no cookie.
    assert.equal(r.statusCode, 200);
    assert.match(b.text(), /認証アプリのコード/);
    assert.equal([...b.cookies.keys()].includes("mamori_console"), false);
    const home = await b.get("/console/", { follow: false });
    assert.equal(home.statusCode, 303);
    assert.match(String(home.headers.location), /sign-in$/);

    await b.get("/console/sign-in");
    await b.post("/console/sign-in", { username: staff.username, password: staff.password });
    const wrong = await b.post("/console/sign-in/code", { challengeId: b.hidden("challengeId"), code: "000000" });
    assert.equal(wrong.statusCode, 401);
    assert.match(b.text(), /コードが違う/);
    const ok = await b.post(
      "/console/sign-in/code",
      { challengeId: b.hidden("challengeId"), code: totpCodeAt(staff.secret, t.clock.now()) },
      { follow: false },
    );
    assert.equal(ok.statusCode, 303);
    const cookie = b.cookies.get("mamori_console");
    assert.ok(cookie, "a session cookie");
    assert.match(cookie.raw, /^mamori_console=mad_[A-Za-z0-9_-]+; Path=\/console; HttpOnly; SameSite=Strict$/);
    const page = await b.get("/console/");
    assert.equal(page.statusCode, 200);
    assert.match(b.text(), new RegExp(`${staff.username}（担当者）`));
    assert.match(String(page.headers["content-security-policy"]), /script-src 'none'/);
    t.clock.advance(30_000);
  });

  it("on https the cookie is Secure and __Secure- prefixed, still only for /console", () => {
    const kit = consoleKit({ publicUrl: "https://mamori.example", networkOf: () => null } as unknown as RouteDeps);
    let set = "";
    const reply = { header: (_k: string, v: string) => (set = v) } as unknown as FastifyReply;
    kit.setSession(reply, "mad_x");
    assert.equal(set, "__Secure-mamori_console=mad_x; Path=/console; HttpOnly; SameSite=Strict; Secure");
    const under = consoleKit({
      publicUrl: "https://shop.example/mamori",
      networkOf: () => null,
    } as unknown as RouteDeps);
    under.setSession(reply, "mad_y");
    assert.match(set, /; Path=\/mamori\/console;/);
  });

  it("cross-site-post-refused: a form posted from another site is refused with a page, and nothing happens", async () => {
    const { staff, browser } = await enrolStaff(t, `ren${suffix()}`, "lead");
    const victim = await enrolStaff(t, `mio${suffix()}`, "agent");
    await browser.get("/console/staff");
    // The attacker's page cannot read our token; even with a token, the browser says the post is cross-site.
    for (const site of ["cross-site", "same-site"]) {
      const r = await browser.post(
        "/console/staff/disable",
        { username: victim.staff.username, disabled: "1" },
        { site },
      );
      assert.equal(r.statusCode, 403, site);
      assert.match(String(r.headers["content-type"]), /^text\/html/);
      assert.match(browser.text(), /もう一度お試しください/);
    }
    await browser.get("/console/staff");
    const forged = await browser.request("POST", "/console/staff/disable", {
      csrf: "forged",
      username: victim.staff.username,
      disabled: "1",
    });
    assert.equal(forged.statusCode, 403);
    const signIn = await new ConsoleBrowser(t).request("POST", "/console/sign-in", {
      username: staff.username,
      password: staff.password,
    });
    assert.equal(signIn.statusCode, 403, "even the sign-in form needs its token (login CSRF)");
    const users = await t.app.admin.listAdminUsers();
    assert.equal(users.find((u) => u.username === victim.staff.username)?.disabledAt, null);
    // The victim's console still works.
    assert.equal((await victim.browser.get("/console/")).statusCode, 200);
  });

  it("agent-cannot-do-lead-actions: an agent is refused the staff page and its form; the refusal is logged", async () => {
    const agent = await enrolStaff(t, `kai${suffix()}`, "agent");
    const other = await enrolStaff(t, `yui${suffix()}`, "agent");
    const page = await agent.browser.get("/console/staff");
    assert.equal(page.statusCode, 403);
    assert.match(agent.browser.text(), /リーダーのみ/);
    await agent.browser.get("/console/");
    const post = await agent.browser.post("/console/staff/disable", { username: other.staff.username, disabled: "1" });
    assert.equal(post.statusCode, 403);
    const users = await t.app.admin.listAdminUsers();
    assert.equal(users.find((u) => u.username === other.staff.username)?.disabledAt, null);
    const log = await t.app.staffAudit.list({ limit: 20 });
    assert.ok(log.some((e) => e.type === "staff.refused" && e.username === agent.staff.username));
    // Nor through the API: policies are a lead's.
    const token = await t.app.admin.requireAdmin(agent.browser.cookies.get("mamori_console")!.value);
    assert.equal(token.role, "agent");
    const api = await t.call(
      "POST",
      "/v1/admin/risk/policies",
      { rules: [] },
      { auth: agent.browser.cookies.get("mamori_console")!.value },
    );
    assert.equal(api.statusCode, 403);
    assert.equal(api.json().error.code, "staff_role_required");
  });

  it("session-ends-on-staff-disable: a lead disables an agent in the console and the agent's next page is the sign-in", async () => {
    const lead = await enrolStaff(t, `sora${suffix()}`, "lead");
    const agent = await enrolStaff(t, `hina${suffix()}`, "agent");
    assert.equal((await agent.browser.get("/console/")).statusCode, 200);
    await lead.browser.get("/console/staff");
    const r = await lead.browser.post("/console/staff/disable", { username: agent.staff.username, disabled: "1" });
    assert.equal(r.statusCode, 200);
    assert.match(lead.browser.text(), /変更しました/);
    const next = await agent.browser.get("/console/", { follow: false });
    assert.equal(next.statusCode, 303);
    assert.match(String(next.headers.location), /sign-in$/);
    // A post with the old cookie: a page, the cookie cleared.
    await agent.browser.get("/console/sign-in");
    const post = await agent.browser.post("/console/staff/disable", { username: lead.staff.username, disabled: "1" });
    assert.equal(post.statusCode, 401);
    assert.match(agent.browser.text(), /セッションが終了しました/);
    const leadId = (await t.app.admin.requireAdmin(lead.browser.cookies.get("mamori_console")!.value)).adminId;
    const log = await t.app.staffAudit.list({ limit: 30 });
    assert.ok(log.some((e) => e.type === "staff.disabled" && e.actor === `staff:${leadId}`));
  });

  it("session-ends-on-staff-password-change: a password change elsewhere ends the console session", async () => {
    const { staff, browser } = await enrolStaff(t, `rin${suffix()}`, "agent");
    const other = await consoleSignIn(t, staff);
    const token = other.cookies.get("mamori_console")!.value;
    await t.app.admin.changeStaffPassword(
      await t.app.admin.requireAdmin(token),
      {
        currentPassword: staff.password,
        newPassword: "an entirely new staff passphrase 71",
        code: totpCodeAt(staff.secret, t.clock.now()),
      },
      "203.0.113.9",
    );
    const next = await browser.get("/console/", { follow: false });
    assert.equal(next.statusCode, 303);
    assert.match(String(next.headers.location), /sign-in$/);
    assert.equal((await other.get("/console/")).statusCode, 200, "the session that changed it stays");
  });

  it("sign-out ends the session and clears the cookie", async () => {
    const { browser } = await enrolStaff(t, `nao${suffix()}`, "agent");
    const cookie = browser.cookies.get("mamori_console")!.value;
    await browser.get("/console/");
    const r = await browser.post("/console/sign-out", {});
    assert.equal(r.statusCode, 200);
    assert.match(browser.text(), /ログアウトしました/);
    assert.equal(browser.cookies.has("mamori_console"), false);
    await assert.rejects(t.app.admin.requireAdmin(cookie));
  });

  it("bad input is a page: no JSON, no stack, whatever is sent", async () => {
    const b = new ConsoleBrowser(t);
    await b.get("/console/sign-in");
    const cases = [
      await b.request("POST", "/console/sign-in", { csrf: b.csrf() }),
      await b.request("POST", "/console/sign-in/code", { csrf: b.csrf(), challengeId: "x", code: "1" }),
      await b.request("POST", "/console/sign-in", { csrf: b.csrf(), username: "x".repeat(5000), password: "y" }),
      await t.app.http.inject({
        method: "POST",
        url: "/console/sign-in",
        headers: { "content-type": "application/json" },
        payload: '{"username": ',
      }),
      await t.app.http.inject({ method: "GET", url: "/console/nope/%ZZ" }),
      await t.app.http.inject({ method: "POST", url: "/console/sign-in", payload: "a=%00" }),
    ];
    for (const r of cases) {
      assert.ok(r.statusCode >= 400 && r.statusCode < 500, `${r.statusCode} ${r.body.slice(0, 200)}`);
      assert.match(String(r.headers["content-type"]), /^text\/html/);
      assert.doesNotMatch(r.body, /"error"|at [A-Za-z]+ \(|invalid_request/);
    }
  });
});
