import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Type } from "@sinclair/typebox";
import { sql } from "kysely";
import { enrolStaff } from "../../../test/console/helpers.ts";
import { openPortal, textOf } from "../../../test/portal/helpers.ts";
import type { Db, Executor } from "../../db/database.ts";
import type { Clock } from "../../shared/clock.ts";
import { APP_STORE, ATTACKER, makeTestApp, STRONG, STRONG2, type TestApp, TOKYO } from "../../testing/app.ts";
import { IdentityErrors } from "../errors.ts";
import type { Factor, FactorChange, FactorItem } from "./types.ts";

/**
 * Issue 17 item 2: "adding a factor touches its folder and one registration line". This factor is all a new one is —
 * its own code, registered after the built-in ones (buildApp's extraFactors, the same list app.ts registers) — and
 * nothing else in the service names it. Identity's sensitive-change gate, the account's factor list and the lockdown's
 * roll-back must all see it; a consumer that reads a factor's own columns instead of asking the registry fails here.
 * (A hardware key kept in memory: what it stores does not matter, only that nobody but the factor reads it. Its live
 * keys are also written to a table of its own, `plug_test_keys`, for its `enrolledSql`: what risk reads.)
 */
function testKeyFactor(db: Db, clock: Clock) {
  const keys: { id: string; accountId: string; createdAt: number; removedAt: number | null }[] = [];
  const live = (accountId: string) => keys.filter((k) => k.accountId === accountId && k.removedAt === null);
  const changesSince = (accountId: string, since: number): FactorChange[] =>
    live(accountId)
      .filter((k) => k.createdAt >= since)
      .map((k) => ({
        objectId: k.id,
        action: "removed",
        before: { name: k.id },
        after: null,
        note: "added in window",
      }));
  const insert = async (ex: Executor, accountId: string, id: string) => {
    keys.push({ id, accountId, createdAt: clock.now(), removedAt: null });
    await sql`insert into plug_test_keys (id, account_id, removed_at) values (${id}, ${accountId}, null)`.execute(ex);
  };
  const mirror = async (ex: Executor, id: string, removedAt: number) =>
    sql`update plug_test_keys set removed_at = ${removedAt} where id = ${id}`.execute(ex);
  const factor: Factor = {
    kind: "test_key",
    enrolledSql: {
      select: "select account_id from plug_test_keys where removed_at is null",
      tables: [{ table: "plug_test_keys", account: "account_id" }],
    },
    strength: 2,
    label: { ja: "テスト鍵", en: "Test key" },
    // How the pages' step-up asks for it: a code beside the password, in its own words (portal/step-up.tsx).
    stepUp: {
      kind: "code",
      label: { ja: "テスト鍵に表示されたコード", en: "The code your test key shows" },
      what: { ja: "テスト鍵のコード", en: "the code from your test key" },
    },
    changeEvents: { "test_key.added": { ja: "テスト鍵を追加", en: "Test key added" } },
    enrolled: async (_ex: Executor, accountId: string) => live(accountId).length > 0,
    // What it takes from the bulk import: a key's id in the row's `testKey` (one line here, none in the import).
    importer: {
      field: "testKey",
      schema: Type.String({ maxLength: 64 }),
      refusal: "test_key_invalid",
      parse: (raw) => (typeof raw === "string" && raw.startsWith("key-") ? raw : null),
      write: async (t, rows) => {
        for (const r of rows) await insert(t, r.accountId, String(r.value));
      },
    },
    challenge: async () => ({}),
    // A key "signs" by answering `<id>:signed` (what a real key proves does not matter here).
    verify: async (input) => {
      const k = live(input.accountId ?? "").find((x) => input.proof === `${x.id}:signed`);
      if (!k || input.accountId === null) throw IdentityErrors.code_invalid();
      return { accountId: input.accountId, itemId: k.id };
    },
    remove: async (t, input) => {
      const k = live(input.accountId).find((x) => x.id === input.itemId);
      if (k) {
        k.removedAt = input.now;
        await mirror(t, k.id, input.now);
      }
      return k !== undefined;
    },
    planRollBack: async (_ex, input) => changesSince(input.accountId, input.since),
    rollBackSince: async (t, input) => {
      const changes = changesSince(input.accountId, input.since);
      for (const c of changes) {
        const k = keys.find((x) => x.id === c.objectId);
        if (k) {
          k.removedAt = input.now;
          await mirror(t, k.id, input.now);
        }
      }
      return changes;
    },
    describe: async (_ex, accountId): Promise<FactorItem[]> =>
      live(accountId).map((k) => ({
        kind: "test_key",
        id: k.id,
        name: k.id,
        createdAt: k.createdAt,
        lastUsedAt: null,
      })),
    // How it shows itself on the security center and the console: nothing in portal/ or console/ knows these words.
    face: async (_ex, accountId) => {
      const n = live(accountId).length;
      return {
        status: { ja: `テスト鍵が ${n} 本あります`, en: `${n} test keys` },
        actions: [{ label: { ja: "テスト鍵を管理する", en: "Manage test keys" }, href: "./test-keys", method: "link" }],
      };
    },
  };
  return {
    factor,
    add: (accountId: string, id: string) => insert(db, accountId, id),
  };
}

