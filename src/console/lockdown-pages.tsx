import type { FastifyReply, FastifyRequest } from "fastify";
import type { StaffIdentity } from "../admin/service.ts";
import type { Http } from "../api/types.ts";
import { formatAmount } from "../commerce/templates.ts";
import type { LockdownPreview } from "../response/service.ts";
import type { RouteDeps } from "../route-deps.ts";
import { Actions, Notice, PostForm } from "../web/form.tsx";
import type { Msg } from "../web/i18n.ts";
import { CASE_STATUS, label } from "./account-pages.tsx";
import { type ConsoleKit, CT, mamoriCode, type SignedIn, s } from "./kit.tsx";
import { shown } from "./timeline.ts";

/**
 * Lockdown with a preview: before support confirms, the page lists what the lockdown will end, undo, cancel, refund
 * and re-credit (read by the response module's own planning, the same selections its steps use), then starts it and
 * shows the case: the verification report with every store action not yet confirmed flagged, and notes.
 */

const T = {
  previewTitle: { ja: "ロックダウンの確認", en: "Lockdown preview" },
  previewIntro: {
    ja: "まだ何も実行していません。下の内容を確認し、理由を入力してから「ロックダウンを開始する」を押してください。",
    en: "Nothing has been done yet. Check what follows, give a reason, then press “Start the lockdown”.",
  },
  account: { ja: "対象のアカウント", en: "Account" },
  window: { ja: "不正アクセスの開始（この時刻以降を取り消します）", en: "Compromise window (undone from here on)" },
  windowWhy: { ja: "判定の根拠", en: "Why" },
  windowSupport: { ja: "サポートが指定した時刻", en: "set by support" },
  windowComputed: {
    ja: "それまで使われたことのない端末または国からの最初のログイン",
    en: "the first sign-in from a device or country never used before",
  },
  windowNone: {
    ja: "見慣れない端末からのログインはありません（現在時刻から。必要なら開始時刻を指定してください）",
    en: "no unfamiliar sign-in (from now on; give a start if you know one)",
  },
  sinceLabel: { ja: "開始時刻を指定する（日本時間）", en: "Set the start (Japan time, JST)" },
  sinceHint: {
    ja: "年-月-日 時:分（24時間制）。例: 2026-11-01 18:30",
    en: "year-month-day hour:minute (24-hour). Example: 2026-11-01 18:30",
  },
  update: { ja: "この時刻で確認し直す", en: "Preview with this start" },
  end: { ja: "ログアウトさせる端末", en: "Sessions to end" },
  attackerSessions: { ja: "攻撃者の端末と判定されるもの", en: "Sessions counted as the attacker's" },
  freeze: {
    ja: "アカウントを凍結し、本人の復旧（以前からの連絡先で確認）まで誰もログインできなくします。",
    en: "The account is frozen: nobody signs in until the owner recovers it through a contact from before.",
  },
  undo: { ja: "元に戻す変更", en: "Changes to undo" },
  contactRemove: { ja: "削除（期間中に追加）", en: "removed (added in the window)" },
  contactRestore: { ja: "復元（期間中に削除されたもの）", en: "restored (removed in the window)" },
  passwordRestore: {
    ja: "パスワードを期間前のものに戻す（復旧時に新しいものを設定）",
    en: "password back to the one before (a new one at recovery)",
  },
  countries: { ja: "ログインを許可する国を戻す: {c}", en: "allowed sign-in countries back to: {c}" },
  orders: { ja: "キャンセルする注文", en: "Orders to cancel" },
  byAttacker: { ja: "攻撃者の端末からの注文", en: "placed by an attacker session" },
  onListing: { ja: "取り下げる出品への注文", en: "on a listing taken down" },
  giftCards: { ja: "ギフトカード", en: "Gift cards" },
  listings: { ja: "取り下げる出品", en: "Listings to take down" },
  notify: { ja: "お知らせを送る先（期間前から登録されている連絡先）", en: "Told at (contacts from before the window)" },
  nothing: { ja: "なし", en: "none" },
  reason: { ja: "理由（ケースとスタッフの記録に残ります）", en: "Reason (kept with the case and in the staff log)" },
  start: { ja: "ロックダウンを開始する", en: "Start the lockdown" },
  reasonMissing: { ja: "理由を3文字以上で入力してください。", en: "Give a reason (3 characters at least)." },
  sinceBad: { ja: "開始時刻は過去の日時で指定してください。", en: "The start must be a time in the past." },
  activeCase: {
    ja: "このアカウントには対応中のケースがあります。開始すると、そのケースの続きとして実行します。",
    en: "This account has an open case; the lockdown continues it.",
  },
  caseTitle: { ja: "ケース {id}", en: "Case {id}" },
  status: { ja: "状態", en: "Status" },
  openedBy: { ja: "開始した人", en: "Opened by" },
  opened: { ja: "開始", en: "Opened" },
  steps: { ja: "手順", en: "Steps" },
  report: { ja: "検証レポート（対象ごとの前 → 後）", en: "Verification report (each object, before → after)" },
  object: { ja: "対象", en: "Object" },
  action: { ja: "対応", en: "Action" },
  change: { ja: "前 → 後", en: "Before → after" },
  store: { ja: "ストアの確認", en: "Store" },
  flaggedN: {
    ja: "ストアがまだ確認していない対応が {n} 件あります（赤色）。ストアで反映されたか確かめてください。",
    en: "{n} actions are not confirmed by the store yet (in red). Check that the store applied them.",
  },
  neverTold: {
    ja: "ストアのWebhookが登録されていないため、ストアにはまだ何も伝わっていません。ストアの担当者に直接連絡してください。",
    en: "No webhook endpoint is registered: the store was never told. Contact the store's staff directly.",
  },
  notes: { ja: "メモ", en: "Notes" },
  addNote: { ja: "メモを追加", en: "Add a note" },
  note: { ja: "メモ", en: "Note" },
  toAccount: { ja: "アカウントに戻る", en: "Back to the account" },
  started: { ja: "ロックダウンを実行しました。", en: "The lockdown ran." },
} satisfies Record<string, Msg>;

