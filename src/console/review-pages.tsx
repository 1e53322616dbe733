import type { FastifyReply, FastifyRequest } from "fastify";
import type { StaffIdentity } from "../admin/service.ts";
import type { Http } from "../api/types.ts";
import type { CommerceService } from "../commerce/service.ts";
import { formatAmount } from "../commerce/templates.ts";
import type { RouteDeps } from "../route-deps.ts";
import { Notice, PostForm } from "../web/form.tsx";
import type { Lang, Msg } from "../web/i18n.ts";
import { type ConsoleKit, CT, mamoriCode, type SignedIn, s } from "./kit.tsx";

/**
 * The review queue (issue 15 item 2): what the risk policy held — orders (authorized, nothing captured or issued),
 * gift-card redemptions (nothing moved), listings (not on sale) — oldest first, with why (the rules that fired, from
 * the decision log) and from where; an agent or a lead approves or denies each with a reason. The decision is the
 * commerce service's (guarded: of two agents clicking at once, or an agent and a lockdown, one acts).
 */

const label = (m: Record<string, Msg>, k: string, lang: Lang) => m[k]?.[lang] ?? k;

type HeldItem = Awaited<ReturnType<CommerceService["getHeldItem"]>>;

const T = {
  title: { ja: "審査待ちの取引", en: "Review queue" },
  intro: {
    ja: "リスク判定で保留になった注文・ギフトカードの使用・出品です（古い順）。注文は与信のみで、代金の確定やギフトカードの発行はまだ行われていません。内容を確かめ、理由を入力して承認または拒否してください。",
    en: "Orders, gift-card redemptions and listings the risk policy held, oldest first. A held order is only authorized: nothing is captured and no gift card is issued yet. Check each, give a reason, then approve or deny.",
  },
  empty: { ja: "審査待ちの取引はありません。", en: "Nothing is waiting for review." },
  received: { ja: "受付", en: "When" },
  account: { ja: "アカウント", en: "Account" },
  what: { ja: "内容", en: "What" },
  amount: { ja: "金額", en: "Amount" },
  why: { ja: "保留の理由（発動したルール）", en: "Why held (rules that fired)" },
  where: { ja: "端末・国・ネットワーク", en: "Device · country · network" },
  decide: { ja: "判断", en: "Decision" },
  reason: {
    ja: "理由（アカウントとスタッフの記録に残ります）",
    en: "Reason (kept on the account and in the staff log)",
  },
  approve: { ja: "承認する", en: "Approve" },
  deny: { ja: "拒否する", en: "Deny" },
  open: { ja: "詳細", en: "Details" },
  noRules: { ja: "記録なし", en: "not on record" },
  giftCards: { ja: "ギフトカード {n}枚", en: "{n} gift cards" },
  to: { ja: "宛先: {email}", en: "to {email}" },
  itemTitle: { ja: "保留中の取引 {id}", en: "Held item {id}" },
  status: { ja: "状態", en: "Status" },
  decidedBy: { ja: "判断した人", en: "Decided by" },
  decidedAt: { ja: "判断した日時", en: "Decided" },
  back: { ja: "審査待ちの一覧へ", en: "Back to the queue" },
  toAccount: { ja: "アカウントを開く", en: "Open the account" },
  approveMeans: {
    ja: "承認: 注文は通常の注文として代金を確定し、ギフトカードを発行します。使用は残高に入金します。出品は公開します。",
    en: "Approve: an order is captured and its gift cards issued as for any order; a redemption credits the balance; a listing goes on sale.",
  },
  denyMeans: {
    ja: "拒否: 注文はキャンセルし与信を取り消します（請求なし・発行なし）。使用は受け付けず、カードは元の持ち主が使えるままです。出品は取り下げます。",
    en: "Deny: an order is cancelled and its authorization voided (nothing charged or issued); a redemption is refused and the card stays its owner's; a listing is taken down.",
  },
  approved: { ja: "承認しました。", en: "Approved." },
  denied: { ja: "拒否しました。", en: "Denied." },
  reasonMissing: { ja: "理由を3文字以上で入力してください。", en: "Give a reason (3 characters at least)." },
  verdictMissing: { ja: "承認か拒否を選んでください。", en: "Choose approve or deny." },
  alreadyDecided: {
    ja: "この取引はすでに別のスタッフが判断しました。下の状態を確認してください。",
    en: "Someone else already decided this one. See its state below.",
  },
  lapsed: {
    ja: "この取引はもう保留中ではありません（ロックダウンで注文がキャンセルされた、カードが持ち主に使われた、出品が取り下げられた など）。何も実行していません。",
    en: "This is no longer held (a lockdown cancelled the order, the card's owner used it, the listing was taken down…). Nothing was done.",
  },
  frozen: {
    ja: "アカウントが凍結中のため承認できません。拒否するか、本人の復旧を待ってください。",
    en: "The account is frozen, so nothing can be approved for it. Deny, or wait for the owner's recovery.",
  },
  paymentFailed: {
    ja: "承認しましたが、決済代行会社が代金の確定を断りました。注文は受付済み（未確定）のままです。",
    en: "Approved, but the payment gateway refused the capture. The order stays placed, not captured.",
  },
  notFound: { ja: "その取引は見つかりません。", en: "No such held item." },
} satisfies Record<string, Msg>;

