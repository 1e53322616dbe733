import { Type } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ComponentChildren } from "preact";
import type { Http } from "../api/types.ts";
import { formatTime } from "../notify/templates.ts";
import type { RouteDeps } from "../route-deps.ts";
import { MamoriError } from "../shared/errors.ts";
import { readCookie } from "../web/cookies.ts";
import { sendErrorPage } from "../web/error-page.tsx";
import { Actions, Field, LinkButton, Notice, PostForm, Submit } from "../web/form.tsx";
import { fmt, type Lang, type Msg, pickLang } from "../web/i18n.ts";
import { Layout } from "../web/layout.tsx";
import { passkeyScriptPaths } from "../web/passkey-assets.ts";
import { groupedKey, QrSvg } from "../web/qr.tsx";
import { sendPage } from "../web/render.ts";
import type { NotMeKind, PortalPage } from "./service.ts";
import { PortalStepUp, stepUpIntro, stepUpWays } from "./step-up.tsx";

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
  signOutThat: { ja: "この端末をログアウトさせる", en: "Sign that device out" },
  signOutThatHint: {
    ja: "使わなくなったご自身の端末はこちら。心当たりのない端末なら「私ではない」を押してください。",
    en: "For a device of yours you no longer use. If you do not recognise it, press “This wasn't me”.",
  },
  signedOutThat: { ja: "その端末をログアウトさせました。", en: "That device is signed out." },
  notMe: { ja: "私ではない", en: "Not me" },
  notMeHelp: {
    ja: "「私ではない」を押すと、すべての端末からログアウトし、アカウントを一時的に凍結して、第三者による変更と注文を取り消します。",
    en: "“Not me” signs every device out, freezes the account for now, and undoes what someone else changed or ordered.",
  },
  historyTitle: { ja: "ログインの記録（新しい順）", en: "Sign-in attempts (newest first)" },
  factorsTitle: { ja: "2段階認証", en: "Two-step verification" },
  factorsIntro: {
    ja: "パスワードのほかに、ご本人であることを確かめる方法です。パスワードが盗まれても、これがあればログインを守れます。",
    en: "Ways to prove it is you besides the password. If the password is stolen, these still protect your sign-in.",
  },
  factorOn: { ja: "設定済み", en: "On" },
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
  totpRemove: { ja: "認証アプリを外す", en: "Remove the authenticator app" },
  appPasswordsTitle: { ja: "アプリ用パスワード", en: "App passwords" },
  appPasswordsIntro: {
    ja: "メールアプリなど、ふつうのログインができないアプリのためのパスワードです。使っていないものは削除してください。",
    en: "Passwords for apps that cannot use the normal sign-in, such as a mail app. Delete any you do not use.",
  },
  noAppPasswords: { ja: "アプリ用パスワードはありません。", en: "No app passwords." },
  created: { ja: "作成", en: "Created" },
  lastUsed: { ja: "最終使用", en: "Last used" },
  neverUsed: { ja: "未使用", en: "never" },
  revoke: { ja: "削除する", en: "Delete" },
  appPasswordName: {
    ja: "新しいアプリ用パスワードの名前（例: メールアプリ）",
    en: "Name of a new app password (e.g. Mail app)",
  },
  appPasswordCreate: { ja: "作成する", en: "Create" },
  countriesTitle: { ja: "ログインを許可する国", en: "Countries sign-in is allowed from" },
  countriesAny: {
    ja: "現在: 制限なし（どの国からでもログインできます）",
    en: "Now: no limit (sign-in from any country)",
  },
  countriesNow: { ja: "現在: {list}", en: "Now: {list}" },
  countriesField: {
    ja: "国コード（カンマ区切り、例: JP, US）。空欄にすると制限なし",
    en: "Country codes (comma-separated, e.g. JP, US). Empty: no limit",
  },
  countriesSave: { ja: "保存する", en: "Save" },
  countriesHelp: {
    ja: "ここにない国からのログインは止められます。海外に行くときは先に追加してください。",
    en: "Sign-ins from any other country are stopped. Add a country before you travel there.",
  },
  contactsHistoryTitle: { ja: "メールアドレス・電話番号の履歴", en: "Email and phone history" },
  contactNow: { ja: "使用中", en: "in use" },
  contactRemoved: { ja: "{when}に削除（{by}）", en: "removed {when} ({by})" },
  contactAdded: { ja: "{when}に追加（{by}）", en: "added {when} ({by})" },
  byYou: { ja: "{where}から", en: "from {where}" },
  byOwnerSignUp: { ja: "登録時", en: "at sign-up" },
  bySupport: { ja: "サポート", en: "support" },
  byProtection: { ja: "アカウント保護の手続き", en: "the account protection" },
  byRecovery: { ja: "アカウントの復旧", en: "account recovery" },
  byLink: { ja: "メールのリンク", en: "a mailed link" },
  bySystem: { ja: "システム", en: "the system" },
  casesTitle: { ja: "アカウント保護の手続き", en: "Account protection" },
  noCases: {
    ja: "進行中の手続きはありません。",
    en: "Nothing is in progress.",
  },
  caseOpened: { ja: "{when}に開始", en: "started {when}" },
  confirmTitle: { ja: "ご本人の確認", en: "Confirm it is you" },
  confirmStoreNote: {
    ja: "確認すると、安全のため{store}ではもう一度ログインが必要になる場合があります。確認は10分間有効です。",
    en: "After this, {store} may ask you to sign in again (for safety). The confirmation lasts 10 minutes.",
  },
  confirmButton: { ja: "確認する", en: "Confirm" },
  wrongPassword: { ja: "パスワードが違います。", en: "The password is not right." },
  wrongCode: { ja: "コードが違うか、使用済みです。", en: "The code is wrong or was used already." },
  confirmed: {
    ja: "確認しました。もう一度ボタンを押して変更してください。",
    en: "Confirmed. Press the button again to make the change.",
  },
  totpTitle: { ja: "認証アプリを設定する", en: "Set up an authenticator app" },
  totpHow1: {
    ja: "スマートフォンに認証アプリ（Google Authenticator、Microsoft Authenticator など）を入れます。",
    en: "Install an authenticator app on your phone (Google Authenticator, Microsoft Authenticator, …).",
  },
  totpHow2: {
    ja: "アプリで下のQRコードを読み取ります。読み取れない場合は、その下のキーを入力します。",
    en: "Scan the QR code below with it, or type the key under it.",
  },
  totpHow3: { ja: "アプリに表示された6桁のコードを入力します。", en: "Enter the 6-digit code the app shows." },
  qrAlt: { ja: "認証アプリで読み取るQRコード", en: "QR code for the authenticator app" },
  key: { ja: "キー", en: "Key" },
  totpCode: { ja: "6桁のコード", en: "6-digit code" },
  totpButton: { ja: "設定する", en: "Turn on" },
  totpWrong: {
    ja: "コードが違います。新しいQRコードを読み取り直してから、表示されたコードを入力してください。",
    en: "That code is not right. Scan the new QR code again, then enter the code it shows.",
  },
  codesTitle: { ja: "リカバリーコードを保管してください", en: "Keep your recovery codes" },
  codesIntro: {
    ja: "認証アプリが使えなくなったときに、コードの代わりに1回ずつ使えます。",
    en: "Each works once in place of the app's code if you lose the app.",
  },
  codesOnce: {
    ja: "この画面を閉じると二度と表示されません。印刷するか、安全な場所に書き写してください。前のコードは使えなくなりました。",
    en: "They are shown only now. Print them or write them down somewhere safe. Any earlier codes no longer work.",
  },
  totpRemoved: {
    ja: "認証アプリを外しました。パスワードだけで守られています。",
    en: "The authenticator app is removed: your password alone protects the account.",
  },
  appPasswordTitle: { ja: "アプリ用パスワードを作成しました", en: "App password created" },
  appPasswordOnce: {
    ja: "「{name}」のアプリ用パスワードです。アプリのパスワード欄に入力してください。この画面を閉じると二度と表示されません。",
    en: "The app password for “{name}”. Enter it in the app's password field. It is shown only now.",
  },
  appPasswordRevoked: { ja: "アプリ用パスワードを削除しました。", en: "The app password is deleted." },
  appPasswordMissing: {
    ja: "そのアプリ用パスワードは見つかりません（すでに削除されています）。",
    en: "That app password was not found (it is already deleted).",
  },
  nameMissing: { ja: "名前を入力してください。", en: "Enter a name." },
  countriesSaved: { ja: "ログインを許可する国を保存しました。", en: "The allowed countries are saved." },
  countriesBad: {
    ja: "国コードが正しくありません。JP（日本）、US（アメリカ）のように、アルファベット2文字で入力してください。",
    en: "A country code is not right. Use two letters, like JP (Japan) or US (United States).",
  },
  tooManyTitle: { ja: "しばらくお待ちください", en: "Please wait a little" },
  tooMany: {
    ja: "試行が多すぎます。{minutes}分ほど待ってから、もう一度お試しください。",
    en: "Too many tries. Wait about {minutes} minutes, then try again.",
  },
  backToCenter: { ja: "セキュリティセンターに戻る", en: "Back to the security center" },

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
/** What a case's state means for her, and what happens next. */
const CASE_STATES: Record<string, { label: Msg; next: Msg }> = {
  open: {
    label: { ja: "確認中", en: "Under review" },
    next: {
      ja: "サポートがこのアカウントの不審な動きを確認しています。必要なときはご登録のメールアドレスに連絡します。",
      en: "Support is looking at unusual activity on this account and will write to your registered address if needed.",
    },
  },
  locking: {
    label: { ja: "保護の手続き中", en: "Being protected" },
    next: {
      ja: "ログアウト・凍結・取り消しを進めています。終わるとメールでお知らせします。",
      en: "Signing out, freezing and undoing are under way. You will be mailed when it is done.",
    },
  },
  locked_down: {
    label: { ja: "保護済み（凍結中）", en: "Protected (frozen)" },
    next: {
      ja: "アカウントは凍結されています。「アカウントの復旧」で取り戻せます。",
      en: "The account is frozen. Get it back through “Account recovery”.",
    },
  },
  recovering: {
    label: { ja: "復旧の手続き中", en: "Recovery in progress" },
    next: {
      ja: "復旧の手続きが始まっています。最後の「凍結を解除する」まで進めてください。",
      en: "A recovery has started. Finish it up to “Unfreeze”.",
    },
  },
  recovered: {
    label: { ja: "復旧済み", en: "Recovered" },
    next: {
      ja: "手続きは完了しました。身に覚えのない動きがあれば、もう一度「私ではない」を押してください。",
      en: "It is finished. If you see anything you did not do, press “Not me” again.",
    },
  },
  closed: {
    label: { ja: "完了", en: "Closed" },
    next: { ja: "手続きは終わりました。", en: "It is finished." },
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
  const Query = Type.Object({
    t: Type.Optional(Type.String()),
    lang: Type.Optional(Type.String()),
    confirmed: Type.Optional(Type.String()),
    signedOut: Type.Optional(Type.String()),
  });
  const ChangeBody = Type.Object({
    csrf: Type.Optional(Type.String()),
    lang: Type.Optional(Type.String()),
    next: Type.Optional(Type.String()),
    password: Type.Optional(Type.String()),
    code: Type.Optional(Type.String()),
    name: Type.Optional(Type.String()),
    id: Type.Optional(Type.String()),
    countries: Type.Optional(Type.String()),
  });
  const Body = Type.Object({
    csrf: Type.Optional(Type.String()),
    lang: Type.Optional(Type.String()),
    kind: Type.Optional(Type.String()),
    ref: Type.Optional(Type.String()),
    at: Type.Optional(Type.String()),
  });

  /** `passkey`: the page has a passkey button, so it loads the passkey scripts (own origin, web/passkey-assets.ts). */
  function page(
    reply: FastifyReply,
    status: number,
    lang: Lang,
    title: string,
    children: ComponentChildren,
    passkey = false,
  ) {
    return sendPage(
      reply,
      status,
      <Layout lang={lang} site={site} root={ROOT} title={title}>
        {children}
        {passkey ? passkeyScriptPaths(ROOT).map((src) => <script key={src} src={src} defer />) : null}
      </Layout>,
      { imageUrls: site.logoUrl ? [site.logoUrl] : [], ownScript: passkey, connectSelf: passkey },
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
    const apps = v.appPasswords.filter((a) => a.active);
    // Who changed a contact, in her words: her own device (which one, from where), support, the protection.
    const actorText = (by: string | null, l: Lang) => {
      if (!by) return T.unknown[l];
      if (by.startsWith("session:")) {
        const f = from.get(by.slice(8));
        return s(l, T.byYou, { where: f ? `${f.device} · ${f.place}` : T.unknown[l] });
      }
      if (by === "system" || by === "import") return T.byOwnerSignUp[l];
      if (by.startsWith("admin:") || by.startsWith("staff:")) return T.bySupport[l];
      if (by.startsWith("case:") || by.startsWith("rollback")) return T.byProtection[l];
      if (by.startsWith("recovery")) return T.byRecovery[l];
      if (by.startsWith("token:")) return T.byLink[l];
      return T.bySystem[l];
    };
    const toc: [string, Msg][] = [
      ["orders", T.ordersTitle],
      ["factors", T.factorsTitle],
      ["app-passwords", T.appPasswordsTitle],
      ["countries", T.countriesTitle],
      ["contacts", T.contactsHistoryTitle],
      ["protection", T.casesTitle],
    ];
    return page(reply, 200, lang, T.title[lang], [
      (req.query as { confirmed?: string }).confirmed ? (
        <Notice key="confirmed" tone="ok" alert>
          <p>{T.confirmed[lang]}</p>
        </Notice>
      ) : null,
      (req.query as { signedOut?: string }).signedOut ? (
        <Notice key="signed-out" tone="ok" alert>
          <p>{T.signedOutThat[lang]}</p>
        </Notice>
      ) : null,
      <p key="intro">{s(lang, T.intro, { email })}</p>,
      <nav key="toc" class="toc" aria-label={T.navTitle[lang]}>
        <ul>
          {toc.map(([id, m]) => (
            <li key={id}>
              <a href={`#${id}`}>{m[lang]}</a>
            </li>
          ))}
        </ul>
      </nav>,
      <Notice key="help">
        <p>{T.notMeHelp[lang]}</p>
      </Notice>,
      <h2 key="sh" id="sessions">
        {T.sessionsTitle[lang]}
      </h2>,
      live.length === 0 ? <p key="none">{T.noSessions[lang]}</p> : null,
      <ul key="sessions" class="cards">
        {live.map((x) => (
          <li key={x.id} class={x.current ? "card session current" : "card session"}>
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
              [
                <PostForm key="so" action="./sessions/sign-out" hidden={{ csrf: token, lang, id: x.id }}>
                  <p class="hint">{T.signOutThatHint[lang]}</p>
                  <button type="submit" class="secondary">
                    {T.signOutThat[lang]}
                  </button>
                </PostForm>,
                notMeForm("session", x.id, x.createdAt),
              ]
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
      <h2 key="fh" id="factors">
        {T.factorsTitle[lang]}
      </h2>,
      <p key="fi">{T.factorsIntro[lang]}</p>,
      // Every registered factor as it describes itself (Factor.face, the registry's order): this page names none.
      <ul key="factors" class="cards factors">
        {v.factors.map((f) => (
          <li key={f.kind} class="card factor" id={`factor-${f.kind}`}>
            <p class="card-title">
              {f.label[lang]}
              {f.enrolled ? <span class="badge">{T.factorOn[lang]}</span> : null}
            </p>
            <p class="means">{f.status[lang]}</p>
            {f.actions.length > 0 ? (
              <div class="actions">
                {f.actions
                  .filter((a) => a.href.startsWith("./"))
                  .map((a) =>
                    a.method === "post" ? (
                      <PostForm key={a.href} action={a.href} hidden={{ csrf: token, lang }}>
                        <button type="submit" class="secondary">
                          {a.label[lang]}
                        </button>
                      </PostForm>
                    ) : (
                      <LinkButton
                        key={a.href}
                        href={`${a.href}${a.href.includes("?") ? "&" : "?"}lang=${lang}`}
                        secondary={f.enrolled}
                      >
                        {a.label[lang]}
                      </LinkButton>
                    ),
                  )}
              </div>
            ) : null}
          </li>
        ))}
      </ul>,
      <h2 key="ah" id="app-passwords">
        {T.appPasswordsTitle[lang]}
      </h2>,
      <p key="ai">{T.appPasswordsIntro[lang]}</p>,
      apps.length === 0 ? <p key="an">{T.noAppPasswords[lang]}</p> : null,
      <ul key="apps" class="cards">
        {apps.map((a) => (
          <li key={a.id} class="card">
            <p class="card-title">{a.name}</p>
            <dl class="facts">
              <dt>{T.created[lang]}</dt>
              <dd>{when(a.createdAt, lang)}</dd>
              <dt>{T.lastUsed[lang]}</dt>
              <dd>
                {a.lastUsedAt
                  ? `${when(a.lastUsedAt, lang)} · ${country(a.lastUsedCountry, lang)}${a.lastUsedIp ? ` · ${a.lastUsedIp}` : ""}`
                  : T.neverUsed[lang]}
              </dd>
              <dt>{T.channel[lang]}</dt>
              <dd>{CHANNELS.app_password![lang]}</dd>
            </dl>
            <PostForm action="./app-passwords/revoke" hidden={{ csrf: token, lang, id: a.id }}>
              <button type="submit" class="secondary">
                {T.revoke[lang]}
                <span class="visually-hidden">{` ${a.name}`}</span>
              </button>
            </PostForm>
          </li>
        ))}
      </ul>,
      <PostForm key="an-form" action="./app-passwords" hidden={{ csrf: token, lang }}>
        <Field name="name" type="text" label={T.appPasswordName[lang]} required maxLength={64} />
        <button type="submit">{T.appPasswordCreate[lang]}</button>
      </PostForm>,
      <h2 key="ch" id="countries">
        {T.countriesTitle[lang]}
      </h2>,
      <p key="cn">
        {v.countries.length === 0
          ? T.countriesAny[lang]
          : s(lang, T.countriesNow, { list: v.countries.map((c) => `${country(c, lang)} (${c})`).join(", ") })}
      </p>,
      <p key="cx">{T.countriesHelp[lang]}</p>,
      <PostForm key="cf" action="./countries" hidden={{ csrf: token, lang }}>
        <Field
          name="countries"
          type="text"
          label={T.countriesField[lang]}
          maxLength={200}
          value={v.countries.join(", ")}
        />
        <button type="submit">{T.countriesSave[lang]}</button>
      </PostForm>,
      <h2 key="hc" id="contacts">
        {T.contactsHistoryTitle[lang]}
      </h2>,
      <ul key="contacts" class="history contacts">
        {v.contacts.map((c) => (
          <li key={`${c.kind}:${c.value}:${c.addedAt}`} class={c.removedAt ? "removed" : "current"}>
            <div>
              <p class="card-title">
                {c.value}
                <span class="when">
                  {c.removedAt ? "" : T.contactNow[lang]} {c.verified ? T.verified[lang] : T.unverified[lang]}
                </span>
              </p>
              <p class="meta">
                {s(lang, T.contactAdded, { when: when(c.addedAt, lang), by: actorText(c.addedBy, lang) })}
                {c.removedAt
                  ? ` · ${s(lang, T.contactRemoved, { when: when(c.removedAt, lang), by: actorText(c.removedBy, lang) })}`
                  : ""}
              </p>
            </div>
          </li>
        ))}
      </ul>,
      <h2 key="kh" id="protection">
        {T.casesTitle[lang]}
      </h2>,
      v.cases.length === 0 ? <p key="kn">{T.noCases[lang]}</p> : null,
      <ul key="cases" class="cards">
        {v.cases.map((c) => (
          <li key={c.id} class="card">
            <p class="card-title">
              {CASE_STATES[c.status]?.label[lang] ?? c.status}
              <span class="when">{` ${s(lang, T.caseOpened, { when: when(c.createdAt, lang) })}`}</span>
            </p>
            <p class="means">{CASE_STATES[c.status]?.next[lang] ?? ""}</p>
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
  // ── Changes: the API's own service methods, so the API's freshness gate applies unchanged ──

  /** Where each change goes back to after the password step (a fixed list: never a URL from the form). */
  const NEXT: Record<string, string> = {
    factors: "./#factors",
    authenticator: "./authenticator",
    "app-passwords": "./#app-passwords",
    sessions: "./#sessions",
    countries: "./#countries",
  };
  const back = (lang: Lang) => (
    <Actions key="back">
      <LinkButton href={`./?lang=${lang}`}>{T.backToCenter[lang]}</LinkButton>
    </Actions>
  );

  /** The password step (and the authenticator's or a recovery code when one is on), as the API's reauthenticate. */
  async function confirmForm(
    req: FastifyRequest,
    reply: FastifyReply,
    p: PortalPage,
    next: string,
    status = 403,
    error?: string,
  ) {
    const a = await deps.identity.getAccount(p.session.account_id);
    const lang = langOf(req, a.language);
    const token = csrf.issue(req, reply);
    const to = NEXT[next] ? next : "factors";
    // What the account's factors offer (Factor.stepUp): a passkey's ceremony (the password alone cannot meet the gate
    // then, and without a code the password step would refuse her for ever), the code field, or the password alone.
    const ways = stepUpWays(await portal.stepUps(p));
    return page(
      reply,
      status,
      lang,
      T.confirmTitle[lang],
      [
        error ? (
          <Notice key="e" tone="error" alert>
            <p>{error}</p>
          </Notice>
        ) : null,
        <p key="i">{stepUpIntro(ways, lang)}</p>,
        <PortalStepUp
          key="f"
          ways={ways}
          lang={lang}
          csrf={token}
          ceremony={{ options: "./step-up/options", finish: `./step-up?next=${to}&lang=${lang}` }}
          form={{ action: "./confirm", hidden: { csrf: token, lang, next: to }, submit: T.confirmButton[lang] }}
        />,
        <p key="n">{s(lang, T.confirmStoreNote)}</p>,
        back(lang),
      ],
      ways.ceremony,
    );
  }

  function tooMany(req: FastifyRequest, reply: FastifyReply, e: MamoriError) {
    const lang = langOf(req);
    const seconds = Number(e.details?.retryAfterSeconds ?? 300);
    const minutes = Math.max(1, Math.ceil((Number.isFinite(seconds) ? seconds : 300) / 60));
    void reply.header("retry-after", String(Math.max(1, Math.ceil(Number.isFinite(seconds) ? seconds : 300))));
    return page(reply, 429, lang, T.tooManyTitle[lang], [<p key="b">{s(lang, T.tooMany, { minutes })}</p>, back(lang)]);
  }

  /** A refusal from the API's rules, as a page: not fresh → the password step; anything catalogued → its page. */
  async function refusal(req: FastifyRequest, reply: FastifyReply, p: PortalPage, next: string, e: unknown) {
    if (!(e instanceof MamoriError)) throw e;
    if (e.code === "reauthentication_required" || e.code === "second_factor_required") {
      return confirmForm(req, reply, p, next);
    }
    if (e.code === "rate_limited") return tooMany(req, reply, e);
    if (e.code === "account_frozen" || e.code === "session_invalid") return gone(req, reply);
    if (e.code === "totp_already_enrolled" || e.code === "totp_not_enrolled") {
      return reply.redirect(`./?lang=${langOf(req)}#factors`, 303);
    }
    return sendErrorPage(req, reply, e.httpStatus, site);
  }

  /** Every change: a same-site post with the CSRF token, from a live portal session; else a page. */
  async function change(
    req: FastifyRequest,
    reply: FastifyReply,
    next: string,
    run: (p: PortalPage, lang: Lang) => Promise<unknown>,
  ) {
    const body = req.body as { csrf?: string };
    if (!csrf.check(req, body.csrf)) return refused(req, reply);
    const p = await current(req);
    if (!p) return gone(req, reply);
    const lang = langOf(req, (await deps.identity.getAccount(p.session.account_id)).language);
    try {
      return await run(p, lang);
    } catch (e) {
      return refusal(req, reply, p, next, e);
    }
  }
  const field = (req: FastifyRequest, name: string, max: number) => {
    const v = (req.body as Record<string, unknown>)[name];
    return typeof v === "string" ? v.slice(0, max) : "";
  };

  // One of her other devices signed out, without a lockdown: the API's revokeSession, its rules and event unchanged.
  app.post("/portal/sessions/sign-out", opts({ body: ChangeBody }), async (req, reply) =>
    change(req, reply, "sessions", async (p, lang) => {
      const id = field(req, "id", 64);
      if (!id || id === p.session.id) return sendErrorPage(req, reply, 404, site);
      await portal.signOutDevice(p, id);
      return reply.redirect(`./?lang=${lang}&signedOut=1#sessions`, 303);
    }),
  );

  // The passkey list's rename form (portal/passkey-pages.tsx draws it; no script needed): the API's renamePasskey (a
  // name is not a credential: no fresh sign-in). Removal has its own confirm page there (/portal/passkey-remove): a
  // sensitive change, and for an account whose strongest factor is a passkey only a passkey step-up (or the password
  // with an authenticator's code) meets it, which this password step page cannot offer.
  app.post("/portal/passkeys/rename", opts({ body: ChangeBody }), async (req, reply) =>
    change(req, reply, "passkeys", async (p, lang) => {
      const name = field(req, "name", 64).trim();
      if (!name) return reply.redirect(`./passkeys?lang=${lang}&unnamed=1`, 303);
      await deps.identity.passkeys.rename(p.session, field(req, "id", 64), name, req.ip);
      return reply.redirect(`./passkeys?lang=${lang}&renamed=1`, 303);
    }),
  );

  app.post("/portal/confirm", opts({ body: ChangeBody }), async (req, reply) => {
    const next = field(req, "next", 32);
    return change(req, reply, next, async (p, lang) => {
      try {
        await portal.reauthenticate(
          p,
          { password: field(req, "password", 1024), code: field(req, "code", 32) },
          req.ip,
        );
      } catch (e) {
        if (e instanceof MamoriError && e.code === "invalid_credentials") {
          return confirmForm(req, reply, p, next, 422, T.wrongPassword[lang]);
        }
        if (e instanceof MamoriError && ["code_invalid", "code_replayed", "factor_unavailable"].includes(e.code)) {
          return confirmForm(req, reply, p, next, 422, T.wrongCode[lang]);
        }
        throw e;
      }
      const to = NEXT[next] ?? NEXT.factors!;
      const [path, hash] = to.split("#");
      return reply.redirect(`${path}?lang=${lang}&confirmed=1${hash ? `#${hash}` : ""}`, 303);
    });
  });

  // The passkey step-up of the password step (its script's JSON calls): this session's own challenge, then the API's
  // reauthenticate with a passkey, then back to where the change was asked (a fixed list, never a URL from the form).
  const StepUpJson = Type.Object({ csrf: Type.Optional(Type.String({ maxLength: 200 })) });
  const StepUpAnswer = Type.Object({
    csrf: Type.Optional(Type.String({ maxLength: 200 })),
    response: Type.Object({}, { additionalProperties: true }),
  });
  const StepUpQuery = Type.Object({
    next: Type.Optional(Type.String({ maxLength: 32 })),
    lang: Type.Optional(Type.String({ maxLength: 8 })),
  });
  const jsonRefusal = (reply: FastifyReply, e: unknown) => {
    if (!(e instanceof MamoriError)) throw e;
    return reply.status(e.httpStatus).send({ error: { code: e.code, message: e.message } });
  };
  app.post("/portal/step-up/options", opts({ body: StepUpJson }), async (req, reply) => {
    if (!csrf.check(req, (req.body as { csrf?: string }).csrf)) {
      return reply.status(403).send({ error: { code: "csrf_failed", message: "Reload the page and try again." } });
    }
    const p = await current(req);
    if (!p) return reply.status(401).send({ error: { code: "session_invalid", message: "Open the page again." } });
    try {
      const o = await deps.identity.startPasskeySignIn({ purpose: "step_up", session: p.session });
      return reply.header("cache-control", "no-store").send(o);
    } catch (e) {
      return jsonRefusal(reply, e);
    }
  });
  app.post("/portal/step-up", opts({ body: StepUpAnswer, querystring: StepUpQuery }), async (req, reply) => {
    const body = req.body as { csrf?: string; response: unknown };
    if (!csrf.check(req, body.csrf)) {
      return reply.status(403).send({ error: { code: "csrf_failed", message: "Reload the page and try again." } });
    }
    const p = await current(req);
    if (!p) return reply.status(401).send({ error: { code: "session_invalid", message: "Open the page again." } });
    const q = req.query as { next?: string };
    const lang = langOf(req, (await deps.identity.getAccount(p.session.account_id)).language);
    try {
      await deps.identity.reauthenticate(p.session, { passkey: body.response as never }, req.ip);
    } catch (e) {
      return jsonRefusal(reply, e);
    }
    const [path, hash] = (NEXT[q.next ?? ""] ?? NEXT.factors!).split("#");
    return reply
      .header("cache-control", "no-store")
      .send({ url: `${path}?lang=${lang}&confirmed=1${hash ? `#${hash}` : ""}` });
  });

  async function totpPage(req: FastifyRequest, reply: FastifyReply, p: PortalPage, status: number, error?: string) {
    const a = await deps.identity.getAccount(p.session.account_id);
    const lang = langOf(req, a.language);
    if (a.totpEnabled) return reply.redirect(`./?lang=${lang}#factors`, 303);
    // Each showing starts a new pending secret (the API's enrolTotp): the code must come from the QR shown here.
    const offer = await portal.enrollTotp(p);
    const token = csrf.issue(req, reply);
    return page(reply, status, lang, T.totpTitle[lang], [
      error ? (
        <Notice key="e" tone="error" alert>
          <p>{error}</p>
        </Notice>
      ) : null,
      <ol key="how">
        <li>{T.totpHow1[lang]}</li>
        <li>{T.totpHow2[lang]}</li>
        <li>{T.totpHow3[lang]}</li>
      </ol>,
      <QrSvg key="qr" text={offer.uri} label={T.qrAlt[lang]} />,
      <p key="k">{T.key[lang]}:</p>,
      <p key="s" class="secret">
        {groupedKey(offer.secret)}
      </p>,
      <PostForm key="f" action="./authenticator" hidden={{ csrf: token, lang }}>
        <Field
          name="code"
          type="text"
          label={T.totpCode[lang]}
          autocomplete="one-time-code"
          inputMode="numeric"
          required
          maxLength={12}
        />
        <Actions>
          <Submit>{T.totpButton[lang]}</Submit>
        </Actions>
      </PostForm>,
      back(lang),
    ]);
  }

  function codesPage(reply: FastifyReply, lang: Lang, codes: string[]) {
    // Shown once, on this answer to the post: never stored where a GET could show them again.
    void reply.header("cache-control", "no-store");
    return page(reply, 200, lang, T.codesTitle[lang], [
      <Notice key="ok" tone="ok">
        <p>{T.codesIntro[lang]}</p>
      </Notice>,
      <ol key="c" class="codes">
        {codes.map((c) => (
          <li key={c}>{c}</li>
        ))}
      </ol>,
      <Notice key="w" tone="warn">
        <p>{T.codesOnce[lang]}</p>
      </Notice>,
      back(lang),
    ]);
  }

  app.get("/portal/authenticator", opts({ querystring: Query }), async (req, reply) => {
    const p = await current(req);
    if (!p) return gone(req, reply);
    try {
      return await totpPage(req, reply, p, 200);
    } catch (e) {
      return refusal(req, reply, p, "authenticator", e);
    }
  });

  app.post("/portal/authenticator", opts({ body: ChangeBody }), (req, reply) =>
    change(req, reply, "authenticator", async (p, lang) => {
      try {
        const r = await portal.confirmTotp(p, field(req, "code", 24), req.ip);
        return codesPage(reply, lang, r.recoveryCodes);
      } catch (e) {
        if (e instanceof MamoriError && (e.code === "code_invalid" || e.code === "code_replayed")) {
          return totpPage(req, reply, p, 422, T.totpWrong[lang]);
        }
        throw e;
      }
    }),
  );

  app.post("/portal/authenticator/remove", opts({ body: ChangeBody }), (req, reply) =>
    change(req, reply, "factors", async (p, lang) => {
      await portal.disableTotp(p, req.ip);
      return page(reply, 200, lang, T.totpRemove[lang], [
        <Notice key="ok" tone="ok">
          <p>{T.totpRemoved[lang]}</p>
        </Notice>,
        back(lang),
      ]);
    }),
  );

  app.post("/portal/recovery-codes", opts({ body: ChangeBody }), (req, reply) =>
    change(req, reply, "factors", async (p, lang) =>
      codesPage(reply, lang, (await portal.regenerateRecoveryCodes(p, req.ip)).recoveryCodes),
    ),
  );

  app.post("/portal/app-passwords", opts({ body: ChangeBody }), (req, reply) =>
    change(req, reply, "app-passwords", async (p, lang) => {
      const name = field(req, "name", 64).trim();
      if (!name) {
        return page(reply, 422, lang, T.appPasswordsTitle[lang], [
          <Notice key="e" tone="error" alert>
            <p>{T.nameMissing[lang]}</p>
          </Notice>,
          back(lang),
        ]);
      }
      const r = await portal.createAppPassword(p, name, req.ip);
      void reply.header("cache-control", "no-store");
      return page(reply, 201, lang, T.appPasswordTitle[lang], [
        <p key="i">{s(lang, T.appPasswordOnce, { name: r.name })}</p>,
        <p key="p" class="secret">
          {r.password}
        </p>,
        back(lang),
      ]);
    }),
  );

  app.post("/portal/app-passwords/revoke", opts({ body: ChangeBody }), (req, reply) =>
    change(req, reply, "app-passwords", async (p, lang) => {
      try {
        await portal.revokeAppPassword(p, field(req, "id", 64), req.ip);
      } catch (e) {
        if (e instanceof MamoriError && e.code === "app_password_not_found") {
          return page(reply, 404, lang, T.appPasswordsTitle[lang], [
            <p key="m">{T.appPasswordMissing[lang]}</p>,
            back(lang),
          ]);
        }
        throw e;
      }
      return page(reply, 200, lang, T.appPasswordsTitle[lang], [
        <Notice key="ok" tone="ok">
          <p>{T.appPasswordRevoked[lang]}</p>
        </Notice>,
        back(lang),
      ]);
    }),
  );

  app.post("/portal/countries", opts({ body: ChangeBody }), (req, reply) =>
    change(req, reply, "countries", async (p, lang) => {
      const list = field(req, "countries", 400)
        .normalize("NFKC")
        .split(/[\s,、，]+/)
        .filter(Boolean);
      try {
        await portal.setAllowedCountries(p, list, req.ip);
      } catch (e) {
        if (e instanceof MamoriError && e.code === "country_invalid") {
          return page(reply, 422, lang, T.countriesTitle[lang], [
            <Notice key="e" tone="error" alert>
              <p>{T.countriesBad[lang]}</p>
            </Notice>,
            back(lang),
          ]);
        }
        throw e;
      }
      return page(reply, 200, lang, T.countriesTitle[lang], [
        <Notice key="ok" tone="ok">
          <p>{T.countriesSaved[lang]}</p>
        </Notice>,
        back(lang),
      ]);
    }),
  );
}
