import { Type } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ComponentChildren } from "preact";
import type { Http } from "../api/types.ts";
import { formatTime } from "../notify/templates.ts";
import type { RouteDeps } from "../route-deps.ts";
import { readCookie } from "../web/cookies.ts";
import { Actions, LinkButton, Notice, PostForm } from "../web/form.tsx";
import { fmt, type Lang, type Msg, pickLang } from "../web/i18n.ts";
import { Layout } from "../web/layout.tsx";
import { sendPage } from "../web/render.ts";
import type { NotMeKind, PortalPage } from "./service.ts";

/**
 * The security center (issue 15): the owner's own page, opened from the store through a one-time URL
 * (createPortalSession). What is signed in where, every sign-in attempt (refused and challenged ones too), the
 * factors and contacts — and "This wasn't me" on any of it, which is the lockdown in one click. No script: every
 * action is a form post with a CSRF token.
 */

const T = {
  title: { ja: "セキュリティセンター", en: "Security center" },
  intro: {
    ja: "{store}のアカウント（{email}）にログインしている端末と、ログインの記録です。心当たりのないものがあれば「私ではない」を押してください。",
    en: "The devices signed in to your {store} account ({email}) and every sign-in attempt. If anything here was not you, press “Not me”.",
  },
  sessionsTitle: { ja: "ログイン中の端末", en: "Signed-in devices" },
  thisDevice: { ja: "この端末", en: "This device" },
  lastSeen: { ja: "最終利用", en: "Last used" },
  signedInAt: { ja: "ログイン", en: "Signed in" },
  place: { ja: "場所", en: "Place" },
  network: { ja: "ネットワーク", en: "Network" },
  channel: { ja: "経路", en: "Channel" },
  signOutHere: { ja: "この端末からログアウト", en: "Sign out of this device" },
  notMe: { ja: "私ではない", en: "Not me" },
  notMeHelp: {
    ja: "「私ではない」を押すと、すべての端末からログアウトし、アカウントを一時的に凍結して、第三者による変更と注文を取り消します。",
    en: "“Not me” signs every device out, freezes the account for now, and undoes what someone else changed or ordered.",
  },
  historyTitle: { ja: "ログインの記録（新しい順）", en: "Sign-in attempts (newest first)" },
  factorsTitle: { ja: "2段階認証", en: "Two-step verification" },
  totpOn: {
    ja: "認証アプリ: 設定済み（リカバリーコード残り {n} 個）",
    en: "Authenticator app: on ({n} recovery codes left)",
  },
  totpOff: {
    ja: "認証アプリ: 未設定。パスワードだけで守られています。{store}の設定画面から認証アプリを設定できます。",
    en: "Authenticator app: off. Your password alone protects the account; you can turn the app on in {store}'s settings.",
  },
  contactsTitle: { ja: "メールアドレス・電話番号", en: "Email addresses and phone numbers" },
  verified: { ja: "確認済み", en: "verified" },
  unverified: { ja: "未確認", en: "not verified" },
  noSessions: { ja: "ログイン中の端末はありません。", en: "No device is signed in." },
  noHistory: { ja: "記録はまだありません。", en: "Nothing yet." },
  unknown: { ja: "不明", en: "unknown" },
  goneTitle: { ja: "このページを開き直してください", en: "Please open this page again" },
  goneBody: {
    ja: "セキュリティセンターのページの有効期限が切れたか、ログアウトしました。{store}にログインして、「セキュリティ」から開き直してください。",
    en: "This security center page has expired, or you signed out. Sign in to {store} and open it again from “Security”.",
  },
  usedTitle: { ja: "このリンクは使用済みです", en: "This link has already been used" },
  usedBody: {
    ja: "セキュリティセンターへのリンクは1回しか使えません。{store}の「セキュリティ」から開き直してください。心当たりなくこのページが開かれていた場合も、開き直すとログインの記録で確認できます。",
    en: "A security center link works once. Open it again from “Security” in {store}. If you did not open it before, the sign-in attempts there will show who did.",
  },
  invalidTitle: { ja: "リンクが正しくありません", en: "This link is not valid" },
  invalidBody: {
    ja: "リンクが途中で切れているか、期限が切れています。{store}の「セキュリティ」から開き直してください。",
    en: "The link is cut off or has expired. Open it again from “Security” in {store}.",
  },
  signedOutTitle: { ja: "ログアウトしました", en: "You are signed out" },
  signedOutBody: { ja: "この端末からログアウトしました。", en: "This device is signed out." },
  lockedTitle: { ja: "アカウントを保護しました", en: "Your account is protected" },
  lockedNext: {
    ja: "アカウントを取り戻すには、{store}のログイン画面の「アカウントの復旧」から、凍結の前から登録されているメールアドレスで手続きしてください。パスワード再設定のメールは届きません。",
    en: "To get the account back, use “Account recovery” on {store}'s sign-in page with an email address registered before this happened. No password reset mail will arrive.",
  },
  lockedNextHosted: {
    ja: "アカウントを取り戻すには、下の「アカウントの復旧へ」から、凍結の前から登録されているメールアドレスか電話番号で手続きしてください。パスワード再設定のメールは届きません。",
    en: "To get the account back, press “Go to account recovery” below and use an email address or phone registered before this happened. No password reset mail will arrive.",
  },
  recoveryButton: { ja: "アカウントの復旧へ", en: "Go to account recovery" },
  toStore: { ja: "{store}に戻る", en: "Back to {store}" },
  ordersTitle: { ja: "注文（すべて）", en: "Orders (all of them)" },
  ordersIntro: {
    ja: "確認中・支払い待ち・キャンセル済みを含め、このアカウントのすべての注文です。心当たりのない注文があれば「私ではない」を押してください。",
    en: "Every order of this account, including held, unpaid and cancelled ones. If you did not place one, press “Not me”.",
  },
  noOrders: { ja: "注文はありません。", en: "No orders." },
  orderedAt: { ja: "注文日時", en: "Ordered" },
  orderTotal: { ja: "金額", en: "Amount" },
  orderItems: { ja: "内容", en: "Items" },
  orderFrom: { ja: "注文した端末", en: "Placed from" },
  orderGiftCards: { ja: "発行されたギフト券", en: "Gift cards issued" },
  orderNoGiftCards: { ja: "まだ発行されていません", en: "none issued" },
  orderTo: { ja: "送り先: {to}", en: "to {to}" },
  orderId: { ja: "注文番号", en: "Order number" },
  refunded: { ja: "返金額", en: "Refunded" },
  cancelledByCase: {
    ja: "アカウント保護の手続きで取り消されました。",
    en: "Cancelled by the account protection.",
  },
  navTitle: { ja: "このページの内容", en: "On this page" },
  csrfTitle: { ja: "もう一度お試しください", en: "Please try again" },
  csrfBody: {
    ja: "このページを開き直してから、もう一度押してください。",
    en: "Open this page again, then press the button once more.",
  },
} satisfies Record<string, Msg>;

