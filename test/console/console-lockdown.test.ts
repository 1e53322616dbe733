import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";
import { enrolStaff } from "./helpers.ts";
import { hijackedAccount } from "./scenario.ts";

const sfx = () => Math.random().toString(36).slice(2, 8);

describe("support console lockdown: a preview of everything it will do, then the case with its report", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("an agent previews (nothing changes), is refused without a reason or from another site, then locks down", async () => {
    const sc = await hijackedAccount(t, sfx());
    const { browser: b } = await enrolStaff(t, `desk${sfx()}`, "agent");
    const url = `/console/accounts/${sc.owner.accountId}/lockdown`;
    const r = await b.get(url);
    assert.equal(r.statusCode, 200);
    const text = b.text();
    assert.match(text, /まだ何も実行していません/);
    assert.match(text, /ログアウトさせる端末（1） Firefox [\d.]+ \/ Linux/);
    assert.match(text, /攻撃者の端末と判定されるもの（1） Firefox [\d.]+ \/ Linux · アメリカ合衆国/);
    assert.match(text, new RegExp(`${sc.newEmail.replace(/\./g, "\\.")} — 削除（期間中に追加）`));
    assert.match(text, new RegExp(`${sc.oldEmail.replace(/\./g, "\\.")} — 復元（期間中に削除されたもの）`));
    assert.match(text, /キャンセルする注文（1）/);
    assert.match(text, new RegExp(`${sc.orderId} ¥5,000 · 攻撃者の端末からの注文`));
    assert.match(text, /全額返金: ¥5,000|決済を取り消し（請求なし）: ¥5,000/);
    assert.match(text, /ギフトカード（1） ••••\w{4} ¥5,000 — 無効化/);
    assert.match(text, new RegExp(`お知らせを送る先.*${sc.oldEmail.replace(/\./g, "\\.")}`));
    // A preview is a read: the attacker is still in, the account still active, no case.
    const live = await t.call("POST", "/v1/sessions/introspect", { token: sc.attackerToken });
    assert.equal(live.json().active, true);
    assert.equal((await t.app.response.listCases({ accountId: sc.owner.accountId })).length, 0);

    const noReason = await b.post(url, { reason: "" });
    assert.equal(noReason.statusCode, 400);
    assert.match(b.text(), /理由を3文字以上/);
    const crossSite = await b.post(url, { reason: "forged from elsewhere" }, { site: "cross-site" });
    assert.equal(crossSite.statusCode, 403);
    assert.equal((await t.app.response.listCases({ accountId: sc.owner.accountId })).length, 0);

    await b.get(url);
    const go = await b.post(url, { reason: "本人から電話: メールアドレスが変えられた" });
    assert.equal(go.statusCode, 200, b.text().slice(0, 400));
    assert.match(b.text(), /ロックダウンを実行しました/);
    assert.match(b.text(), /ストアのWebhookが登録されていない/, "the store was never told, and the page says so");
    assert.match(b.text(), /ストアに未通知（Webhook未登録）/);
    const out = await t.call("POST", "/v1/sessions/introspect", { token: sc.attackerToken });
    assert.equal(out.json().active, false);
    const [c] = await t.app.response.listCases({ accountId: sc.owner.accountId });
    assert.equal(c?.status, "locked_down");
    assert.match(c?.openedBy ?? "", /^admin:/);
    const report = await t.app.response.getCase(c!.id);
    // What the preview listed is what was done.
    assert.equal(report.objects.filter((o) => o.objectType === "session").length, 1);
    assert.equal(report.objects.filter((o) => o.objectType === "order").length, 1);
    assert.ok(report.objects.some((o) => o.objectType === "gift_card" && o.action === "void"));
    assert.ok(report.objects.some((o) => o.objectType === "contact_point" && o.action === "restored"));
    const log = await t.app.staffAudit.list({ limit: 50 });
    assert.ok(log.some((e) => e.type === "support.lockdown" && (e.data as { caseId?: string }).caseId === c!.id));

    // A note on the case, recorded for the account and the staff log.
    const note = await b.post(`/console/cases/${c!.id}/notes`, { body: "本人に復旧手順を案内済み" });
    assert.equal(note.statusCode, 200);
    assert.match(b.text(), /本人に復旧手順を案内済み/);
  });

  it("a start given by support moves the window; a start in the future is refused with a page", async () => {
    const sc = await hijackedAccount(t, sfx());
    const { browser: b } = await enrolStaff(t, `desk${sfx()}`, "agent");
    const url = `/console/accounts/${sc.owner.accountId}/lockdown`;
    await b.get(`${url}?since=2099-01-01T00:00`);
    assert.equal(b.lastStatus, 400);
    assert.match(b.text(), /過去の日時/);
    await b.get(`${url}?since=not-a-time`);
    assert.equal(b.lastStatus, 400);
    const jst = new Date(t.clock.now() - 30 * 60_000 + 9 * 3600_000).toISOString().slice(0, 16);
    await b.get(`${url}?since=${jst}`);
    assert.equal(b.lastStatus, 200);
    assert.match(b.text(), /サポートが指定した時刻/);
    // 30 minutes ago is after the attacker's order and email change: nothing of theirs to undo.
    assert.match(b.text(), /キャンセルする注文（0）/);
    // The field shows and takes one unambiguous form in any browser language: year first, 24-hour, Japan time (a
    // datetime-local input showed "11/01/2026, 06:30 PM" to an en-US browser).
    assert.match(b.last, new RegExp(`id="since" name="since" type="text"[^>]*value="${jst.replace("T", " ")}"`));
    await b.get(`${url}?since=${encodeURIComponent(jst.replace("T", " "))}&lang=en`);
    assert.equal(b.lastStatus, 200);
    assert.match(b.text(), /set by support/);
    assert.match(b.text(), /year-month-day hour:minute \(24-hour\)/);
    await b.get("/console/accounts/nope/lockdown");
    assert.equal(b.lastStatus, 404);
  });
});