describe("factor-plug-in: a factor registered in one line is asked everywhere", () => {
  let t: TestApp;
  let key: ReturnType<typeof testKeyFactor>;
  before(async () => {
    // The factor's table exists before the app asks its enrolledSql (a real factor's migration, listed in store.ts).
    const database = await APP_STORE.open();
    await database.db.schema
      .createTable("plug_test_keys")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text", (c) => c.notNull())
      .addColumn("removed_at", "bigint")
      .execute();
    t = await makeTestApp(APP_STORE, database, {
      extraFactors: ({ db, clock }) => {
        key = testKeyFactor(db, clock);
        return [key.factor];
      },
    });
  });
  after(() => t.close());

  it("the registry lists it, and a password change then needs a fresh factor as strong as it", async () => {
    const a = await t.signUp("plug@example.jp");
    const db = t.app.database.db;
    // the verified address is the emailed code's (strength 1: no fresh factor beyond the sign-in for a password)
    assert.deepEqual(await t.app.factors.enrolledKinds(db, a.accountId), ["email_code"]);
    const free = await t.call(
      "POST",
      "/v1/password",
      { currentPassword: STRONG, newPassword: STRONG2 },
      { session: a.token },
    );
    assert.equal(free.statusCode, 200, `no strong factor yet: a fresh sign-in is enough (${free.body})`);
    const token = free.json().session.token as string;

    await key.add(a.accountId, "key-1");
    assert.deepEqual(await t.app.factors.enrolledKinds(db, a.accountId), ["email_code", "test_key"]);
    assert.equal(await t.app.factors.strongest(db, a.accountId), 2);
    assert.deepEqual(
      (await t.app.factors.describe(db, a.accountId)).map((i) => `${i.kind}:${i.kind === "test_key" ? i.id : i.name}`),
      ["email_code:plug@example.jp", "test_key:key-1"],
    );
    const gated = await t.call(
      "POST",
      "/v1/password",
      { currentPassword: STRONG2, newPassword: STRONG },
      { session: token },
    );
    assert.equal(gated.statusCode, 403, gated.body);
    assert.equal(gated.json().error.code, "second_factor_required", "identity asked the registry, not a column");
  });

  it("sign-in challenges with it alone (the emailed code does not stand in), and its proof completes the challenge", async () => {
    const email = "plug-signin@example.jp";
    const a = await t.signUp(email);
    await key.add(a.accountId, "key-s");
    const r = await t.signIn(email, STRONG);
    assert.equal(
      r.status,
      "challenge",
      `a strong factor enrolled: even the known device is challenged (${JSON.stringify(r)})`,
    );
    assert.deepEqual(r.factors, ["test_key"]);
    const mail = await t.call("POST", "/v1/sign-in/challenge/code", { challengeToken: r.challengeToken });
    assert.equal(mail.json().error?.code, "factor_unavailable", mail.body);
    const wrong = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: r.challengeToken,
      factor: "test_key",
      code: "key-x:signed",
    });
    assert.equal(wrong.json().error?.code, "challenge_failed", wrong.body);
    const done = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: r.challengeToken,
      factor: "test_key",
      code: "key-s:signed",
    });
    assert.equal(done.statusCode, 200, done.body);
    const s = await t.call("POST", "/v1/sessions/introspect", { token: done.json().session.token });
    assert.equal(s.json().factor, "password+test_key", s.body);

    // Sessions judge a step by the registry's strength of its kind: the key's (2) meets what the account requires,
    // so this newer session may end the older one (the sign-up's).
    const all = await t.call("POST", "/v1/sessions/sign-out-everywhere", {}, { session: done.json().session.token });
    assert.equal(all.statusCode, 200, all.body);
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: a.token })).json().active, false);
  });

  it("the lockdown rolls back the key the attacker added, recorded like any factor", async () => {
    const owner = await t.signUp("plug-owner@example.jp");
    await t.verifyEmail(owner.token, "plug-owner@example.jp");
    t.clock.advance(10 * 86_400_000);
    const atk = await t.signIn("plug-owner@example.jp", STRONG, ATTACKER);
    assert.equal(atk.http, 200, JSON.stringify(atk));
    await key.add(owner.accountId, "attackers-key");
    t.clock.advance(30 * 60_000);

    const lock = await t.call(
      "POST",
      `/v1/admin/accounts/${owner.accountId}/lockdown`,
      { reason: "owner: a key I never added" },
      { auth: await t.adminToken() },
    );
    assert.equal(lock.statusCode, 200, lock.body);
    const removed = lock
      .json()
      .objects.filter((o: { objectType: string; action: string }) => o.objectType === "second_factor")
      .map((o: { objectId: string; action: string }) => `${o.action} ${o.objectId}`);
    assert.deepEqual(removed, ["removed test_key:attackers-key"], lock.body);
    assert.deepEqual(await t.app.factors.enrolledKinds(t.app.database.db, owner.accountId), ["email_code"]);
  });

  it("risk: a policy may name it, and the account's factor facts come from the registry", async () => {
    const email = "plug-risk@example.jp";
    const a = await t.signUp(email);
    const facts = async () => {
      const q = { accountId: a.accountId, deviceId: null, country: null, ip: TOKYO.ip, now: t.clock.now() };
      const snap = await t.app.risk.features.snapshot?.({ ...q, ipWindowMs: 60_000, secondFactorWindowMs: 60_000 });
      const one = await t.app.risk.features.account(a.accountId, t.clock.now());
      return { snapshot: snap?.account.factors, account: one?.factors };
    };
    assert.deepEqual(await facts(), { snapshot: ["email_code"], account: ["email_code"] });
    await key.add(a.accountId, "key-r");
    // Risk reads an account's enrolled factors with its other facts, through each factor's enrolledSql.
    assert.deepEqual(await facts(), { snapshot: ["email_code", "test_key"], account: ["email_code", "test_key"] });
    const set = await t.app.risk.putPolicySet({
      name: "plug",
      rules: [
        {
          id: "key_holder",
          events: ["login"],
          when: '"test_key" in account.factors && account.strongestFactor >= 2.0 && !account.totpEnabled',
          action: "challenge",
          factor: "test_key",
        },
      ],
    });
    await t.app.risk.promote(set.version, "active");
    const d = await t.app.risk.assessEvent({ type: "login", accountId: a.accountId, context: TOKYO });
    assert.equal(d.decision, "challenge", JSON.stringify(d.reasons));
    assert.equal(d.factor, "test_key");
    const r = await t.signIn(email, STRONG);
    assert.deepEqual(r.factors, ["test_key"], "only factors as strong as the one the rule named");
    await assert.rejects(
      t.app.risk.putPolicySet({
        rules: [{ id: "typo", events: ["login"], when: "true", action: "challenge", factor: "test_kye" }],
      }),
      /policy set is invalid/,
    );
  });

  it("the bulk import hands it its own field, and refuses the row with its reason", async () => {
    const r = await t.call("POST", "/v1/accounts/import", {
      accounts: [
        { externalId: "plug-imp-1", email: "plug-imp-1@example.jp", testKey: "key-imported" },
        { externalId: "plug-imp-2", email: "plug-imp-2@example.jp", testKey: "not a key" },
      ],
    });
    assert.equal(r.statusCode, 200, r.body);
    const rows = r.json().rows as { status: string; accountId?: string; reason?: string }[];
    assert.deepEqual(
      rows.map((x) => x.reason ?? x.status),
      ["imported", "test_key_invalid"],
      r.body,
    );
    const db = t.app.database.db;
    assert.deepEqual(await t.app.factors.enrolledKinds(db, rows[0]!.accountId!), ["email_code", "test_key"]);
  });

  it("its change event is told to the store (security.factor.changed), counts as a credential change, and has words", async () => {
    const email = "plug-told@example.jp";
    const a = await t.signUp(email);
    t.clock.advance(3 * 86_400_000);
    await key.add(a.accountId, "key-w");
    // What the key's own code would append when it is added (the built-in factors append theirs the same way).
    await t.app.database.db
      .transaction()
      .execute((tx) =>
        t.app.events.append(tx, { accountId: a.accountId, type: "test_key.added", actor: "system", data: {} }),
      );
    const m = await t.call("GET", `/v1/webhooks/messages?objectType=account&objectId=${a.accountId}&limit=100`);
    const told = (m.json().messages as { type: string; data?: { event?: string } }[]).filter(
      (x) => x.type === "security.factor.changed",
    );
    assert.equal(told.length, 1, m.body);

    t.clock.advance(60_000);
    const set = await t.app.risk.putPolicySet({
      name: "plug-changed",
      rules: [
        {
          id: "factor_just_changed",
          events: ["login"],
          when: "signals.sinceCredentialChangeS != null && signals.sinceCredentialChangeS <= 600.0",
          action: "challenge",
        },
      ],
    });
    await t.app.risk.promote(set.version, "active");
    const d = await t.app.risk.assessEvent({ type: "login", accountId: a.accountId, context: TOKYO });
    assert.equal(
      d.decision,
      "challenge",
      `the key's change is a credential change a minute ago (${JSON.stringify(d)})`,
    );
    assert.equal(d.reasons[0]?.inputs["signals.sinceCredentialChangeS"], 60);

    assert.deepEqual(t.app.factors.eventLabels["test_key.added"], { ja: "テスト鍵を追加", en: "Test key added" });
    assert.equal(t.app.factors.eventLabels["passkey.added"]?.ja, "パスキーを追加");
  });

  it("the security center's factor section and the console's factor panel show it as it describes itself", async () => {
    const email = "plug-faces@example.jp";
    const a = await t.signUp(email);
    await key.add(a.accountId, "key-face");

    const portal = await openPortal(t, a.token);
    const page = await portal.get("/portal/?lang=ja");
    assert.equal(page.statusCode, 200, page.body);
    const section = page.body.slice(page.body.indexOf('id="factors"'), page.body.indexOf('id="app-passwords"'));
    assert.match(section, /id="factor-test_key"/, "the section lists every registered factor");
    assert.match(
      textOf(section),
      /テスト鍵 設定済み テスト鍵が 1 本あります/,
      "its label, on, and its own status line",
    );
    assert.match(
      section,
      /href="\.\/test-keys\?lang=ja"[^>]*>テスト鍵を管理する</,
      "the action it offers, with its link",
    );
    // the built-in ones come the same way, in registration order
    assert.ok(section.indexOf('id="factor-totp"') < section.indexOf('id="factor-passkey"'), section);
    assert.ok(section.indexOf('id="factor-passkey"') < section.indexOf('id="factor-test_key"'), section);

    // the step-up before a change asks for it as it says (Factor.stepUp): its code field, with its label
    const confirm = await portal.post("/portal/confirm", { lang: "en", next: "factors", password: "not-it", code: "" });
    assert.equal(confirm.statusCode, 422, confirm.body);
    const form = confirm.body.slice(confirm.body.indexOf('action="./confirm"'));
    assert.match(textOf(form), /Password The code your test key shows/, form);
    assert.match(form, /name="code"/);
    assert.match(textOf(confirm.body), /enter your password again/, "the password's introduction: no passkey here");
    assert.doesNotMatch(confirm.body, /passkey-stepup/);

    const staff = (await enrolStaff(t, "plugdesk", "agent")).browser;
    const r = await staff.get(`/console/accounts/${a.accountId}`);
    assert.equal(r.statusCode, 200, staff.last.slice(0, 300));
    const row = /<tr id="factor-test_key">[\s\S]*?<\/tr>/.exec(staff.last)?.[0] ?? "";
    assert.match(textOf(row), /テスト鍵 test_key 設定済み テスト鍵が 1 本あります key-face/, staff.last);
  });
});