const KIND: Record<string, Msg> = {
  order: { ja: "注文", en: "Order" },
  redemption: { ja: "ギフトカードの使用", en: "Gift card redemption" },
  listing: { ja: "出品", en: "Listing" },
};
export const HOLD_STATUS: Record<string, Msg> = {
  pending: { ja: "審査待ち", en: "waiting for review" },
  approved: { ja: "承認済み", en: "approved" },
  denied: { ja: "拒否済み", en: "denied" },
  lapsed: { ja: "保留が解消（判断不要）", en: "no longer held" },
};

export function registerReviewPages(
  app: Http,
  deps: RouteDeps,
  ctx: { kit: ConsoleKit; signedIn: SignedIn; refused: (req: FastifyRequest, reply: FastifyReply) => unknown },
) {
  const { kit, signedIn, refused } = ctx;
  const { csrf, commerce } = deps;
  const getOpts = { config: { auth: "public" as const }, schema: { hide: true } };
  const postOpts = {
    config: { auth: "public" as const },
    schema: { hide: true, body: { type: "object", additionalProperties: { type: "string", maxLength: 4000 } } },
  };

  const device = (h: HeldItem, lang: Lang) => {
    const x = h.session;
    if (!x) return CT.unknown[lang];
    const what = [x.browser, x.os].filter(Boolean).join(" / ") || CT.unknown[lang];
    return `${what} · ${kit.country(x.country, lang)} · ${kit.network(x.ip, x.asn, lang)}`;
  };
  const what = (h: HeldItem, lang: Lang) => (
    <>
      <strong>{label(KIND, h.kind, lang)}</strong>
      <div>{h.title ?? "—"}</div>
      {h.giftCards ? <div>{s(lang, T.giftCards, { n: h.giftCards })}</div> : null}
      {h.recipientEmail ? <div>{s(lang, T.to, { email: h.recipientEmail })}</div> : null}
      <div class="code">{h.objectId}</div>
    </>
  );
  const why = (h: HeldItem, lang: Lang) =>
    h.rules.length === 0 ? (
      T.noRules[lang]
    ) : (
      <ul>
        {h.rules.map((r) => (
          <li key={r.ruleId}>
            <span class="code">{r.ruleId}</span>
            {r.description ? <div>{r.description}</div> : null}
          </li>
        ))}
      </ul>
    );
  const money = (h: HeldItem) => (h.amount === null ? "—" : formatAmount(h.amount, h.currency ?? "JPY"));

  /** The reason box and the two buttons; the verdict is the button pressed. */
  const decideForm = (req: FastifyRequest, h: HeldItem, token: string, lang: Lang, reason?: string) => (
    <PostForm action={`${kit.rootOf(req)}review/${encodeURIComponent(h.id)}`} hidden={{ csrf: token, lang }}>
      <div class="field">
        <label for={`reason-${h.id}`}>{T.reason[lang]}</label>
        <input id={`reason-${h.id}`} name="reason" type="text" required minLength={3} maxLength={500} value={reason} />
      </div>
      <div class="actions">
        <button type="submit" name="verdict" value="approve" class="secondary">
          {T.approve[lang]}
        </button>
        <button type="submit" name="verdict" value="deny" class="danger">
          {T.deny[lang]}
        </button>
      </div>
    </PostForm>
  );

  app.get("/console/review", getOpts, async (req, reply) => {
    kit.keepLang(req, reply);
    const who = await signedIn(req, reply);
    if (!who) return reply;
    const lang = kit.langOf(req);
    const token = csrf.issue(req, reply);
    const root = kit.rootOf(req);
    const items = await commerce.listHeldItems({ limit: 200 });
    const done = (req.query as { done?: unknown }).done;
    return kit.page(req, reply, {
      lang,
      title: T.title[lang],
      staff: who,
      csrf: token,
      langSwitch: true,
      wide: true,
      children: [
        done === "approved" || done === "denied" ? (
          <Notice key="d" tone="ok" alert>
            <p>{T[done][lang]}</p>
          </Notice>
        ) : null,
        <p key="i">{T.intro[lang]}</p>,
        items.length === 0 ? (
          <p key="e">{T.empty[lang]}</p>
        ) : (
          <div key="t" class="table-scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">{T.received[lang]}</th>
                  <th scope="col">{T.account[lang]}</th>
                  <th scope="col">{T.what[lang]}</th>
                  <th scope="col">{T.amount[lang]}</th>
                  <th scope="col">{T.why[lang]}</th>
                  <th scope="col">{T.where[lang]}</th>
                  <th scope="col">{T.decide[lang]}</th>
                </tr>
              </thead>
              <tbody>
                {items.map((h) => (
                  <tr key={h.id} id={`hold-${h.id}`}>
                    <td>
                      {kit.when(h.createdAt, lang)}
                      <div>
                        <a href={`${root}review/${encodeURIComponent(h.id)}`}>{T.open[lang]}</a>
                      </div>
                    </td>
                    <td>
                      <a href={`${root}accounts/${encodeURIComponent(h.accountId)}`}>{h.accountEmail ?? h.accountId}</a>
                    </td>
                    <td>{what(h, lang)}</td>
                    <td>{money(h)}</td>
                    <td>{why(h, lang)}</td>
                    <td>{device(h, lang)}</td>
                    <td>{decideForm(req, h, token, lang)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ),
      ],
    });
  });

  async function itemPage(
    req: FastifyRequest,
    reply: FastifyReply,
    who: StaffIdentity,
    id: string,
    o: { status?: number; notice?: string; tone?: "warn" | "error"; reason?: string } = {},
  ) {
    const lang = kit.langOf(req);
    const root = kit.rootOf(req);
    let h: HeldItem;
    try {
      h = await commerce.getHeldItem(id);
    } catch (e) {
      if (mamoriCode(e)?.code !== "hold_not_found") throw e;
      return kit.page(req, reply, {
        status: 404,
        lang,
        title: CT.notFoundTitle[lang],
        staff: who,
        csrf: csrf.issue(req, reply),
        children: [
          <p key="b">{T.notFound[lang]}</p>,
          <p key="a">
            <a href={`${root}review`}>{T.back[lang]}</a>
          </p>,
        ],
      });
    }
    const token = csrf.issue(req, reply);
    const staffName = async (actor: string | null) => {
      const m = actor ? /^(?:admin|staff):(.+)$/.exec(actor) : null;
      if (!m) return actor === "system" ? (lang === "ja" ? "システム" : "System") : (actor ?? "—");
      const u = (await deps.admin.listAdminUsers()).find((x) => x.id === m[1]);
      return u ? `${lang === "ja" ? "サポート" : "Support"}: ${u.username}` : actor;
    };
    return kit.page(req, reply, {
      status: o.status ?? 200,
      lang,
      title: s(lang, T.itemTitle, { id: h.id.slice(0, 8) }),
      staff: who,
      csrf: token,
      langSwitch: req.method === "GET",
      wide: true,
      children: [
        o.notice ? (
          <Notice key="n" tone={o.tone ?? "warn"} alert>
            <p>{o.notice}</p>
          </Notice>
        ) : null,
        <dl key="f" class="facts">
          <dt>{T.status[lang]}</dt>
          <dd>
            <span class={h.status === "pending" ? "tag danger" : "tag"}>{label(HOLD_STATUS, h.status, lang)}</span>
          </dd>
          <dt>{T.received[lang]}</dt>
          <dd>{kit.when(h.createdAt, lang)}</dd>
          <dt>{T.account[lang]}</dt>
          <dd>
            <a href={`${root}accounts/${encodeURIComponent(h.accountId)}`}>{h.accountEmail ?? h.accountId}</a>
          </dd>
          <dt>{T.what[lang]}</dt>
          <dd>{what(h, lang)}</dd>
          <dt>{T.amount[lang]}</dt>
          <dd>{money(h)}</dd>
          <dt>{T.why[lang]}</dt>
          <dd>{why(h, lang)}</dd>
          <dt>{T.where[lang]}</dt>
          <dd>{device(h, lang)}</dd>
          {h.status !== "pending" ? (
            <>
              <dt>{T.decidedBy[lang]}</dt>
              <dd>{await staffName(h.decidedBy)}</dd>
              <dt>{T.decidedAt[lang]}</dt>
              <dd>{kit.when(h.decidedAt, lang)}</dd>
              <dt>{T.reason[lang]}</dt>
              <dd>{h.reason ?? "—"}</dd>
            </>
          ) : null}
        </dl>,
        h.status === "pending" ? (
          <div key="d">
            <p>{T.approveMeans[lang]}</p>
            <p>{T.denyMeans[lang]}</p>
            {decideForm(req, h, token, lang, o.reason)}
          </div>
        ) : null,
        <p key="b">
          <a href={`${root}review`}>{T.back[lang]}</a>
        </p>,
      ],
    });
  }

  app.get("/console/review/:id", getOpts, async (req, reply) => {
    kit.keepLang(req, reply);
    const who = await signedIn(req, reply);
    if (!who) return reply;
    return itemPage(req, reply, who, (req.params as { id: string }).id.slice(0, 64));
  });

  app.post("/console/review/:id", postOpts, async (req, reply) => {
    const b = req.body as Record<string, string | undefined>;
    if (!csrf.check(req, b.csrf)) return refused(req, reply);
    const who = await signedIn(req, reply);
    if (!who) return reply;
    const lang = kit.langOf(req);
    const id = (req.params as { id: string }).id.slice(0, 64);
    const reason = (b.reason ?? "").trim().slice(0, 500);
    if (b.verdict !== "approve" && b.verdict !== "deny") {
      return itemPage(req, reply, who, id, { status: 400, notice: T.verdictMissing[lang], reason });
    }
    if ([...reason].length < 3) {
      return itemPage(req, reply, who, id, { status: 400, notice: T.reasonMissing[lang], reason });
    }
    const by = { staffId: who.adminId, username: who.username };
    try {
      if (b.verdict === "approve") await commerce.approveHeldItem(id, by, reason, req.ip);
      else await commerce.denyHeldItem(id, by, reason, req.ip);
    } catch (e) {
      const c = mamoriCode(e)?.code;
      if (c === "hold_not_found") return itemPage(req, reply, who, id);
      if (c === "hold_already_decided")
        return itemPage(req, reply, who, id, { status: 409, notice: T.alreadyDecided[lang] });
      if (c === "hold_lapsed") return itemPage(req, reply, who, id, { status: 409, notice: T.lapsed[lang] });
      if (c === "account_frozen") return itemPage(req, reply, who, id, { status: 409, notice: T.frozen[lang] });
      if (c === "payment_failed") {
        return itemPage(req, reply, who, id, { status: 409, notice: T.paymentFailed[lang], tone: "error" });
      }
      if (c === "reason_required") {
        return itemPage(req, reply, who, id, { status: 400, notice: T.reasonMissing[lang], reason });
      }
      throw e;
    }
    const done = b.verdict === "approve" ? "approved" : "denied";
    return reply.header("cache-control", "no-store").redirect(`${kit.rootOf(req)}review?done=${done}`, 303);
  });
}