const LOCKED_DID: Readonly<Record<Lang, readonly string[]>> = {
  ja: [
    "すべての端末からログアウトしました（この端末も含みます）。",
    "アカウントを一時的に凍結しました。ログインも変更もできません。",
    "身に覚えのない変更を元に戻し、第三者の注文を取り消す手続きを始めました。",
    "行ったことは、登録済みのメールアドレスにもお知らせします。",
  ],
  en: [
    "Every device is signed out (this one too).",
    "The account is frozen for now: no sign-in and no changes.",
    "Changes you did not make are being undone, and orders someone else placed cancelled.",
    "What was done is also sent to your registered email address.",
  ],
};

const OUTCOMES: Record<string, Msg> = {
  succeeded: { ja: "ログイン成功", en: "Signed in" },
  failed: { ja: "パスワード誤り", en: "Wrong password" },
  challenged: { ja: "確認コードを要求", en: "Asked for a code" },
  denied: { ja: "ブロック", en: "Blocked" },
};
const CHANNELS: Record<string, Msg> = {
  web: { ja: "ウェブ", en: "Web" },
  app: { ja: "アプリ", en: "App" },
  app_password: { ja: "アプリ用パスワード", en: "App password" },
};

/** Each order state in plain words: what it means for her money and her gift cards. */
const ORDER_STATES: Record<string, { label: Msg; means: Msg }> = {
  pending_payment: {
    label: { ja: "支払い待ち", en: "Awaiting payment" },
    means: {
      ja: "まだ請求されていません。支払いが済むまで発送もギフト券の発行もされません。",
      en: "Not charged yet. Nothing ships and no gift card is issued until it is paid.",
    },
  },
  placed: {
    label: { ja: "注文済み", en: "Ordered" },
    means: { ja: "注文を受け付けました。", en: "The order was accepted." },
  },
  on_hold: {
    label: { ja: "確認中", en: "Held for review" },
    means: {
      ja: "不正利用のおそれがあるため止めています。まだ請求されておらず、ギフト券も発行されていません。",
      en: "Stopped because it may not be yours. Not charged yet, and no gift card has been issued.",
    },
  },
  shipped: {
    label: { ja: "発送済み", en: "Shipped" },
    means: { ja: "商品は発送されました。", en: "The goods have been sent." },
  },
  delivered: {
    label: { ja: "お届け済み", en: "Delivered" },
    means: { ja: "商品はお届け済みです。", en: "The goods were delivered." },
  },
  cancelled: {
    label: { ja: "キャンセル済み", en: "Cancelled" },
    means: {
      ja: "この注文は取り消されました。代金は請求されません。",
      en: "This order was cancelled. You are not charged for it.",
    },
  },
  refunded: {
    label: { ja: "返金済み", en: "Refunded" },
    means: {
      ja: "この注文は取り消され、支払われた代金は返金されました。",
      en: "This order was cancelled and what was paid has been refunded.",
    },
  },
};
const GIFT_CARD_STATES: Record<string, Msg> = {
  active: { ja: "未使用", en: "not used" },
  redeemed: { ja: "使用済み", en: "redeemed" },
  void: { ja: "無効化済み", en: "voided" },
};

