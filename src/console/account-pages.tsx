import type { FastifyReply, FastifyRequest } from "fastify";
import type { StaffIdentity } from "../admin/service.ts";
import type { Http } from "../api/types.ts";
import { formatAmount } from "../commerce/templates.ts";
import type { RouteDeps } from "../route-deps.ts";
import { Actions, Notice, PostForm } from "../web/form.tsx";
import type { Lang, Msg } from "../web/i18n.ts";
import { type ConsoleKit, CT, mamoriCode, type SignedIn, s } from "./kit.tsx";
import { HOLD_STATUS } from "./review-pages.tsx";
import { type AccountRecord, type Reveal, splitActor } from "./service.ts";
import { changesOf, factsOf, maskTail } from "./timeline.ts";

const T = {
  resultsTitle: { ja: "検索結果: {q}", en: "Results for {q}" },
  tooShort: { ja: "2文字以上で検索してください。", en: "Search with at least 2 characters." },
  noHits: {
    ja: "該当するアカウントはありません。過去のメールアドレス・電話番号、注文番号、ギフトカードのコード、氏名の先頭でも探せます。",
    en: "No account found. Past emails and phones, order ids, gift card codes and the start of a name work too.",
  },
  matched: { ja: "一致", en: "Matched" },
  current: { ja: "現在", en: "current" },
  past: { ja: "過去", en: "past" },
  open: { ja: "開く", en: "Open" },
  accountTitle: { ja: "アカウント {email}", en: "Account {email}" },
  status: { ja: "状態", en: "Status" },
  created: { ja: "作成", en: "Created" },
  language: { ja: "言語", en: "Language" },
  emails: { ja: "メールアドレス", en: "Emails" },
  phones: { ja: "電話番号", en: "Phones" },
  factors: { ja: "2段階認証", en: "Second factors" },
  factor: { ja: "方法", en: "Factor" },
  factorState: { ja: "状態", en: "State" },
  factorItems: { ja: "登録されているもの（追加 / 最終利用）", en: "Enrolled (added / last used)" },
  on: { ja: "設定済み", en: "on" },
  lockdownButton: { ja: "ロックダウンの内容を確認する", en: "Preview a lockdown" },
  timeline: { ja: "タイムライン（日本時間、新しい順）", en: "Timeline (JST, newest first)" },
  when: { ja: "日時", en: "When" },
  what: { ja: "出来事", en: "What" },
  who: { ja: "誰が（端末・国・ネットワーク）", en: "Who (device, country, network)" },
  change: { ja: "変更内容（前 → 後）", en: "Change (before → after)" },
  sessions: { ja: "端末（セッション）", en: "Sessions" },
  active: { ja: "ログイン中", en: "active" },
  ended: { ja: "終了", en: "ended" },
  attacker: { ja: "攻撃者と判定", en: "attacker" },
  logins: { ja: "ログイン履歴", en: "Sign-in attempts" },
  outcome: { ja: "結果", en: "Outcome" },
  orders: { ja: "注文（すべての状態）", en: "Orders (every state)" },
  order: { ja: "注文番号", en: "Order" },
  amount: { ja: "金額", en: "Amount" },
  payment: { ja: "支払い", en: "Payment" },
  shipTo: { ja: "お届け先", en: "Ship to" },
  role: { ja: "立場", en: "Role" },
  buyer: { ja: "購入者", en: "buyer" },
  seller: { ja: "出品者", en: "seller" },
  giftCards: { ja: "ギフトカード", en: "Gift cards" },
  card: { ja: "カード", en: "Card" },
  recipient: { ja: "宛先", en: "Recipient" },
  redeemedInto: { ja: "使用したアカウント", en: "Redeemed into" },
  listings: { ja: "出品", en: "Listings" },
  title: { ja: "商品名", en: "Title" },
  price: { ja: "価格", en: "Price" },
  addresses: { ja: "お届け先", en: "Addresses" },
  instruments: { ja: "登録カード", en: "Saved cards" },
  removed: { ja: "削除済み", en: "removed" },
  contacts: { ja: "メールアドレス・電話番号の履歴", en: "Email and phone history" },
  added: { ja: "追加", en: "Added" },
  removedAt: { ja: "削除", en: "Removed" },
  cases: { ja: "ケース", en: "Cases" },
  none: { ja: "ありません。", en: "None." },
  reveal: { ja: "表示する（記録されます）", en: "Show (logged)" },
  revealReason: { ja: "表示する理由", en: "Why you need it" },
  revealed: {
    ja: "伏せていた情報を表示しています。この表示はスタッフの操作記録に残りました。",
    en: "A masked value is shown. The staff log recorded this.",
  },
  revealRefused: {
    ja: "表示する理由を3文字以上で入力してください。",
    en: "Say why you need it (3 characters at least).",
  },
  token: { ja: "決済トークン", en: "Gateway token" },
  masked: { ja: "（伏せ字）", en: "(masked)" },
  mine: { ja: "このアカウント", en: "this account" },
  other: { ja: "別のアカウント", en: "another account" },
  review: { ja: "審査", en: "Review" },
} satisfies Record<string, Msg>;

