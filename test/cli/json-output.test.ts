import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { openStore } from "../../src/store.ts";
import { ATTACKER, makeTestApp, STRONG } from "../../src/testing/app.ts";
import { testStores } from "../../src/testing/stores.ts";

const BIN = path.join(import.meta.dirname, "..", "..", "bin", "mamori.js");

// Support's scripts and monitors read the CLI: `mail`, `case show` and `audit verify` answer --json with one JSON
// document on stdout (and the same exit codes as the text), so a tampered event log or an unconfirmed store action is
// seen by a machine without scraping text.
describe("mamori --json", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mamori-json-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { ...process.env, MAMORI_DATA_DIR: dir, MAMORI_FAST_HASH: "1", MAMORI_DATABASE_URL: "" };
  const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { env, encoding: "utf8" });

  it("mail, case show and audit verify print JSON; a broken chain is ok:false with exit 1", async () => {
    const db = openStore({ dataDir: dir });
    await db.migrate();
    const t = await makeTestApp(testStores[0]!, db);
    const owner = await t.signUp("json-cli@example.jp");
    t.clock.advance(86_400_000);
    const atk = await t.signIn("json-cli@example.jp", STRONG, ATTACKER);
    await t.call(
      "POST",
      "/v1/commerce/orders",
      { items: [{ category: "digital", sku: "e", title: "E-book", quantity: 1, unitPrice: 900 }] },
      { session: atk.session.token },
    );
    await t.call("POST", "/v1/webhooks/endpoints", { url: "http://127.0.0.1:9/hooks" });
    const { caseId } = await t.app.response.lockdownAccount({
      accountId: owner.accountId,
      reason: "json test",
      openedBy: "admin:test",
    });
    await t.close();

    const mail = run("mail", "--json", "--to", "json-cli@example.jp");
    assert.equal(mail.status, 0, mail.stderr);
    const messages = JSON.parse(mail.stdout) as Record<string, unknown>[];
    assert.ok(messages.length >= 1);
    assert.ok(messages.some((m) => m.accountId === owner.accountId));
    for (const m of messages) {
      assert.equal(m.recipient, "json-cli@example.jp");
      assert.equal(typeof m.subject, "string");
      assert.equal(typeof m.body, "string");
      assert.match(String(m.createdAt), /^\d{4}-\d\d-\d\dT/);
    }
    assert.deepEqual(JSON.parse(run("mail", "--json", "--to", "nobody@example.jp").stdout), []);

    const show = run("case", "show", caseId, "--json");
    assert.equal(show.status, 3, show.stderr); // an unconfirmed store action, as in the text report
    const report = JSON.parse(show.stdout) as {
      id: string;
      accountId: string;
      flagged: number;
      objects: { objectType: string; action: string; flagged: boolean }[];
    };
    assert.equal(report.id, caseId);
    assert.equal(report.accountId, owner.accountId);
    assert.equal(report.flagged, 1);
    assert.ok(report.objects.some((o) => o.objectType === "order" && o.action === "cancel" && o.flagged));

    const ok = run("audit", "verify", "--json");
    assert.equal(ok.status, 0, ok.stderr);
    const good = JSON.parse(ok.stdout) as { ok: boolean; accounts: { accounts: number; events: number } };
    assert.equal(good.ok, true);
    assert.ok(good.accounts.accounts >= 1 && good.accounts.events >= 1);

    // Someone with the database file rewrites the owner's first event.
    await db.db
      .updateTable("events")
      .set({ data: '{"rewritten":true}' })
      .where("account_id", "=", owner.accountId)
      .where("seq", "=", 1)
      .execute();
    await db.close();
    const broken = run("audit", "verify", "--json");
    assert.equal(broken.status, 1, broken.stderr);
    const bad = JSON.parse(broken.stdout) as {
      ok: boolean;
      accounts: { firstBreak: { accountId: string; seq: number } | null };
      staff: { firstBreak: unknown };
    };
    assert.equal(bad.ok, false);
    assert.equal(bad.accounts.firstBreak?.accountId, owner.accountId);
    assert.equal(bad.accounts.firstBreak?.seq, 1);
    assert.equal(bad.staff.firstBreak, null);
  });
});
