import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { totpCodeAt } from "../../src/identity/totp.ts";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";

/**
 * A migration file with bad rows: each bad row is refused with a reason and leaves nothing behind; the good ones
 * land; running the same batch again (a resume after a crash) imports nothing twice.
 */
describe("import-is-whole-or-refused", () => {
  let t: TestApp;
  const run = randomBytes(4).toString("hex");
  const PBKDF2 = "$pbkdf2-sha256$29000$c2FsdHNhbHRzYWx0c2FsdA$hDleuKiKzb.uSuEdtHo0IXmCNvfO.hPvhqn8wW80R.w";

  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  const count = async (table: "accounts" | "contact_points" | "events" | "account_imports") =>
    Number(
      (
        await t.app.database.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it("refuses bad rows with reasons, imports the rest, and is idempotent per external id", async () => {
    const taken = `taken.${run}@example.jp`;
    await t.signUp(taken);
    const rows = [
      { externalId: `a-${run}`, email: `a.${run}@example.jp`, passwordHash: PBKDF2, phone: "+81 90-1234-5678" },
      { externalId: `b-${run}`, email: "not an address", passwordHash: PBKDF2 },
      { externalId: `c-${run}`, email: `c.${run}@example.jp`, passwordHash: "5f4dcc3b5aa765d61d8327deb882cf99" },
      { externalId: `d-${run}`, email: taken },
      { externalId: `e-${run}`, email: `e.${run}@example.jp`, totpSecret: "not base32!" },
      { externalId: `f-${run}`, email: `f.${run}@example.jp`, allowedCountries: ["JP", "Japan"] },
      { externalId: `g-${run}`, email: `a.${run}@example.jp` },
      {
        externalId: `h-${run}`,
        email: `h.${run}@example.jp`,
        totpSecret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        allowedCountries: ["jp"],
        language: "en",
      },
    ];
    const before = { accounts: await count("accounts"), events: await count("events") };
    const r = await t.call("POST", "/v1/accounts/import", { accounts: rows });
    assert.equal(r.statusCode, 200, r.body);
    const body = r.json();
    assert.equal(body.imported, 2);
    assert.equal(body.refused, 6);
    assert.deepEqual(
      body.rows.filter((x: { status: string }) => x.status === "refused").map((x: { reason: string }) => x.reason),
      ["invalid_email", "hash_format_unknown", "email_taken", "totp_secret_invalid", "country_invalid", "email_taken"],
    );
    assert.equal(await count("accounts"), before.accounts + 2, "refused rows left no account behind");
    assert.equal(await count("events"), before.events + 2, "one account.imported event per imported account");

    const h = body.rows[7].accountId as string;
    const view = await t.app.identity.getAccount(h);
    assert.equal(view.totpEnabled, true);
    assert.equal(view.language, "en");
    assert.equal(view.emails[0]?.verified, true);
    assert.deepEqual(await t.app.risk.getAllowedCountries(h), ["JP"]);
    const a = await t.app.identity.getAccount(body.rows[0].accountId);
    assert.equal(a.phones[0]?.value, "+819012345678");

    // A resume: the same rows again import nothing twice.
    const again = (await t.call("POST", "/v1/accounts/import", { accounts: rows })).json();
    assert.equal(again.imported, 0);
    assert.equal(again.skipped, 2);
    assert.equal(await count("accounts"), before.accounts + 2);
    const mapped = await t.app.database.db
      .selectFrom("account_imports")
      .select("external_id")
      .where("external_id", "like", `%-${run}`)
      .execute();
    assert.deepEqual(mapped.map((m) => m.external_id).sort(), [`a-${run}`, `h-${run}`]);
  });

  it("each imported authenticator secret lands on its own account (the factor's importer, one batch)", async () => {
    const secrets = ["JBSWY3DPEHPK3PXP", "KRUGS4ZANFZSAYJAONSWG4TFOQ", "GEZDGNBVGY3TQOJQGEZDGNBVGY"];
    const rows = secrets.map((totpSecret, i) => ({
      externalId: `s${i}-${run}`,
      email: `s${i}.${run}@example.jp`,
      totpSecret,
    }));
    const body = (await t.call("POST", "/v1/accounts/import", { accounts: rows })).json();
    assert.equal(body.imported, 3, JSON.stringify(body));
    const totp = t.app.factors.get("totp")!;
    for (const [i, secret] of secrets.entries()) {
      const accountId = body.rows[i].accountId as string;
      const other = secrets[(i + 1) % secrets.length]!;
      const input = { purpose: "second_factor" as const, accountId, boundTo: null, ip: null };
      await assert.rejects(totp.verify({ ...input, proof: totpCodeAt(other, t.clock.now()) }), "not another row's");
      assert.equal((await totp.verify({ ...input, proof: totpCodeAt(secret, t.clock.now()) })).accountId, accountId);
    }
  });

  it("a batch over the limit or with a mistyped row is a 4xx with a code, not a 500", async () => {
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ externalId: `x${i}`, email: `x${i}@example.jp` }));
    const r = await t.call("POST", "/v1/accounts/import", { accounts: tooMany });
    assert.equal(r.statusCode, 400);
    assert.equal(typeof r.json().error.code, "string");
    const typed = await t.call("POST", "/v1/accounts/import", { accounts: [{ externalId: 5, email: "a@b.jp" }] });
    assert.equal(typed.statusCode, 400);
    const anon = await t.call("POST", "/v1/accounts/import", { accounts: [] }, { auth: null });
    assert.equal(anon.statusCode, 401);
  });
});