const GIFT_STATUS: Record<string, Msg> = {
  active: { ja: "未使用", en: "active" },
  redeemed: { ja: "使用済み", en: "redeemed" },
  void: { ja: "無効", en: "void" },
};
const LISTING_STATUS: Record<string, Msg> = {
  active: { ja: "出品中", en: "active" },
  held: { ja: "保留", en: "held" },
  taken_down: { ja: "取り下げ済み", en: "taken down" },
  sold_out: { ja: "売り切れ", en: "sold out" },
};
const ENDED_WHY: Record<string, Msg> = {
  lockdown: { ja: "ロックダウン", en: "lockdown" },
  signed_out: { ja: "ログアウト", en: "signed out" },
  email_changed: { ja: "メール変更", en: "email changed" },
  password_changed: { ja: "パスワード変更", en: "password changed" },
  idle: { ja: "時間切れ", en: "idle" },
  support: { ja: "サポート", en: "support" },
};
const STATUS: Record<string, Msg> = {
  active: { ja: "利用中", en: "active" },
  frozen: { ja: "凍結中", en: "frozen" },
  locked: { ja: "ロック中", en: "locked" },
};
const OUTCOMES: Record<string, Msg> = {
  succeeded: { ja: "成功", en: "succeeded" },
  failed: { ja: "パスワード誤り", en: "wrong password" },
  challenged: { ja: "確認コードを要求", en: "challenged" },
  denied: { ja: "ブロック", en: "blocked" },
};
const ORDER_STATUS: Record<string, Msg> = {
  pending_payment: { ja: "支払い待ち", en: "pending payment" },
  placed: { ja: "受付済み", en: "placed" },
  on_hold: { ja: "保留（確認待ち）", en: "on hold" },
  shipped: { ja: "発送済み", en: "shipped" },
  delivered: { ja: "配達済み", en: "delivered" },
  cancelled: { ja: "キャンセル", en: "cancelled" },
  refunded: { ja: "返金済み", en: "refunded" },
};
export const CASE_STATUS: Record<string, Msg> = {
  open: { ja: "対応中", en: "open" },
  locking: { ja: "ロックダウン実行中", en: "locking down" },
  locked_down: { ja: "ロックダウン済み（本人の復旧待ち）", en: "locked down (awaiting recovery)" },
  recovered: { ja: "復旧済み", en: "recovered" },
  closed: { ja: "終了", en: "closed" },
};

export const label = (m: Record<string, Msg>, k: string, lang: Lang) => m[k]?.[lang] ?? k;

type Addr = {
  name?: unknown;
  line1?: unknown;
  line2?: unknown;
  city?: unknown;
  region?: unknown;
  postalCode?: unknown;
  postal_code?: unknown;
  country?: unknown;
};

