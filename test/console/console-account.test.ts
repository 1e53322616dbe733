import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";
import type { ConsoleBrowser } from "./client.ts";
import { enrolStaff } from "./helpers.ts";
import { hijackedAccount } from "./scenario.ts";

const sfx = () => Math.random().toString(36).slice(2, 8);

describe("support console: find the account by what the caller remembers, read it like a person", () => {
  let t: TestApp;
  let agent: ConsoleBrowser;
  let sc: Awaited<ReturnType<typeof hijackedAccount>>;
  let other: Awaited<ReturnType<typeof hijackedAccount>>;
  before(async () => {
    t = await makeTestApp();
    other = await hijackedAccount(t, sfx());
    sc = await hijackedAccount(t, sfx());
    agent = (await enrolStaff(t, `desk${sfx()}`, "agent")).browser;
  });
  after(() => t.close());

  const search = async (q: string) => {
    const r = await agent.get(`/console/search?q=${encodeURIComponent(q)}`);
    assert.equal(r.statusCode, 200);
    return agent.text();
  };

  it("search-by-old-email-finds-the-account: the address the attacker replaced still leads to her", async () => {
    const text = await search(sc.oldEmail);
    assert.match(agent.last, new RegExp(`accounts/${sc.owner.accountId}`));
    assert.match(text, /email · 過去/, "the match is marked as a past address");
    assert.match(text, new RegExp(sc.newEmail.replace(/\./g, "\\.")), "listed under the address it has now");
  });

  it("by a two-character Japanese surname, by the order id; one character is too short", async () => {
    await search("佐藤");
    assert.match(agent.last, new RegExp(`accounts/${sc.owner.accountId}`));
    assert.match(agent.text(), /佐藤 花子 name · 現在/);
    await search(sc.orderId);
    assert.match(agent.last, new RegExp(`accounts/${sc.owner.accountId}`));
    await search("佐");
    assert.match(agent.text(), /2文字以上/);
    await search("%%");
    assert.doesNotMatch(agent.last, /accounts\//, "wildcards are taken literally");
  });

  it("the timeline is in JST with the attacker's device, country and network instead of session ids, and before → after", async () => {
    const r = await agent.get(`/console/accounts/${sc.owner.accountId}`);
    assert.equal(r.statusCode, 200);
    const text = agent.text();
    assert.doesNotMatch(agent.last, /session:[0-9a-f-]{8}/, "no raw actor ids");
    assert.match(text, /メールアドレス変更/);
    assert.match(text, /Firefox [\d.]+ \/ Linux · アメリカ合衆国 · Google LLC \(AS15169\)/);
    assert.match(text, new RegExp(`${sc.oldEmail.replace(/\./g, "\\.")} → ${sc.newEmail.replace(/\./g, "\\.")}`));
    assert.match(text, /\d{4}年\d{1,2}月\d{1,2}日 \d{1,2}:\d{2} \(日本時間\)/);
    assert.match(text, /ギフトカード 5,000円|¥5,000/);
    assert.match(text, new RegExp(sc.orderId));
  });

  it("card tokens and street addresses are masked; a reveal needs a reason and is a staff event", async () => {
    await agent.get(`/console/accounts/${sc.owner.accountId}`);
    assert.doesNotMatch(agent.last, /メゾン原宿101/);
    assert.doesNotMatch(agent.last, /tok_visa/);
    assert.match(agent.text(), /〒150-＊＊＊＊/);
    const before = (await t.app.staffAudit.list({ limit: 100 })).filter((e) => e.type === "support.revealed").length;
    const no = await agent.post(`/console/accounts/${sc.owner.accountId}/reveal`, {
      kind: "address",
      id: sc.addressId,
      reason: "",
    });
    assert.equal(no.statusCode, 400);
    assert.doesNotMatch(agent.last, /メゾン原宿101/);
    const yes = await agent.post(`/console/accounts/${sc.owner.accountId}/reveal`, {
      kind: "address",
      id: sc.addressId,
      reason: "本人確認のため住所を照合",
    });
    assert.equal(yes.statusCode, 200);
    assert.match(agent.last, /メゾン原宿101/);
    assert.doesNotMatch(agent.last, /tok_visa/, "only what was asked for");
    const log = (await t.app.staffAudit.list({ limit: 100 })).filter((e) => e.type === "support.revealed");
    assert.equal(log.length, before + 1);
    assert.deepEqual(log[0]?.data, {
      accountId: sc.owner.accountId,
      kind: "address",
      objectId: sc.addressId,
      reason: "本人確認のため住所を照合",
    });
  });

  it("another account's address cannot be revealed through this account's page; an unknown account is a page", async () => {
    await agent.get(`/console/accounts/${sc.owner.accountId}`);
    const r = await agent.post(`/console/accounts/${sc.owner.accountId}/reveal`, {
      kind: "address",
      id: other.addressId,
      reason: "just looking",
    });
    assert.equal(r.statusCode, 200);
    assert.doesNotMatch(agent.last, /メゾン原宿101/);
    const missing = await agent.get("/console/accounts/nope");
    assert.equal(missing.statusCode, 404);
    assert.match(String(missing.headers["content-type"]), /^text\/html/);
    assert.match(agent.text(), /見つかりません/);
  });
});