const STORE_STATE: Record<string, Msg> = {
  mamori_only: { ja: "Mamori内で完了", en: "done in Mamori" },
  never_told: { ja: "ストアに未通知（Webhook未登録）", en: "store never told (no webhook endpoint)" },
  pending: { ja: "送信待ち", en: "pending" },
  delivered: { ja: "届いたが未確認", en: "delivered, unconfirmed" },
  confirmed: { ja: "ストアが確認済み", en: "confirmed by the store" },
  failed: { ja: "送信失敗", en: "delivery failed" },
};
const STEP_NAMES: Record<string, Msg> = {
  freeze: { ja: "凍結", en: "freeze" },
  end_sessions: { ja: "端末のログアウト", en: "end sessions" },
  window: { ja: "期間の判定", en: "fix the window" },
  cancel_orders: { ja: "注文のキャンセル", en: "cancel orders" },
  rollback: { ja: "変更の取り消し", en: "roll back" },
  gift_cards: { ja: "ギフトカード", en: "gift cards" },
  listings: { ja: "出品の取り下げ", en: "listings" },
  notify_owner: { ja: "本人への通知", en: "tell the owner" },
};
const PAY_ACTION: Record<string, Msg> = {
  void: { ja: "決済を取り消し（請求なし）", en: "authorisation voided (never charged)" },
  refund: { ja: "全額返金", en: "refunded in full" },
  none: { ja: "支払いの対応なし", en: "no payment to settle" },
};
const CARD_ACTION: Record<string, Msg> = {
  void: { ja: "無効化（未使用の残高は発行元へ）", en: "voided (unspent value back to issuance)" },
  lock: { ja: "使われた残高を保留", en: "redeemed value held" },
  recredit: { ja: "残高を保留し、正しい持ち主へ再入金", en: "value held and re-credited to its owner" },
};
const ACTION: Record<string, Msg> = {
  frozen: { ja: "凍結", en: "frozen" },
  ended: { ja: "ログアウト", en: "ended" },
  cancel: { ja: "キャンセル", en: "cancelled" },
  refund: { ja: "返金", en: "refunded" },
  void: { ja: "取り消し・無効化", en: "voided" },
  removed: { ja: "削除", en: "removed" },
  restored: { ja: "復元", en: "restored" },
  not_restored: { ja: "復元できず", en: "not restored" },
  rollback: { ja: "元に戻した", en: "rolled back" },
  take_down: { ja: "取り下げ", en: "taken down" },
  lock: { ja: "残高を保留", en: "held" },
  recredit: { ja: "再入金", en: "re-credited" },
};
const NOTES: Record<string, Msg> = {
  "added during the window": { ja: "期間中に追加されたもの", en: "added during the window" },
  "removed during the window": { ja: "期間中に削除されたもの", en: "removed during the window" },
  "now held by another account": { ja: "別のアカウントが使用中", en: "now held by another account" },
};
const STEP_STATUS: Record<string, Msg> = {
  done: { ja: "完了", en: "done" },
  pending: { ja: "未実行", en: "pending" },
  running: { ja: "実行中", en: "running" },
  failed: { ja: "失敗（再実行します）", en: "failed (retried)" },
};
const OBJECT: Record<string, Msg> = {
  payment: { ja: "決済", en: "payment" },
  account: { ja: "アカウント", en: "account" },
  session: { ja: "端末", en: "session" },
  order: { ja: "注文", en: "order" },
  contact_point: { ja: "連絡先", en: "contact" },
  password: { ja: "パスワード", en: "password" },
  second_factor: { ja: "2段階認証", en: "second factor" },
  setting: { ja: "設定", en: "setting" },
  address: { ja: "お届け先", en: "address" },
  payment_instrument: { ja: "カード", en: "card" },
  commerce_settings: { ja: "購入設定", en: "shopping settings" },
  listing: { ja: "出品", en: "listing" },
  gift_card: { ja: "ギフトカード", en: "gift card" },
  wallet: { ja: "残高", en: "balance" },
};