/** A buyer's address: the name and the town, street and postal code masked unless revealed. */
function addressText(a: Addr, revealed: boolean): string {
  const postal = String(a.postalCode ?? a.postal_code ?? "");
  const parts = revealed
    ? [a.country, postal ? `〒${postal}` : "", a.region, a.city, a.line1, a.line2, a.name]
    : [a.country, postal ? `〒${postal.slice(0, 3)}-＊＊＊＊` : "", a.region, a.city, "＊＊＊", a.name];
  return parts.filter((x) => typeof x === "string" && x.length > 0).join(" ");
}

export function registerAccountPages(
  app: Http,
  deps: RouteDeps,
  ctx: { kit: ConsoleKit; signedIn: SignedIn; refused: (req: FastifyRequest, reply: FastifyReply) => unknown },
) {
  const { kit, signedIn, refused } = ctx;
  const { csrf } = deps;
  const console_ = deps.console;
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

  app.get("/console/search", getOpts, async (req, reply) => {
    kit.keepLang(req, reply);
    const who = await signedIn(req, reply);
    if (!who) return reply;
    const lang = kit.langOf(req);
    const raw = (req.query as { q?: unknown }).q;
    const q = typeof raw === "string" ? raw : "";
    const r = await console_.search(q);
    const root = kit.rootOf(req);
    return kit.page(req, reply, {
      lang,
      title: s(lang, T.resultsTitle, { q: q.trim().slice(0, 100) }),
      staff: who,
      csrf: csrf.issue(req, reply),
      langSwitch: true,
      wide: true,
      children: [
        <form key="f" method="get" action={`${root}search`} class="search">
          <div class="field">
            <label for="q">{CT.home[lang]}</label>
            <input id="q" name="q" type="search" value={q} required minLength={2} maxLength={254} />
          </div>
          <button type="submit">{CT.home[lang]}</button>
        </form>,
        r.tooShort ? <p key="short">{T.tooShort[lang]}</p> : null,
        !r.tooShort && r.hits.length === 0 ? <p key="none">{T.noHits[lang]}</p> : null,
        r.hits.length ? (
          <table key="t">
            <thead>
              <tr>
                <th scope="col">{T.emails[lang]}</th>
                <th scope="col">{T.status[lang]}</th>
                <th scope="col">{T.matched[lang]}</th>
                <th scope="col">{T.created[lang]}</th>
              </tr>
            </thead>
            <tbody>
              {r.hits.map((h) => (
                <tr key={h.accountId}>
                  <td>
                    <a href={`${root}accounts/${encodeURIComponent(h.accountId)}`}>{h.email ?? h.accountId}</a>
                  </td>
                  <td>{label(STATUS, h.status, lang)}</td>
                  <td>
                    {h.matched.map((m) => (
                      <div key={`${m.kind}:${m.value}`}>
                        {m.value}{" "}
                        <span class={m.current ? "tag" : "tag danger"}>
                          {m.kind} · {m.current ? T.current[lang] : T.past[lang]}
                        </span>
                      </div>
                    ))}
                  </td>
                  <td>{kit.when(h.createdAt, lang)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null,
      ],
    });
  });

  async function accountPage(
    req: FastifyRequest,
    reply: FastifyReply,
    who: StaffIdentity,
    accountId: string,
    o: { reveal?: Reveal; notice?: string; status?: number } = {},
  ) {
    const lang = kit.langOf(req);
    let rec: AccountRecord;
    try {
      rec = await console_.account(accountId);
    } catch (e) {
      if (mamoriCode(e)?.code === "account_not_found") return notFound(req, reply, who);
      throw e;
    }
    const token = csrf.issue(req, reply);
    const root = kit.rootOf(req);
    const a = rec.account;
    const email = a.emails.find((e) => e.primary)?.value ?? a.emails[0]?.value ?? a.id;
    const isRevealed = (kind: NonNullable<Reveal>["kind"], id: string) => o.reveal?.kind === kind && o.reveal.id === id;
    const device = (x: { browser: string | null; os: string | null }) =>
      [x.browser, x.os].filter(Boolean).join(" / ") || CT.unknown[lang];
    const actorText = (actor: string): { text: string; attacker: boolean } => {
      const [kind, id] = splitActor(actor);
      if (kind === "session" && id) {
        const x = rec.actorSessions.get(id);
        if (!x) return { text: s(lang, { ja: "端末（記録なし）", en: "a session (not on record)" }), attacker: false };
        return {
          text: `${device(x)} · ${kit.country(x.country, lang)} · ${kit.network(x.ip, x.asn, lang)}`,
          attacker: rec.attackerSessions.has(id),
        };
      }
      if ((kind === "admin" || kind === "staff") && id) {
        return { text: `${lang === "ja" ? "サポート" : "Support"}: ${rec.staffNames.get(id) ?? "?"}`, attacker: false };
      }
      if (kind === "case" && id) {
        return {
          text: lang === "ja" ? `ロックダウン（ケース ${id.slice(0, 8)}）` : `Lockdown (case ${id.slice(0, 8)})`,
          attacker: false,
        };
      }
      if (kind === "system") return { text: lang === "ja" ? "システム" : "System", attacker: false };
      if (kind === "token") {
        return {
          text: lang === "ja" ? `メールのリンク（${id ?? ""}）` : `A link from a mail (${id ?? ""})`,
          attacker: false,
        };
      }
      if (kind === "recovery")
        return { text: lang === "ja" ? "本人の復旧手続き" : "The owner's recovery", attacker: false };
      return { text: actor, attacker: false };
    };
    const revealForm = (kind: NonNullable<Reveal>["kind"], id: string) => (
      <PostForm action={`${root}accounts/${encodeURIComponent(a.id)}/reveal`} hidden={{ csrf: token, lang, kind, id }}>
        <label class="visually-hidden" for={`r-${kind}-${id}`}>
          {T.revealReason[lang]}
        </label>
        <input
          id={`r-${kind}-${id}`}
          name="reason"
          type="text"
          required
          minLength={3}
          maxLength={500}
          placeholder={T.revealReason[lang]}
        />
        <button type="submit" class="secondary small">
          {T.reveal[lang]}
        </button>
      </PostForm>
    );
    const none = <p>{T.none[lang]}</p>;
    /** The review queue's decision on a held row: a link to it with its state (newest hold first). */
    const holdLink = (objectId: string) => {
      const hs = rec.holds.filter((h) => h.objectId === objectId);
      return hs.length === 0 ? null : (
        <div>
          {hs.map((h) => (
            <a key={h.id} href={`${root}review/${encodeURIComponent(h.id)}`} class="hold-link">
              {T.review[lang]}: {label(HOLD_STATUS, h.status, lang)}
            </a>
          ))}
        </div>
      );
    };

    return kit.page(req, reply, {
      status: o.status ?? 200,
      lang,
      title: s(lang, T.accountTitle, { email }),
      staff: who,
      csrf: token,
      langSwitch: req.method === "GET",
      wide: true,
      children: [
        o.notice ? (
          <Notice key="n" tone="warn" alert>
            <p>{o.notice}</p>
          </Notice>
        ) : null,
        <dl key="facts" class="facts">
          <dt>{T.status[lang]}</dt>
          <dd>
            <span class={a.status === "active" ? "tag ok" : "tag danger"}>{label(STATUS, a.status, lang)}</span>
          </dd>
          <dt>{T.emails[lang]}</dt>
          <dd>{a.emails.map((e) => e.value).join(", ") || "—"}</dd>
          <dt>{T.phones[lang]}</dt>
          <dd>{a.phones.map((p) => p.value).join(", ") || "—"}</dd>
          <dt>{T.language[lang]}</dt>
          <dd>{a.language}</dd>
          <dt>{T.created[lang]}</dt>
          <dd>{kit.when(a.createdAt, lang)}</dd>
          <dt>ID</dt>
          <dd class="code">{a.id}</dd>
        </dl>,
        <Actions key="act">
          <a class="button danger" href={`${root}accounts/${encodeURIComponent(a.id)}/lockdown`}>
            {T.lockdownButton[lang]}
          </a>
        </Actions>,

        // Every registered factor as it describes itself (the registry's faces): the console names none of them.
        <h2 key="h-factors" id="factors">
          {T.factors[lang]}
        </h2>,
        <div key="factors" class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">{T.factor[lang]}</th>
                <th scope="col">{T.factorState[lang]}</th>
                <th scope="col">{T.factorItems[lang]}</th>
              </tr>
            </thead>
            <tbody>
              {rec.factors.map((f) => (
                <tr key={f.kind} id={`factor-${f.kind}`}>
                  <th scope="row">
                    {f.label[lang]} <span class="code">{f.kind}</span>
                  </th>
                  <td>
                    {/* off: the factor's own line says so (未設定。…) */}
                    {f.enrolled ? <span class="tag ok">{T.on[lang]}</span> : null} {f.status[lang]}
                  </td>
                  <td>
                    {f.items.length === 0
                      ? "—"
                      : f.items.map((i) => (
                          <div key={i.id}>
                            {i.name} · {kit.when(i.createdAt, lang)} / {kit.when(i.lastUsedAt, lang)}
                          </div>
                        ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>,

        <h2 key="h-cases">{T.cases[lang]}</h2>,
        rec.cases.length === 0 ? (
          <div key="c-none">{none}</div>
        ) : (
          <ul key="cases">
            {rec.cases.map((c) => (
              <li key={c.id}>
                <a href={`${root}cases/${encodeURIComponent(c.id)}`}>
                  {kit.when(c.createdAt, lang)} — {label(CASE_STATUS, c.status, lang)}
                </a>{" "}
                {c.reason}
              </li>
            ))}
          </ul>
        ),

        <h2 key="h-tl">{T.timeline[lang]}</h2>,
        <div key="tl" class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">{T.when[lang]}</th>
                <th scope="col">{T.what[lang]}</th>
                <th scope="col">{T.who[lang]}</th>
                <th scope="col">{T.change[lang]}</th>
              </tr>
            </thead>
            <tbody>
              {rec.events.map((e) => {
                const actor = actorText(e.actor);
                const changes = changesOf(e.data);
                const facts = factsOf(e.data);
                return (
                  <tr key={e.seq}>
                    <td>{kit.when(e.at, lang)}</td>
                    <td>{console_.eventLabel(e.type, lang)}</td>
                    <td>
                      {actor.text}
                      {actor.attacker ? <span class="tag danger">{T.attacker[lang]}</span> : null}
                      {e.ip && !e.actor.startsWith("session:") ? (
                        <div class="code">
                          {e.ip} {kit.network(e.ip, null, lang)}
                        </div>
                      ) : null}
                    </td>
                    <td>
                      {changes.map((c) => (
                        <div key={`${c.field}${c.before}`} class="change">
                          {c.field ? `${c.field}: ` : ""}
                          <del>{c.before}</del> → <ins>{c.after}</ins>
                        </div>
                      ))}
                      {facts.length ? <div class="code">{facts.join(" · ")}</div> : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>,

        <h2 key="h-s">{T.sessions[lang]}</h2>,
        <div key="s" class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">{T.created[lang]}</th>
                <th scope="col">{T.who[lang]}</th>
                <th scope="col">{T.status[lang]}</th>
              </tr>
            </thead>
            <tbody>
              {rec.sessions.map((x) => (
                <tr key={x.id}>
                  <td>{kit.when(x.created_at, lang)}</td>
                  <td>
                    {device(x)} · {kit.country(x.country, lang)} · {kit.network(x.ip, x.asn, lang)}{" "}
                    <span class="code">
                      {x.ip} ({x.channel})
                    </span>
                  </td>
                  <td>
                    {x.active ? (
                      <span class="tag ok">{T.active[lang]}</span>
                    ) : (
                      <span class="tag">
                        {T.ended[lang]}
                        {x.revoked_reason ? `（${label(ENDED_WHY, x.revoked_reason, lang)}）` : ""}
                      </span>
                    )}
                    {rec.attackerSessions.has(x.id) ? <span class="tag danger">{T.attacker[lang]}</span> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>,

        <h2 key="h-l">{T.logins[lang]}</h2>,
        <div key="l" class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">{T.when[lang]}</th>
                <th scope="col">{T.outcome[lang]}</th>
                <th scope="col">{T.who[lang]}</th>
              </tr>
            </thead>
            <tbody>
              {rec.logins.map((h) => (
                <tr key={h.id}>
                  <td>{kit.when(h.at, lang)}</td>
                  <td>
                    {label(OUTCOMES, h.outcome, lang)}
                    {h.reason ? <span class="code"> {h.reason}</span> : null}
                  </td>
                  <td>
                    {device(h.device)} · {kit.country(h.country, lang)} · {kit.network(h.ip, h.asn, lang)}{" "}
                    <span class="code">
                      {h.ip} ({h.channel})
                    </span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>,

        <h2 key="h-o">{T.orders[lang]}</h2>,
        rec.orders.length === 0 ? (
          <div key="o-none">{none}</div>
        ) : (
          <div key="o" class="table-scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">{T.order[lang]}</th>
                  <th scope="col">{T.status[lang]}</th>
                  <th scope="col">{T.amount[lang]}</th>
                  <th scope="col">{T.payment[lang]}</th>
                  <th scope="col">{T.shipTo[lang]}</th>
                </tr>
              </thead>
              <tbody>
                {rec.orders.map((o_) => {
                  const snap = o_.address_snapshot ? (JSON.parse(o_.address_snapshot) as Addr) : null;
                  const open = isRevealed("order_address", o_.id);
                  const by = o_.session_id ? actorText(`session:${o_.session_id}`) : null;
                  return (
                    <tr key={o_.id}>
                      <td>
                        <span class="code">{o_.id}</span>
                        <div>
                          {kit.when(o_.created_at, lang)} · {o_.account_id === a.id ? T.buyer[lang] : T.seller[lang]}
                        </div>
                        {by ? (
                          <div>
                            {by.text}
                            {by.attacker ? <span class="tag danger">{T.attacker[lang]}</span> : null}
                          </div>
                        ) : null}
                      </td>
                      <td>
                        <span class={o_.status === "on_hold" ? "tag danger" : "tag"}>
                          {label(ORDER_STATUS, o_.status, lang)}
                        </span>
                        {holdLink(o_.id)}
                      </td>
                      <td>{formatAmount(o_.total, o_.currency)}</td>
                      <td>
                        {o_.payment_method}
                        {o_.payments.map((p) => (
                          <div key={p.id} class="code">
                            {p.status} {formatAmount(p.amount, o_.currency)}
                            {p.refunded_amount ? ` (−${formatAmount(p.refunded_amount, o_.currency)})` : ""}
                          </div>
                        ))}
                      </td>
                      <td>
                        {snap ? addressText(snap, open) : "—"}
                        {snap && !open && o_.account_id === a.id ? revealForm("order_address", o_.id) : null}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        ),

        <h2 key="h-g">{T.giftCards[lang]}</h2>,
        rec.giftCards.length === 0 ? (
          <div key="g-none">{none}</div>
        ) : (
          <div key="g" class="table-scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">{T.card[lang]}</th>
                  <th scope="col">{T.status[lang]}</th>
                  <th scope="col">{T.amount[lang]}</th>
                  <th scope="col">{T.recipient[lang]}</th>
                  <th scope="col">{T.redeemedInto[lang]}</th>
                </tr>
              </thead>
              <tbody>
                {rec.giftCards.map((g) => (
                  <tr key={g.id}>
                    <td class="code">••••{g.last4}</td>
                    <td>
                      {label(GIFT_STATUS, g.status, lang)}
                      {holdLink(g.id)}
                    </td>
                    <td>{formatAmount(g.amount, g.currency)}</td>
                    <td>{g.recipient_email ?? "—"}</td>
                    <td>
                      {g.redeemed_into_account === null
                        ? "—"
                        : g.redeemed_into_account === a.id
                          ? T.mine[lang]
                          : T.other[lang]}
                      {g.redeemed_at ? ` · ${kit.when(g.redeemed_at, lang)}` : ""}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ),

        <h2 key="h-li">{T.listings[lang]}</h2>,
        rec.listings.length === 0 ? (
          <div key="li-none">{none}</div>
        ) : (
          <ul key="li">
            {rec.listings.map((l) => (
              <li key={l.id}>
                {l.title} — {formatAmount(l.price, l.currency)} × {l.quantity}{" "}
                <span class="tag">{label(LISTING_STATUS, l.status, lang)}</span> {kit.when(l.created_at, lang)}
                {holdLink(l.id)}
              </li>
            ))}
          </ul>
        ),

        <h2 key="h-a">{T.addresses[lang]}</h2>,
        rec.addresses.length === 0 ? (
          <div key="a-none">{none}</div>
        ) : (
          <ul key="a">
            {rec.addresses.map((x) => {
              const open = isRevealed("address", x.id);
              return (
                <li key={x.id}>
                  {addressText(x, open)} {x.removed_at !== null ? <span class="tag">{T.removed[lang]}</span> : null}
                  {open ? null : revealForm("address", x.id)}
                </li>
              );
            })}
          </ul>
        ),

        <h2 key="h-i">{T.instruments[lang]}</h2>,
        rec.instruments.length === 0 ? (
          <div key="i-none">{none}</div>
        ) : (
          <ul key="i">
            {rec.instruments.map((p) => {
              const open = isRevealed("card", p.id);
              return (
                <li key={p.id}>
                  {p.brand} ••••{p.last4} ({p.funding}, {p.billing_country ?? "—"}) {kit.when(p.created_at, lang)}{" "}
                  {p.removed_at !== null ? <span class="tag">{T.removed[lang]}</span> : null}
                  <div class="code">
                    {T.token[lang]}: {open ? p.gateway_token : `${maskTail(p.gateway_token)} ${T.masked[lang]}`}
                  </div>
                  {open ? null : revealForm("card", p.id)}
                </li>
              );
            })}
          </ul>
        ),

        <h2 key="h-c">{T.contacts[lang]}</h2>,
        <div key="c" class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">{T.emails[lang]}</th>
                <th scope="col">{T.added[lang]}</th>
                <th scope="col">{T.removedAt[lang]}</th>
              </tr>
            </thead>
            <tbody>
              {rec.contacts.map((c) => (
                <tr key={`${c.kind}${c.value}${c.addedAt}`}>
                  <td>
                    {c.value} <span class="tag">{c.kind}</span>
                  </td>
                  <td>
                    {kit.when(c.addedAt, lang)}
                    {c.addedBy ? <div>{actorText(c.addedBy).text}</div> : null}
                  </td>
                  <td>
                    {c.removedAt ? kit.when(c.removedAt, lang) : "—"}
                    {c.removedBy ? <div>{actorText(c.removedBy).text}</div> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>,
      ],
    });
  }

  app.get("/console/accounts/:accountId", getOpts, async (req, reply) => {
    kit.keepLang(req, reply);
    const who = await signedIn(req, reply);
    if (!who) return reply;
    const id = (req.params as { accountId: string }).accountId.slice(0, 64);
    return accountPage(req, reply, who, id);
  });

  app.post("/console/accounts/:accountId/reveal", postOpts, async (req, reply) => {
    const b = req.body as Record<string, string | undefined>;
    if (!csrf.check(req, b.csrf)) return refused(req, reply);
    const who = await signedIn(req, reply);
    if (!who) return reply;
    const lang = kit.langOf(req);
    const id = (req.params as { accountId: string }).accountId.slice(0, 64);
    try {
      const r = await console_.reveal(
        who,
        { accountId: id, kind: b.kind ?? "", id: (b.id ?? "").slice(0, 64), reason: b.reason ?? "" },
        req.ip,
      );
      return accountPage(req, reply, who, id, r ? { reveal: r, notice: T.revealed[lang] } : {});
    } catch (e) {
      if (mamoriCode(e)?.code === "reason_required") {
        return accountPage(req, reply, who, id, { notice: T.revealRefused[lang], status: 400 });
      }
      throw e;
    }
  });
}