const ROOT = "../";
const COOKIE = (secure: boolean) => (secure ? "__Host-mamori_portal" : "mamori_portal");

export function registerPortalPages(app: Http, deps: RouteDeps) {
  const { portal, site, csrf } = deps;
  const secure = deps.publicUrl.startsWith("https:");
  const cookieName = COOKIE(secure);
  const s = (lang: Lang, m: Msg, vars: Record<string, string | number> = {}) =>
    fmt(m[lang], { store: site.storeName, ...vars });
  const opts = (schema: Record<string, unknown>) => ({
    config: { auth: "public" as const },
    schema: { hide: true, ...schema },
  });
  const Query = Type.Object({ t: Type.Optional(Type.String()), lang: Type.Optional(Type.String()) });
  const Body = Type.Object({
    csrf: Type.Optional(Type.String()),
    lang: Type.Optional(Type.String()),
    kind: Type.Optional(Type.String()),
    ref: Type.Optional(Type.String()),
    at: Type.Optional(Type.String()),
  });

  function page(reply: FastifyReply, status: number, lang: Lang, title: string, children: ComponentChildren) {
    return sendPage(
      reply,
      status,
      <Layout lang={lang} site={site} root={ROOT} title={title}>
        {children}
      </Layout>,
      { imageUrls: site.logoUrl ? [site.logoUrl] : [] },
    );
  }
  const when = (iso: string, lang: Lang) => formatTime(new Date(iso), lang, site.timeZone);
  const country = (c: string | null, lang: Lang) => {
    if (!c) return T.unknown[lang];
    try {
      return new Intl.DisplayNames([lang], { type: "region" }).of(c) ?? c;
    } catch {
      return c;
    }
  };
  const network = (ip: string, asn: number | null, lang: Lang) => {
    const org = deps.networkOf(ip);
    if (org) return asn !== null ? `${org} (AS${asn})` : org;
    return asn !== null ? `AS${asn}` : T.unknown[lang];
  };
  const deviceText = (d: { browser: string | null; os: string | null; type: string | null }, lang: Lang) =>
    [d.browser, d.os].filter(Boolean).join(" / ") || T.unknown[lang];
  const money = (n: number, currency: string, lang: Lang) =>
    currency === "JPY" && lang === "ja"
      ? `${n.toLocaleString("ja-JP")}円`
      : new Intl.NumberFormat(lang === "ja" ? "ja-JP" : "en-US", { style: "currency", currency }).format(n);
  const paren = (x: string, lang: Lang) => (lang === "ja" ? `（${x}）` : ` (${x})`);
  const backToStore = (lang: Lang) =>
    site.storeUrl ? (
      <Actions>
        <LinkButton href={site.storeUrl} secondary>
          {s(lang, T.toStore)}
        </LinkButton>
      </Actions>
    ) : null;
  const langOf = (req: FastifyRequest, account?: string) => {
    const q = (req.query ?? {}) as { lang?: unknown };
    const b = (req.body ?? {}) as { lang?: unknown };
    return pickLang({
      chosen: b.lang ?? q.lang,
      account: account ?? null,
      acceptLanguage: req.headers["accept-language"],
    });
  };

  function gone(req: FastifyRequest, reply: FastifyReply) {
    const lang = langOf(req);
    return page(reply, 401, lang, T.goneTitle[lang], [<p key="b">{s(lang, T.goneBody)}</p>, backToStore(lang)]);
  }

  async function current(req: FastifyRequest) {
    return portal.current(readCookie(req, cookieName, /^mps_[A-Za-z0-9_-]{20,80}$/));
  }

  // The store redirects its signed-in user here with the one-time URL: use it, set the cookie, show the center.
  app.get("/portal/enter", opts({ querystring: Query }), async (req, reply) => {
    const q = req.query as { t?: string };
    const r = await portal.enter(q.t);
    if (typeof r === "string") {
      const lang = langOf(req);
      const [title, body] =
        r === "used" ? [T.usedTitle[lang], s(lang, T.usedBody)] : [T.invalidTitle[lang], s(lang, T.invalidBody)];
      return page(reply, r === "invalid" ? 400 : 410, lang, title, [<p key="b">{body}</p>, backToStore(lang)]);
    }
    // Lax, not Strict: the user arrives by a redirect from the store's site, and a Strict cookie set on that
    // cross-site navigation would not come back on the next one. Posts carry a CSRF token besides.
    void reply.header(
      "set-cookie",
      `${cookieName}=${r.cookie}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${r.maxAgeS}${secure ? "; Secure" : ""}`,
    );
    return reply.header("cache-control", "no-store").header("referrer-policy", "no-referrer").redirect("./", 303);
  });

  app.get("/portal/", opts({ querystring: Query }), async (req, reply) => {
    const p = await current(req);
    if (!p) return gone(req, reply);
    const v = await portal.view(p);
    const lang = langOf(req, v.account.language);
    const token = csrf.issue(req, reply);
    const email = v.account.emails.find((e) => e.primary)?.value ?? v.account.emails[0]?.value ?? "";
    // Her own device first, then the newest.
    const live = v.sessions
      .filter((x) => x.active && x.appPasswordId === null)
      .sort((a, b) => Number(b.current) - Number(a.current) || b.createdAt.localeCompare(a.createdAt));
    // Where each order was placed from: its session (live or ended) or, for older ones, the sign-in that opened it.
    const from = new Map<string, { device: string; place: string }>();
    for (const h of v.history) {
      if (h.sessionId) from.set(h.sessionId, { device: deviceText(h.device, lang), place: country(h.country, lang) });
    }
    for (const x of v.sessions) from.set(x.id, { device: deviceText(x.device, lang), place: country(x.country, lang) });
    const notMeForm = (kind: NotMeKind, ref: string, at: string) => (
      <PostForm action="./not-me" hidden={{ csrf: token, kind, ref, at, lang }}>
        <button type="submit" class="danger">
          {T.notMe[lang]}
        </button>
      </PostForm>
    );
    return page(reply, 200, lang, T.title[lang], [
      <p key="intro">{s(lang, T.intro, { email })}</p>,
      <Notice key="help">
        <p>{T.notMeHelp[lang]}</p>
      </Notice>,
      <h2 key="sh">{T.sessionsTitle[lang]}</h2>,
      live.length === 0 ? <p key="none">{T.noSessions[lang]}</p> : null,
      <ul key="sessions" class="cards">
        {live.map((x) => (
          <li key={x.id} class={x.current ? "card current" : "card"}>
            <p class="card-title">
              {deviceText(x.device, lang)}
              {x.current ? <span class="badge">{T.thisDevice[lang]}</span> : null}
            </p>
            <dl class="facts">
              <dt>{T.place[lang]}</dt>
              <dd>{country(x.country, lang)}</dd>
              <dt>{T.network[lang]}</dt>
              <dd>
                {network(x.ip, x.asn, lang)} <span class="code">{x.ip}</span>
              </dd>
              <dt>{T.channel[lang]}</dt>
              <dd>{CHANNELS[x.channel]?.[lang] ?? x.channel}</dd>
              <dt>{T.signedInAt[lang]}</dt>
              <dd>{when(x.createdAt, lang)}</dd>
              <dt>{T.lastSeen[lang]}</dt>
              <dd>{when(x.lastSeenAt, lang)}</dd>
            </dl>
            {x.current ? (
              <PostForm action="./sign-out" hidden={{ csrf: token, lang }}>
                <button type="submit" class="secondary">
                  {T.signOutHere[lang]}
                </button>
              </PostForm>
            ) : (
              notMeForm("session", x.id, x.createdAt)
            )}
          </li>
        ))}
      </ul>,
      <h2 key="oh" id="orders">
        {T.ordersTitle[lang]}
      </h2>,
      <p key="oi">{T.ordersIntro[lang]}</p>,
      v.orders.length === 0 ? <p key="no">{T.noOrders[lang]}</p> : null,
      <ul key="orders" class="cards orders">
        {v.orders.map((o) => {
          const st = ORDER_STATES[o.status];
          const placed = o.sessionId ? from.get(o.sessionId) : undefined;
          const refunded = o.payments.reduce((n, p) => n + p.refundedAmount, 0);
          return (
            <li key={o.id} class={`card order status-${o.status}`}>
              <p class="card-title">
                {o.items.map((i) => `${i.title} × ${i.quantity}`).join("、")}
                <span class={`badge state-${o.status}`}>{st?.label[lang] ?? o.status}</span>
              </p>
              <p class="means">{st?.means[lang] ?? ""}</p>
              {o.cancelledBy?.startsWith("case:") ? <p class="means">{T.cancelledByCase[lang]}</p> : null}
              <dl class="facts">
                <dt>{T.orderTotal[lang]}</dt>
                <dd>{money(o.total, o.currency, lang)}</dd>
                {refunded > 0 ? (
                  <>
                    <dt>{T.refunded[lang]}</dt>
                    <dd>{money(refunded, o.currency, lang)}</dd>
                  </>
                ) : null}
                <dt>{T.orderedAt[lang]}</dt>
                <dd>{when(o.createdAt, lang)}</dd>
                <dt>{T.orderFrom[lang]}</dt>
                <dd>{placed ? `${placed.device} · ${placed.place}` : T.unknown[lang]}</dd>
                {o.items.some((i) => i.category === "gift_card") ? (
                  <>
                    <dt>{T.orderGiftCards[lang]}</dt>
                    <dd>
                      {o.giftCards.length === 0
                        ? T.orderNoGiftCards[lang]
                        : o.giftCards
                            .map(
                              (c) =>
                                `•••• ${c.last4} ${money(c.amount, o.currency, lang)}${paren(GIFT_CARD_STATES[c.status]?.[lang] ?? c.status, lang)}${c.recipientEmail ? ` ${s(lang, T.orderTo, { to: c.recipientEmail })}` : ""}`,
                            )
                            .join(" / ")}
                    </dd>
                  </>
                ) : null}
                <dt>{T.orderId[lang]}</dt>
                <dd class="code">{o.id}</dd>
              </dl>
              {notMeForm("order", o.id, o.createdAt)}
            </li>
          );
        })}
      </ul>,
      <h2 key="hh">{T.historyTitle[lang]}</h2>,
      v.history.length === 0 ? <p key="nh">{T.noHistory[lang]}</p> : null,
      <ul key="history" class="history">
        {v.history.map((h) => (
          <li key={h.id} class={`outcome-${h.outcome}`}>
            <div>
              <p class="card-title">
                {OUTCOMES[h.outcome]?.[lang] ?? h.outcome}
                {h.channel !== "web" ? paren(CHANNELS[h.channel]?.[lang] ?? h.channel, lang) : ""}
                <span class="when">{when(h.at, lang)}</span>
              </p>
              <p class="meta">
                {[country(h.country, lang), network(h.ip, h.asn, lang), deviceText(h.device, lang)].join(" · ")}
              </p>
            </div>
            {notMeForm("login", h.id, h.at)}
          </li>
        ))}
      </ul>,
      <h2 key="fh">{T.factorsTitle[lang]}</h2>,
      <p key="f">
        {v.account.totpEnabled ? s(lang, T.totpOn, { n: v.account.recoveryCodesLeft }) : s(lang, T.totpOff)}
      </p>,
      // The passkeys have their own page (passkey-pages.tsx): it runs the WebAuthn script this page does without.
      <p key="pk">
        <a href="./passkeys">{lang === "ja" ? "パスキーの確認と追加" : "See and add passkeys"}</a>
      </p>,
      <h2 key="ch">{T.contactsTitle[lang]}</h2>,
      <ul key="contacts">
        {[...v.account.emails, ...v.account.phones].map((c) => (
          <li key={c.value}>
            {c.value} ({c.verified ? T.verified[lang] : T.unverified[lang]})
          </li>
        ))}
      </ul>,
      backToStore(lang),
    ]);
  });

  /** A post from our own page in this browser (signed double-submit CSRF token and Sec-Fetch-Site), or a page. */
  function refused(req: FastifyRequest, reply: FastifyReply) {
    const lang = langOf(req);
    return page(reply, 403, lang, T.csrfTitle[lang], [
      <p key="b">{T.csrfBody[lang]}</p>,
      <Actions key="a">
        <LinkButton href="./">{T.title[lang]}</LinkButton>
      </Actions>,
    ]);
  }

  app.post("/portal/sign-out", opts({ body: Body }), async (req, reply) => {
    const body = req.body as { csrf?: string };
    if (!csrf.check(req, body.csrf)) return refused(req, reply);
    const p = await current(req);
    if (!p) return gone(req, reply);
    await portal.signOutHere(p);
    void reply.header(
      "set-cookie",
      `${cookieName}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${secure ? "; Secure" : ""}`,
    );
    const lang = langOf(req);
    return page(reply, 200, lang, T.signedOutTitle[lang], [<p key="b">{T.signedOutBody[lang]}</p>, backToStore(lang)]);
  });

  app.post("/portal/not-me", opts({ body: Body }), async (req, reply) => {
    const body = req.body as { csrf?: string; kind?: string; ref?: string; at?: string };
    if (!csrf.check(req, body.csrf)) return refused(req, reply);
    const p: PortalPage | undefined = await current(req);
    if (!p) return gone(req, reply);
    const kind: NotMeKind = body.kind === "login" || body.kind === "order" ? body.kind : "session";
    const at = body.at ? Date.parse(body.at) : Number.NaN;
    await portal.notMe(
      p,
      { kind, ref: String(body.ref ?? "").slice(0, 64), at: Number.isFinite(at) ? at : null },
      req.ip,
    );
    void reply.header(
      "set-cookie",
      `${cookieName}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${secure ? "; Secure" : ""}`,
    );
    const lang = langOf(req);
    return page(reply, 200, lang, T.lockedTitle[lang], [
      <Notice key="ok" tone="ok">
        <ul>
          {LOCKED_DID[lang].map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      </Notice>,
      <p key="next">{s(lang, site.recoveryUrl ? T.lockedNext : T.lockedNextHosted)}</p>,
      // The store's recovery page when it has one, else Mamori's hosted recovery.
      <Actions key="r">
        <LinkButton href={site.recoveryUrl ?? `${ROOT}recover/?lang=${lang}`}>{T.recoveryButton[lang]}</LinkButton>
      </Actions>,
      backToStore(lang),
    ]);
  });
}