/**
 * "2026-11-11 18:00" (or "2026-11-11T18:00", seconds optional) typed as Japan time → ms; undefined when empty, NaN
 * when not a time.
 */
export function parseJst(v: string | undefined): number | undefined {
  const t = v?.trim();
  if (!t) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)$/.exec(t);
  if (!m) return Number.NaN;
  return Date.parse(`${m[1]}T${m[2]}${m[2]!.length === 5 ? ":00" : ""}+09:00`);
}
/**
 * ms → "2026-11-11 18:00" in Japan time: year first, 24-hour, the same whatever the browser's language. (A
 * datetime-local input shows the browser's locale: "11/12/2026, 06:00 PM" in en-US, month and day ambiguous to a
 * support desk that reads dates day-first, and the clock as the browser's while the field is Japan time.)
 */
const toJstInput = (iso: string) =>
  new Date(Date.parse(iso) + 9 * 3600_000).toISOString().slice(0, 16).replace("T", " ");

export function registerLockdownPages(
  app: Http,
  deps: RouteDeps,
  ctx: { kit: ConsoleKit; signedIn: SignedIn; refused: (req: FastifyRequest, reply: FastifyReply) => unknown },
) {
  const { kit, signedIn, refused } = ctx;
  const { csrf, response } = deps;
  const getOpts = { config: { auth: "public" as const }, schema: { hide: true } };
  const postOpts = {
    config: { auth: "public" as const },
    schema: { hide: true, body: { type: "object", additionalProperties: { type: "string", maxLength: 4000 } } },
  };

  const notFound = (req: FastifyRequest, reply: FastifyReply, who: StaffIdentity) => {
    const lang = kit.langOf(req);
    return kit.page(req, reply, {
      status: 404,
      lang,
      title: CT.notFoundTitle[lang],
      staff: who,
      csrf: csrf.issue(req, reply),
      children: [
        <p key="b">{CT.notFoundBody[lang]}</p>,
        <p key="a">
          <a href={kit.rootOf(req)}>{CT.back[lang]}</a>
        </p>,
      ],
    });
  };

  async function previewPage(
    req: FastifyRequest,
    reply: FastifyReply,
    who: StaffIdentity,
    accountId: string,
    o: { since?: number | undefined; error?: string; reason?: string } = {},
  ) {
    const lang = kit.langOf(req);
    let p: LockdownPreview;
    let error = o.error;
    try {
      p = await response.previewLockdown(accountId, { since: o.since ?? null });
    } catch (e) {
      const c = mamoriCode(e)?.code;
      if (c === "case_not_found") return notFound(req, reply, who);
      if (c !== "window_invalid") throw e;
      error = T.sinceBad[lang];
      p = await response.previewLockdown(accountId, {});
    }
    const account = await deps.identity.getAccount(accountId);
    const token = csrf.issue(req, reply);
    const root = kit.rootOf(req);
    const base = `${root}accounts/${encodeURIComponent(accountId)}`;
    const email = account.emails.find((e) => e.primary)?.value ?? account.emails[0]?.value ?? accountId;
    const nothing = <p>{T.nothing[lang]}</p>;
    const sessionLine = (x: LockdownPreview["endSessions"][number]) =>
      `${[x.browser, x.os].filter(Boolean).join(" / ") || CT.unknown[lang]} · ${kit.country(x.country, lang)} · ${kit.network(x.ip, x.asn, lang)} · ${kit.when(x.createdAt, lang)}`;
    const id = p.identity;
    const undo: string[] = [
      ...id.contactsRemoved.map((c) => `${c.value} — ${T.contactRemove[lang]}`),
      ...id.contactsRestored.map((c) => `${c.value} — ${T.contactRestore[lang]}`),
      ...(id.passwordRestored ? [T.passwordRestore[lang]] : []),
      ...id.factors.map(
        (f) =>
          f.summary?.[lang] ??
          `${f.name} — ${f.action === "removed" ? (lang === "ja" ? "期間中に追加: 削除" : "added in the window: removed") : lang === "ja" ? "期間中に削除: 復元" : "removed in the window: restored"}`,
      ),
      ...(id.signInCountries ? [s(lang, T.countries, { c: id.signInCountries.join(", ") || "—" })] : []),
      ...(p.commerce?.rollbacks ?? []).map(
        (r) =>
          `${label(OBJECT, r.objectType, lang)} — ${r.before === null ? (lang === "ja" ? "期間中に追加: 削除" : "added in the window: removed") : `${lang === "ja" ? "元に戻す" : "back to"}: ${shown("before", r.before)}`}`,
      ),
    ];
    const windowWhy =
      p.window.source === "support"
        ? T.windowSupport[lang]
        : p.window.source === "none"
          ? T.windowNone[lang]
          : T.windowComputed[lang];
    return kit.page(req, reply, {
      status: error ? 400 : 200,
      lang,
      title: T.previewTitle[lang],
      staff: who,
      csrf: token,
      wide: true,
      children: [
        error ? (
          <Notice key="e" tone="error" alert>
            <p>{error}</p>
          </Notice>
        ) : null,
        <Notice key="i" tone="warn">
          <p>{T.previewIntro[lang]}</p>
        </Notice>,
        p.activeCase ? (
          <Notice key="ac">
            <p>{T.activeCase[lang]}</p>
          </Notice>
        ) : null,
        <dl key="f" class="facts">
          <dt>{T.account[lang]}</dt>
          <dd>
            <a href={base}>{email}</a>
          </dd>
          <dt>{T.window[lang]}</dt>
          <dd>
            <strong>{kit.when(p.window.since, lang)}</strong>
            <div>
              {T.windowWhy[lang]}: {windowWhy}
            </div>
          </dd>
        </dl>,
        <form key="since" method="get" action={`${base}/lockdown`} class="search">
          <div class="field">
            <label for="since">{T.sinceLabel[lang]}</label>
            <input
              id="since"
              name="since"
              type="text"
              inputMode="numeric"
              autocomplete="off"
              pattern="\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?"
              placeholder="2026-11-01 18:30"
              aria-describedby="since-hint"
              value={toJstInput(p.window.since)}
            />
            <p id="since-hint" class="hint">
              {T.sinceHint[lang]}
            </p>
          </div>
          <button type="submit" class="secondary">
            {T.update[lang]}
          </button>
        </form>,
        <p key="fr">{T.freeze[lang]}</p>,

        <h2 key="h-s">
          {T.end[lang]}（{p.endSessions.length}）
        </h2>,
        p.endSessions.length ? (
          <ul key="s">
            {p.endSessions.map((x) => (
              <li key={x.id}>
                {sessionLine(x)}
                {p.attackerSessions.some((a) => a.id === x.id) ? (
                  <span class="tag danger">{lang === "ja" ? "攻撃者" : "attacker"}</span>
                ) : null}
              </li>
            ))}
          </ul>
        ) : (
          <div key="s0">{nothing}</div>
        ),
        <h2 key="h-a">
          {T.attackerSessions[lang]}（{p.attackerSessions.length}）
        </h2>,
        p.attackerSessions.length ? (
          <ul key="a">
            {p.attackerSessions.map((x) => (
              <li key={x.id}>{sessionLine(x)}</li>
            ))}
          </ul>
        ) : (
          <div key="a0">{nothing}</div>
        ),

        <h2 key="h-u">
          {T.undo[lang]}（{undo.length}）
        </h2>,
        undo.length ? (
          <ul key="u">
            {undo.map((line) => (
              <li key={line}>{line}</li>
            ))}
          </ul>
        ) : (
          <div key="u0">{nothing}</div>
        ),

        <h2 key="h-o">
          {T.orders[lang]}（{p.commerce?.orders.length ?? 0}）
        </h2>,
        p.commerce?.orders.length ? (
          <ul key="o">
            {p.commerce.orders.map((x) => (
              <li key={x.id}>
                <span class="code">{x.id}</span> {formatAmount(x.total, x.currency)} ·{" "}
                {x.why === "listing" ? T.onListing[lang] : T.byAttacker[lang]} · {kit.when(x.createdAt, lang)}
                <ul>
                  {x.payments.map((pay, i) => (
                    <li key={`${x.id}${i}`}>
                      {label(PAY_ACTION, pay.action, lang)}
                      {pay.action === "none" ? "" : `: ${formatAmount(pay.amount, x.currency)}`}
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        ) : (
          <div key="o0">{nothing}</div>
        ),

        <h2 key="h-g">
          {T.giftCards[lang]}（{p.commerce?.giftCards.length ?? 0}）
        </h2>,
        p.commerce?.giftCards.length ? (
          <ul key="g">
            {p.commerce.giftCards.map((g) => (
              <li key={`${g.id}${g.action}`}>
                ••••{g.last4} {formatAmount(g.amount, g.currency)} — {label(CARD_ACTION, g.action, lang)}
              </li>
            ))}
          </ul>
        ) : (
          <div key="g0">{nothing}</div>
        ),

        <h2 key="h-l">
          {T.listings[lang]}（{p.commerce?.listings.length ?? 0}）
        </h2>,
        p.commerce?.listings.length ? (
          <ul key="l">
            {p.commerce.listings.map((l) => (
              <li key={l.id}>
                {l.title} — {formatAmount(l.price, l.currency)}
              </li>
            ))}
          </ul>
        ) : (
          <div key="l0">{nothing}</div>
        ),

        <h2 key="h-n">{T.notify[lang]}</h2>,
        p.notify.length ? (
          <ul key="n">
            {p.notify.map((v) => (
              <li key={v}>{v}</li>
            ))}
          </ul>
        ) : (
          <div key="n0">{nothing}</div>
        ),

        <PostForm
          key="go"
          action={`${base}/lockdown`}
          hidden={{
            csrf: token,
            lang,
            since: p.window.source === "support" ? toJstInput(p.window.since) : undefined,
          }}
        >
          <div class="field">
            <label for="reason">{T.reason[lang]}</label>
            <input id="reason" name="reason" type="text" required minLength={3} maxLength={500} value={o.reason} />
          </div>
          <Actions>
            <button type="submit" class="danger">
              {T.start[lang]}
            </button>
            <a class="button secondary" href={base}>
              {T.toAccount[lang]}
            </a>
          </Actions>
        </PostForm>,
      ],
    });
  }

  app.get("/console/accounts/:accountId/lockdown", getOpts, async (req, reply) => {
    kit.keepLang(req, reply);
    const who = await signedIn(req, reply);
    if (!who) return reply;
    const id = (req.params as { accountId: string }).accountId.slice(0, 64);
    const raw = (req.query as { since?: unknown }).since;
    const since = parseJst(typeof raw === "string" ? raw : undefined);
    if (since !== undefined && !Number.isFinite(since)) {
      return previewPage(req, reply, who, id, { error: T.sinceBad[kit.langOf(req)] });
    }
    return previewPage(req, reply, who, id, { since });
  });

  app.post("/console/accounts/:accountId/lockdown", postOpts, async (req, reply) => {
    const b = req.body as Record<string, string | undefined>;
    if (!csrf.check(req, b.csrf)) return refused(req, reply);
    const who = await signedIn(req, reply);
    if (!who) return reply;
    const lang = kit.langOf(req);
    const accountId = (req.params as { accountId: string }).accountId.slice(0, 64);
    const reason = (b.reason ?? "").trim().slice(0, 500);
    const since = parseJst(b.since);
    if (since !== undefined && !Number.isFinite(since)) {
      return previewPage(req, reply, who, accountId, { error: T.sinceBad[lang], reason });
    }
    if (reason.length < 3) return previewPage(req, reply, who, accountId, { since, error: T.reasonMissing[lang] });
    let caseId: string;
    try {
      ({ caseId } = await response.lockdownAccount({
        accountId,
        reason,
        openedBy: `admin:${who.adminId}`,
        since: since ?? null,
        ip: req.ip,
      }));
    } catch (e) {
      const c = mamoriCode(e)?.code;
      if (c === "case_not_found") return notFound(req, reply, who);
      if (c === "window_invalid") return previewPage(req, reply, who, accountId, { error: T.sinceBad[lang], reason });
      throw e;
    }
    await deps.admin.audit.record({
      type: "support.lockdown",
      staffId: who.adminId,
      username: who.username,
      data: { accountId, caseId, reason, since: since === undefined ? null : new Date(since).toISOString() },
      actor: `staff:${who.adminId}`,
      ip: req.ip,
    });
    return reply
      .header("cache-control", "no-store")
      .redirect(`${kit.rootOf(req)}cases/${encodeURIComponent(caseId)}?done=1`, 303);
  });

  async function casePage(req: FastifyRequest, reply: FastifyReply, who: StaffIdentity, caseId: string) {
    const lang = kit.langOf(req);
    let c: Awaited<ReturnType<typeof response.getCase>>;
    try {
      c = await response.getCase(caseId);
    } catch (e) {
      if (mamoriCode(e)?.code === "case_not_found") return notFound(req, reply, who);
      throw e;
    }
    const token = csrf.issue(req, reply);
    const root = kit.rootOf(req);
    const neverTold = c.objects.some((o) => o.storeConfirmation === "never_told");
    const staffName = async (actor: string) => {
      const m = /^(?:admin|staff):(.+)$/.exec(actor);
      if (!m) return actor;
      const u = (await deps.admin.listAdminUsers()).find((x) => x.id === m[1]);
      return u ? `${lang === "ja" ? "サポート" : "Support"}: ${u.username}` : actor;
    };
    const openedBy = await staffName(c.openedBy);
    const acc = await deps.identity.getAccount(c.accountId).catch(() => null);
    const accountName = acc?.emails.find((e) => e.primary)?.value ?? acc?.emails[0]?.value ?? c.accountId;
    const notes = await Promise.all(c.notes.map(async (n) => ({ ...n, by: await staffName(n.author) })));
    const done = (req.query as { done?: unknown }).done === "1";
    const flag = (o: (typeof c.objects)[number]) => o.flagged;
    const flagged = c.objects.filter(flag).length;
    return kit.page(req, reply, {
      lang,
      title: s(lang, T.caseTitle, { id: c.id.slice(0, 8) }),
      staff: who,
      csrf: token,
      langSwitch: req.method === "GET",
      wide: true,
      children: [
        done ? (
          <Notice key="d" tone="ok" alert>
            <p>{T.started[lang]}</p>
          </Notice>
        ) : null,
        neverTold ? (
          <Notice key="nt" tone="error">
            <p>{T.neverTold[lang]}</p>
          </Notice>
        ) : null,
        flagged ? (
          <Notice key="fl" tone="warn">
            <p>{s(lang, T.flaggedN, { n: flagged })}</p>
          </Notice>
        ) : null,
        <dl key="f" class="facts">
          <dt>{T.status[lang]}</dt>
          <dd>{label(CASE_STATUS, c.status, lang)}</dd>
          <dt>{T.account[lang]}</dt>
          <dd>
            <a href={`${root}accounts/${encodeURIComponent(c.accountId)}`}>{accountName}</a>
          </dd>
          <dt>{T.openedBy[lang]}</dt>
          <dd>
            {openedBy} — {c.reason}
          </dd>
          <dt>{T.opened[lang]}</dt>
          <dd>{kit.when(c.createdAt, lang)}</dd>
          <dt>{T.window[lang]}</dt>
          <dd>{c.since ? kit.when(c.since, lang) : "—"}</dd>
        </dl>,
        <h2 key="h-st">{T.steps[lang]}</h2>,
        <ol key="st">
          {c.steps.map((x) => (
            <li key={x.step}>
              {label(STEP_NAMES, x.step, lang)}:{" "}
              <span class={x.status === "done" ? "tag ok" : "tag"}>{label(STEP_STATUS, x.status, lang)}</span>
              {x.doneAt ? ` ${kit.when(x.doneAt, lang)}` : ""}
            </li>
          ))}
        </ol>,
        <h2 key="h-r">{T.report[lang]}</h2>,
        <div key="r" class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">{T.object[lang]}</th>
                <th scope="col">{T.action[lang]}</th>
                <th scope="col">{T.change[lang]}</th>
                <th scope="col">{T.store[lang]}</th>
              </tr>
            </thead>
            <tbody>
              {c.objects.map((o) => (
                <tr key={`${o.objectType}${o.objectId}${o.action}`}>
                  <td>
                    {label(OBJECT, o.objectType, lang)} <span class="code">{o.objectId.slice(0, 12)}</span>
                  </td>
                  <td>
                    {label(ACTION, o.action, lang)}
                    {o.note ? <div class="code">{label(NOTES, o.note, lang)}</div> : null}
                  </td>
                  <td class="change">
                    <del>{shown("before", o.before)}</del> → <ins>{shown("after", o.after)}</ins>
                  </td>
                  <td>
                    <span class={flag(o) ? "tag danger" : "tag ok"}>
                      {label(STORE_STATE, o.storeConfirmation, lang)}
                    </span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>,
        <h2 key="h-n">{T.notes[lang]}</h2>,
        notes.length ? (
          <ul key="n">
            {notes.map((n) => (
              <li key={n.id}>
                {kit.when(String(n.at), lang)} {n.by}: {n.body}
              </li>
            ))}
          </ul>
        ) : (
          <p key="n0">{T.nothing[lang]}</p>
        ),
        <PostForm key="nf" action={`${root}cases/${encodeURIComponent(c.id)}/notes`} hidden={{ csrf: token, lang }}>
          <div class="field">
            <label for="note">{T.note[lang]}</label>
            <textarea id="note" name="body" required maxLength={4000} rows={3} />
          </div>
          <Actions>
            <button type="submit" class="secondary">
              {T.addNote[lang]}
            </button>
          </Actions>
        </PostForm>,
      ],
    });
  }

  app.get("/console/cases/:caseId", getOpts, async (req, reply) => {
    kit.keepLang(req, reply);
    const who = await signedIn(req, reply);
    if (!who) return reply;
    return casePage(req, reply, who, (req.params as { caseId: string }).caseId.slice(0, 64));
  });

  app.post("/console/cases/:caseId/notes", postOpts, async (req, reply) => {
    const b = req.body as Record<string, string | undefined>;
    if (!csrf.check(req, b.csrf)) return refused(req, reply);
    const who = await signedIn(req, reply);
    if (!who) return reply;
    const caseId = (req.params as { caseId: string }).caseId.slice(0, 64);
    const body = (b.body ?? "").trim().slice(0, 4000);
    if (body) {
      try {
        await response.addNote(caseId, body, `admin:${who.adminId}`);
      } catch (e) {
        if (mamoriCode(e)?.code === "case_not_found") return notFound(req, reply, who);
        throw e;
      }
      await deps.admin.audit.record({
        type: "support.note_added",
        staffId: who.adminId,
        username: who.username,
        data: { caseId },
        actor: `staff:${who.adminId}`,
        ip: req.ip,
      });
    }
    return reply
      .header("cache-control", "no-store")
      .redirect(`${kit.rootOf(req)}cases/${encodeURIComponent(caseId)}`, 303);
  });
}
