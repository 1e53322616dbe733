import { Type } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ComponentChildren } from "preact";
import { answerFloor } from "../api/answer-floor.ts";
import type { Http } from "../api/types.ts";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../identity/passwords.ts";
import { formatTime } from "../notify/templates.ts";
import type { RouteDeps } from "../route-deps.ts";
import { MamoriError } from "../shared/errors.ts";
import { PASSWORD_SCRIPT } from "../web/assets.ts";
import { readCookie } from "../web/cookies.ts";
import { sendErrorPage } from "../web/error-page.tsx";
import { Actions, Field, LinkButton, Notice, PostForm, Submit } from "../web/form.tsx";
import { fmt, type Lang, type Msg, pickLang } from "../web/i18n.ts";
import { Layout } from "../web/layout.tsx";
import { passkeyScriptPaths } from "../web/passkey-assets.ts";
import { QrSvg } from "../web/qr.tsx";
import { sendPage } from "../web/render.ts";
import { PasskeyCeremony } from "../web/step-up.tsx";
import { ResponseErrors } from "./errors.ts";

/**
 * Hosted recovery (issue 15): the owner's way back after "This wasn't me" or a support lockdown, on Mamori's own
 * pages, so no store has to build it from the seven /v1/recovery calls. The pages call the same service functions as
 * those routes (createRecovery): the rules, the throttles and the one-code-one-token guarantee live there.
 *
 *   /recover/ address → code → /recover/password → /recover/devices → /recover/authenticator → /recover/finish
 *
 * After the code, the recovery token lives in an HttpOnly, SameSite=Strict cookie for the hour the service gives it;
 * every form carries a signed double-submit CSRF token besides. Every refusal is a page in the owner's language with a
 * way back, never JSON.
 */

type Texts = Record<string, Msg>;
type Lines = Readonly<Record<Lang, readonly string[]>>;

const T = {
  title: { ja: "アカウントの復旧", en: "Recover your account" },
  startIntro: {
    ja: "アカウントが保護（凍結）されている場合に、ご本人であることを確かめて、もう一度使えるようにする手続きです。",
    en: "If your account was protected (frozen), this is how you prove it is yours and get it back.",
  },
  startSteps: {
    ja: "手順: 確認コードの入力 → 新しいパスワードの設定 → 端末の確認 → パスキーか認証アプリの設定（任意） → 凍結の解除。10分ほどかかります。",
    en: "Steps: the code → a new password → your devices → a passkey or an authenticator app (optional) → unfreeze. About 10 minutes.",
  },
  identifier: { ja: "メールアドレスまたは電話番号", en: "Email address or phone number" },
  identifierHint: {
    ja: "不正な操作より前から登録している、ご自身のものを入力してください。第三者が登録したアドレスには送りません。",
    en: "One you registered before the activity that wasn't you. Nothing is sent to an address someone else added.",
  },
  identifierBad: {
    ja: "メールアドレス（例: hanako@example.jp）か電話番号（例: 090-1234-5678）を入力してください。",
    en: "Enter an email address (e.g. hanako@example.jp) or a phone number (e.g. 090-1234-5678).",
  },
  sendCode: { ja: "確認コードを送る", en: "Send the code" },

  codeTitle: { ja: "確認コードを入力してください", en: "Enter the code" },
  codeSent: {
    ja: "入力された連絡先が、保護されたアカウントに以前から登録されている場合は、6桁の確認コードを送りました。届くまで数分かかることがあります。",
    en: "If what you entered was registered on a protected account before the activity, we sent it a 6-digit code. It can take a few minutes.",
  },
  codeNone: {
    ja: "届かない場合は、入力を間違えたか、その連絡先では復旧できません（不正な操作のあとに登録されたものなど）。別のメールアドレスか電話番号で、もう一度お試しください。",
    en: "If nothing arrives, it was mistyped, or it cannot be used (for example, it was added after the activity). Try another address or phone number.",
  },
  code: { ja: "確認コード（6桁）", en: "Code (6 digits)" },
  codeHint: { ja: "コードの有効期限は15分です。", en: "The code is valid for 15 minutes." },
  codeWrong: {
    ja: "確認コードが違うか、有効期限（15分）が切れています。届いたメールまたはSMSのコードを確かめて入力してください。5回間違えたときや期限が切れたときは、「最初からやり直す」から新しいコードを受け取ってください。",
    en: "The code is wrong or has expired (15 minutes). Check the code in the email or text. After 5 wrong tries, or once it has expired, get a new code with “Start again”.",
  },
  codeFailed: { ja: "確認できませんでした。", en: "The code was not accepted." },
  codeButton: { ja: "確認する", en: "Confirm" },
  startAgain: { ja: "最初からやり直す", en: "Start again" },

  progress: { ja: "手順 {n} / 5", en: "Step {n} of 5" },
  passwordTitle: { ja: "新しいパスワードを設定する", en: "Set a new password" },
  passwordIntro: {
    ja: "ご本人であることを確認できました。第三者が知っているパスワードは使えなくなります。新しいパスワードを決めてください。",
    en: "It is you. The password someone else knew will stop working: choose a new one.",
  },
  newPassword: { ja: "新しいパスワード", en: "New password" },
  rulesTitle: { ja: "パスワードの条件", en: "The rules" },
  rulesLater: {
    ja: "文字数は入力中に確かめます。そのほかの条件は、ボタンを押したときに確かめます。",
    en: "The length is checked as you type; the other rules when you press the button.",
  },
  liveEmpty: {
    ja: `${MIN_PASSWORD_LENGTH}文字以上で入力してください。`,
    en: `Use at least ${MIN_PASSWORD_LENGTH} characters.`,
  },
  liveShort: { ja: "{n}文字: あと{more}文字必要です。", en: "{n} characters: {more} more needed." },
  liveOk: { ja: "{n}文字: 文字数は条件を満たしています。", en: "{n} characters: long enough." },
  liveLong: {
    ja: `{n}文字: ${MAX_PASSWORD_LENGTH}文字以内にしてください。`,
    en: `{n} characters: use at most ${MAX_PASSWORD_LENGTH}.`,
  },
  passwordButton: { ja: "パスワードを設定して次へ", en: "Set the password and continue" },
  passwordFailed: { ja: "パスワードを設定できませんでした。", en: "The password was not set." },
  stillFrozen: {
    ja: "手続きが終わるまで、アカウントは凍結されたままです。新しいパスワードでも、まだログインできません。",
    en: "The account stays frozen until you finish: even the new password does not sign in yet.",
  },

  devicesTitle: { ja: "ご自身の端末を選んでください", en: "Tell us which devices were yours" },
  devicesIntro: {
    ja: "保護したときに、すべての端末をログアウトさせました。下の一覧は、この間にログインした端末です。ご自身の端末にチェックを入れてください。",
    en: "When the account was protected, every device was signed out. These are the devices that signed in around that time. Tick the ones that were yours.",
  },
  devicesTruth: {
    ja: "チェックした端末は「ご本人の端末」として記録され、今後の不正の判定に使われます。チェックしなかった端末は「第三者の端末」として記録されます。チェックしても、その端末がログイン状態に戻ることはありません。復旧後、ご自身の端末でもう一度ログインしてください。",
    en: "Ticked devices are recorded as yours and used when judging future sign-ins; the others are recorded as someone else's. Ticking a device does not sign it back in: after recovery, sign in again on your own devices.",
  },
  sinceLine: { ja: "不正な操作が始まったと判断した時刻: {since}", en: "The activity that wasn't you began: {since}" },
  mine: { ja: "これは自分の端末です", en: "This was my device" },
  beforeWindow: { ja: "不正な操作の前からの端末", en: "Signed in before the activity" },
  inWindow: { ja: "不正な操作の期間にログイン", en: "Signed in during the activity" },
  place: { ja: "場所", en: "Place" },
  network: { ja: "IPアドレス", en: "IP address" },
  channel: { ja: "経路", en: "Channel" },
  signedInAt: { ja: "ログイン", en: "Signed in" },
  unknown: { ja: "不明", en: "unknown" },
  noDevices: { ja: "この期間にログインした端末はありません。", en: "No device signed in during this time." },
  devicesButton: { ja: "この内容で次へ", en: "Continue" },

  strongTitle: {
    ja: "パスキーか認証アプリを設定する（おすすめ）",
    en: "Add a passkey or an authenticator app (recommended)",
  },
  passkeyTitle: { ja: "パスキー（いちばんおすすめ）", en: "A passkey (best)" },
  passkeyIntro: {
    ja: "パスキーを追加すると、この端末の指紋・顔認証・画面ロックでログインできます。パスワードが再び漏れても、偽のサイトにだまされても、第三者はパスキーを使えません。",
    en: "With a passkey you sign in with this device's fingerprint, face or screen lock. Even if the password leaks again, or a fake site tricks you, nobody else can use it.",
  },
  passkeyHave: { ja: "このアカウントのパスキー: {n}個", en: "Passkeys on this account: {n}" },
  passkeyName: { ja: "パスキーの名前（例: 私のiPhone）", en: "Name for the passkey (e.g. My iPhone)" },
  passkeyAdd: { ja: "この端末にパスキーを追加", en: "Add a passkey on this device" },
  passkeyWorking: { ja: "端末の確認を待っています…", en: "Waiting for your device…" },
  passkeyFailed: { ja: "パスキーを追加できませんでした。", en: "The passkey could not be added." },
  passkeyNeedsScript: {
    ja: "パスキーの追加には、ブラウザのJavaScriptが必要です。下の認証アプリは、JavaScriptなしで設定できます。",
    en: "Adding a passkey needs JavaScript in your browser. The authenticator app below works without it.",
  },
  totpOr: { ja: "認証アプリ", en: "An authenticator app" },
  totpTitle: { ja: "認証アプリを設定する（おすすめ）", en: "Add an authenticator app (recommended)" },
  totpIntro: {
    ja: "ログインのときに、パスワードに加えて認証アプリの6桁のコードを求めるようにします。パスワードが再び漏れても、第三者はログインできません。",
    en: "Sign-in will ask for the app's 6-digit code as well as the password: even if the password leaks again, nobody else gets in.",
  },
  totpHow: {
    ja: [
      "スマートフォンに認証アプリ（Google Authenticator、Microsoft Authenticator など）を入れます。",
      "アプリで下のQRコードを読み取ります。読み取れない場合は、その下のキーを入力します。",
      "アプリに表示された6桁のコードを入力します。",
    ],
    en: [
      "Install an authenticator app on your phone (Google Authenticator, Microsoft Authenticator, …).",
      "Scan the QR code below with it, or type the key under it.",
      "Enter the 6-digit code the app shows.",
    ],
  },
  qrAlt: { ja: "認証アプリで読み取るQRコード", en: "QR code for the authenticator app" },
  secret: { ja: "手入力用のキー", en: "Key to type in" },
  totpCode: { ja: "アプリに表示された6桁のコード", en: "The 6-digit code from the app" },
  totpWrong: {
    ja: "コードが違います。アプリに表示されている最新のコードを入力してください（30秒ごとに変わります）。",
    en: "That code is not right. Enter the newest code the app shows (it changes every 30 seconds).",
  },
  totpFailed: { ja: "認証アプリを設定できませんでした。", en: "The authenticator app was not turned on." },
  totpButton: { ja: "認証アプリを設定する", en: "Turn on the authenticator app" },
  totpSkip: { ja: "今はしないで次へ", en: "Not now: continue" },
  totpSkipNote: {
    ja: "設定しない場合は、パスワードだけでアカウントを守ることになります。あとから{store}の設定画面でも設定できます。",
    en: "Without it, the password alone protects the account. You can turn it on later in {store}'s settings.",
  },
  totpAlready: {
    ja: "認証アプリはすでに設定されています。ログインのときは、これまでどおり認証アプリのコードが必要です。",
    en: "An authenticator app is already on: sign-in keeps asking for its code.",
  },
  continue: { ja: "次へ", en: "Continue" },

  codesTitle: { ja: "リカバリーコードを保管してください", en: "Keep your recovery codes" },
  codesIntro: {
    ja: "認証アプリを設定しました。スマートフォンをなくしたときは、下のリカバリーコードの1つを、認証アプリのコードの代わりに使えます。各コードは1回だけ使えます。",
    en: "The authenticator app is on. If you lose your phone, use one of these codes instead of the app's code. Each works once.",
  },
  codesOnce: {
    ja: "このコードが表示されるのは今だけです。印刷するか書き写して、パスワードとは別の安全な場所に保管してください。",
    en: "This is the only time they are shown. Print or copy them, and keep them somewhere safe, apart from your password.",
  },

  finishTitle: { ja: "凍結を解除する", en: "Unfreeze the account" },
  finishIntro: {
    ja: "次の手続きが終わりました。下のボタンを押すと、アカウントの凍結を解除します。",
    en: "These steps are done. Press the button to unfreeze the account.",
  },
  donePassword: { ja: "新しいパスワードを設定しました", en: "A new password is set" },
  doneDevices: { ja: "端末を確認しました", en: "Your devices are reviewed" },
  doneTotpOn: { ja: "認証アプリ: 設定済み", en: "Authenticator app: on" },
  doneTotpOff: { ja: "認証アプリ: 未設定", en: "Authenticator app: off" },
  donePasskeys: { ja: "パスキー: {n}個", en: "Passkeys: {n}" },
  finishWill: {
    ja: [
      "新しいパスワードでログインできるようになります。古いパスワードは使えません。",
      "すべての端末はログアウトしたままです。ご自身の端末で、もう一度ログインしてください。",
      "凍結を解除したことを、登録済みのメールアドレス（と電話番号）にお知らせします。",
    ],
    en: [
      "The new password signs in; the old one no longer does.",
      "Every device stays signed out: sign in again on yours.",
      "We tell your registered addresses (and phone) that the account was unfrozen.",
    ],
  },
  finishWillTitle: { ja: "凍結を解除すると", en: "When you unfreeze" },
  finishButton: { ja: "凍結を解除する", en: "Unfreeze my account" },

  doneTitle: { ja: "アカウントが復旧しました", en: "Your account is back" },
  done: {
    ja: "凍結を解除しました。{store}で、新しいパスワードを使ってログインしてください。",
    en: "The account is unfrozen. Sign in to {store} with your new password.",
  },
  doneTotp: {
    ja: "ログインのときは、パスワードのあとに認証アプリのコード（またはリカバリーコード）を入力してください。",
    en: "When you sign in, enter the authenticator app's code (or a recovery code) after the password.",
  },
  samePassword: {
    ja: "以前のパスワードを他のサービスでもお使いの場合は、そちらも変更してください。",
    en: "If you used the old password anywhere else, change it there too.",
  },
  toStore: { ja: "{store}でログインする", en: "Sign in at {store}" },

  goneTitle: { ja: "もう一度最初からお試しください", en: "Please start again" },
  gone: {
    ja: "復旧の手続きの有効期限（確認コードの入力から1時間）が切れたか、この手続きはすでに終わっています。アカウントがまだ凍結されている場合は、最初からやり直してください。",
    en: "This recovery has expired (an hour after the code) or is already finished. If the account is still frozen, start again.",
  },
  csrfTitle: { ja: "もう一度お試しください", en: "Please try again" },
  csrf: {
    ja: "このページを開き直してから、もう一度送信してください。",
    en: "Open this page again, then send the form once more.",
  },
  tooManyTitle: { ja: "しばらくお待ちください", en: "Please wait a moment" },
  tooMany: {
    ja: "短い時間に何度も試されたため、一時的に受け付けを止めています。{minutes}分ほど待ってから、もう一度お試しください。",
    en: "There were too many tries in a short time. Please wait about {minutes} minutes, then try again.",
  },
} satisfies Record<string, Msg | Lines>;

// The same wording as the reset page, plus the recovery's own rule (none in use while the account was not yours).
const PASSWORD_ERRORS: Texts = {
  password_too_short: {
    ja: `パスワードが短すぎます。${MIN_PASSWORD_LENGTH}文字以上にしてください。`,
    en: `The password is too short: use at least ${MIN_PASSWORD_LENGTH} characters.`,
  },
  password_too_long: {
    ja: `パスワードが長すぎます。${MAX_PASSWORD_LENGTH}文字以内にしてください。`,
    en: `The password is too long: use at most ${MAX_PASSWORD_LENGTH} characters.`,
  },
  password_too_weak: {
    ja: "このパスワードは推測されやすいため使えません。関係のない単語をいくつか組み合わせた、長めのパスワードにしてください。",
    en: "This password is too easy to guess. Use a longer one, for example several unrelated words.",
  },
  password_breached: {
    ja: "このパスワードは過去に流出したパスワードの一覧にあり、推測されやすいため使えません。別のパスワードにしてください。",
    en: "This password is on lists of leaked passwords, which attackers try first. Choose another one.",
  },
  password_contains_context: {
    ja: "メールアドレスやお名前、ショップ名などから作ったパスワードは、推測されやすいため使えません。関係のない単語をいくつか組み合わせてください。",
    en: "A password made from your email address, your name or the shop's name is easy to guess. Use several unrelated words instead.",
  },
  password_reused: {
    ja: "最近使ったパスワードです。別のパスワードにしてください。",
    en: "You used this password recently. Choose a different one.",
  },
  password_used_in_window: {
    ja: "このパスワードは、第三者がアカウントを使っていた間に使われていたため、使えません。まったく新しいパスワードにしてください。",
    en: "This password was in use while someone else had the account: choose a completely new one.",
  },
};

const RULES: Lines = {
  ja: [
    `${MIN_PASSWORD_LENGTH}文字以上、${MAX_PASSWORD_LENGTH}文字以内`,
    "過去に流出したパスワードは使えません",
    "推測されにくいもの（よくある単語や名前、メールアドレスやショップ名から作ったものは使えません）",
    "最近使った5つのパスワードと、第三者がアカウントを使っていた間のパスワードは使えません",
  ],
  en: [
    `${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`,
    "No password known from leaks",
    "Hard to guess (common words, names, or words from your email address or the shop's name are refused)",
    "None of your last 5 passwords, nor one in use while someone else had the account",
  ],
};
const TIP: Msg = {
  ja: "おすすめ: 関係のない単語を4つ以上つなげた、長めのパスワード",
  en: "Tip: four or more unrelated words make a long, strong password",
};

const CHANNELS: Texts = {
  web: { ja: "ウェブ", en: "Web" },
  app: { ja: "アプリ", en: "App" },
  app_password: { ja: "アプリ用パスワード", en: "App password" },
};

// Every page is one level under the root: /recover/<step>.
const ROOT = "../";
const TOKEN_SHAPE = /^mmr_[A-Za-z0-9_-]{20,100}$/;
// The service's step lifetime: a recovery token is good for an hour after the code.
const COOKIE_MAX_AGE_S = 60 * 60;

export function registerRecoveryPages(app: Http, deps: RouteDeps) {
  const { recovery, site, csrf } = deps;
  const secure = deps.publicUrl.startsWith("https:");
  // __Host-: Secure, Path=/, no Domain: no subdomain can plant or read it.
  const cookieName = secure ? "__Host-mamori_recovery" : "mamori_recovery";
  const s = (lang: Lang, m: Msg, vars: Record<string, string | number> = {}) =>
    fmt(m[lang], { store: site.storeName, ...vars });
  const imageUrls = site.logoUrl ? [site.logoUrl] : [];
  // Every field optional and extra ones allowed: a garbled post is answered with a page by the handler.
  const Body = Type.Object({
    csrf: Type.Optional(Type.String()),
    lang: Type.Optional(Type.String()),
    identifier: Type.Optional(Type.String()),
    r: Type.Optional(Type.String()),
    code: Type.Optional(Type.String()),
    password: Type.Optional(Type.String()),
    mine: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
  });
  const Query = Type.Object({ lang: Type.Optional(Type.String()) });
  const opts = (schema: Record<string, unknown>) => ({
    config: { auth: "public" as const },
    schema: { hide: true, ...schema },
  });

  function page(
    reply: FastifyReply,
    status: number,
    v: {
      lang: Lang;
      title: string;
      otherLangHref?: string | undefined;
      /** password: the rules as you type; passkey: the WebAuthn ceremony (web/passkey-assets.ts) */
      script?: "password" | "passkey";
      children: ComponentChildren;
    },
  ) {
    const scripts =
      v.script === "password"
        ? [`${ROOT}${PASSWORD_SCRIPT.path.slice(1)}`]
        : v.script === "passkey"
          ? passkeyScriptPaths(ROOT)
          : [];
    return sendPage(
      reply,
      status,
      <Layout lang={v.lang} site={site} root={ROOT} title={v.title} otherLangHref={v.otherLangHref}>
        {v.children}
        {scripts.map((src) => (
          <script key={src} src={src} defer />
        ))}
      </Layout>,
      { imageUrls, ownScript: scripts.length > 0, connectSelf: v.script === "passkey" },
    );
  }

  const chosen = (req: FastifyRequest): Lang | undefined => {
    const q = (req.query ?? {}) as { lang?: unknown };
    const b = (req.body ?? {}) as { lang?: unknown };
    const v = b.lang ?? q.lang;
    return v === "ja" || v === "en" ? v : undefined;
  };
  const langOf = (req: FastifyRequest, account?: string | null) =>
    pickLang({ chosen: chosen(req), account: account ?? null, acceptLanguage: req.headers["accept-language"] });
  const other = (lang: Lang) => (lang === "ja" ? "en" : "ja");
  const step = (name: string, lang: Lang) => `./${name}?lang=${lang}`;
  const tokenOf = (req: FastifyRequest) => readCookie(req, cookieName, TOKEN_SHAPE);
  const setToken = (reply: FastifyReply, token: string, maxAge: number) =>
    reply.header(
      "set-cookie",
      `${cookieName}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? "; Secure" : ""}`,
    );
  const progressLine = (lang: Lang, n: number) => <p class="code">{s(lang, T.progress, { n })}</p>;

  function startAgain(lang: Lang) {
    return (
      <Actions>
        <LinkButton href={step("", lang)}>{T.startAgain[lang]}</LinkButton>
      </Actions>
    );
  }

  /** The recovery behind this browser's cookie is gone: expired, finished, or never there. */
  function gone(req: FastifyRequest, reply: FastifyReply) {
    const lang = langOf(req);
    setToken(reply, "", 0);
    return page(reply, 410, {
      lang,
      title: T.goneTitle[lang],
      children: (
        <>
          <p>{T.gone[lang]}</p>
          {startAgain(lang)}
        </>
      ),
    });
  }

  function refused(req: FastifyRequest, reply: FastifyReply) {
    const lang = langOf(req);
    return page(reply, 403, {
      lang,
      title: T.csrfTitle[lang],
      children: (
        <>
          <p>{T.csrf[lang]}</p>
          {startAgain(lang)}
        </>
      ),
    });
  }

  function tooMany(req: FastifyRequest, reply: FastifyReply, e: MamoriError) {
    const lang = langOf(req);
    const seconds = Number(e.details?.retryAfterSeconds ?? 300);
    const minutes = Math.max(1, Math.ceil((Number.isFinite(seconds) ? seconds : 300) / 60));
    if (Number.isFinite(seconds)) void reply.header("retry-after", String(Math.max(1, Math.ceil(seconds))));
    return page(reply, 429, {
      lang,
      title: T.tooManyTitle[lang],
      children: (
        <>
          <p>{s(lang, T.tooMany, { minutes })}</p>
          {startAgain(lang)}
        </>
      ),
    });
  }

  /** A catalogued refusal no step handles itself: its page; anything else is a bug and goes to the error handler. */
  function otherwise(req: FastifyRequest, reply: FastifyReply, e: unknown) {
    if (!(e instanceof MamoriError)) throw e;
    if (e.code === "rate_limited") return tooMany(req, reply, e);
    if (e.code === "recovery_invalid") return gone(req, reply);
    return sendErrorPage(req, reply, e.httpStatus, site);
  }

  /** The recovery behind the cookie and where it stands, or undefined (the caller answers `gone`). */
  async function current(req: FastifyRequest) {
    const token = tokenOf(req);
    if (!token) return undefined;
    try {
      return { token, ...(await recovery.progress(token)) };
    } catch (e) {
      if (e instanceof MamoriError && e.code === "recovery_invalid") return undefined;
      throw e;
    }
  }

  // ---- 1. the address -------------------------------------------------------------------------------------------

  function startForm(req: FastifyRequest, reply: FastifyReply, status: number, v: { error?: string; value?: string }) {
    const lang = langOf(req);
    const token = csrf.issue(req, reply);
    return page(reply, status, {
      lang,
      title: T.title[lang],
      otherLangHref: v.error ? undefined : `./?lang=${other(lang)}`,
      children: (
        <>
          <p>{T.startIntro[lang]}</p>
          <p>{T.startSteps[lang]}</p>
          {v.error ? (
            <Notice tone="error" alert>
              <p>{v.error}</p>
            </Notice>
          ) : null}
          <PostForm action="./start" hidden={{ csrf: token, lang }}>
            <Field
              name="identifier"
              type="text"
              label={T.identifier[lang]}
              autocomplete="username"
              inputMode="email"
              required
              maxLength={254}
              value={v.value}
              error={v.error}
              hint={<p>{T.identifierHint[lang]}</p>}
            />
            <Actions>
              <Submit>{T.sendCode[lang]}</Submit>
            </Actions>
          </PostForm>
        </>
      ),
    });
  }

  function codeForm(
    req: FastifyRequest,
    reply: FastifyReply,
    status: number,
    v: { recoveryId: string; error?: string },
  ) {
    const lang = langOf(req);
    const token = csrf.issue(req, reply);
    return page(reply, status, {
      lang,
      title: T.codeTitle[lang],
      children: (
        <>
          {progressLine(lang, 1)}
          {v.error ? (
            <Notice tone="error" alert>
              <p>{T.codeFailed[lang]}</p>
            </Notice>
          ) : (
            <>
              <p>{T.codeSent[lang]}</p>
              <p>{T.codeNone[lang]}</p>
            </>
          )}
          <PostForm action="./verify" hidden={{ csrf: token, lang, r: v.recoveryId }}>
            <Field
              name="code"
              type="text"
              label={T.code[lang]}
              autocomplete="one-time-code"
              inputMode="numeric"
              required
              maxLength={12}
              error={v.error}
              hint={<p>{T.codeHint[lang]}</p>}
            />
            <Actions>
              <Submit>{T.codeButton[lang]}</Submit>
              <LinkButton href={step("", lang)} secondary>
                {T.startAgain[lang]}
              </LinkButton>
            </Actions>
          </PostForm>
        </>
      ),
    });
  }

  app.get("/recover", opts({ querystring: Query }), (req, reply) => reply.redirect(step("recover/", langOf(req)), 303));
  app.get("/recover/", opts({ querystring: Query }), (req, reply) => startForm(req, reply, 200, {}));

  // The answer must not tell by its timing whether a code went out (an account found, a mail queued).
  app.post(
    "/recover/start",
    { ...opts({ body: Body }), onSend: answerFloor(deps.answerFloorMs) },
    async (req, reply) => {
      const b = req.body as { csrf?: string; identifier?: unknown };
      if (!csrf.check(req, b.csrf)) return refused(req, reply);
      const lang = langOf(req);
      const identifier = typeof b.identifier === "string" ? b.identifier.slice(0, 254) : "";
      if (identifier.trim().length < 3)
        return startForm(req, reply, 422, { error: T.identifierBad[lang], value: identifier });
      try {
        const { recoveryId } = await recovery.start({ identifier, ip: req.ip });
        return codeForm(req, reply, 200, { recoveryId });
      } catch (e) {
        if (e instanceof MamoriError && e.code === "invalid_request") {
          return startForm(req, reply, 422, { error: T.identifierBad[lang], value: identifier });
        }
        return otherwise(req, reply, e);
      }
    },
  );

  app.post("/recover/verify", opts({ body: Body }), async (req, reply) => {
    const b = req.body as { csrf?: string; r?: unknown; code?: unknown };
    if (!csrf.check(req, b.csrf)) return refused(req, reply);
    const lang = langOf(req);
    const recoveryId = typeof b.r === "string" ? b.r.slice(0, 64) : "";
    // Full-width digits and spaces are what a Japanese keyboard or a pasted mail gives: the code is the digits.
    const code = (typeof b.code === "string" ? b.code : "").normalize("NFKC").replace(/[\s-]/g, "").slice(0, 12);
    try {
      if (!recoveryId) throw ResponseErrors.recovery_invalid();
      const v = await recovery.verify({ recoveryId, code, ip: req.ip });
      setToken(reply, v.recoveryToken, COOKIE_MAX_AGE_S);
      return reply.redirect(step("password", lang), 303);
    } catch (e) {
      // A wrong code and a recovery that is not there (the decoy id of an address on no locked-down account, an
      // expired, used or killed code) get one answer: telling them apart would tell a stranger which addresses are
      // locked down, which the start page is careful not to.
      if (e instanceof MamoriError && (e.code === "code_invalid" || e.code === "recovery_invalid")) {
        return codeForm(req, reply, 422, { recoveryId, error: T.codeWrong[lang] });
      }
      return otherwise(req, reply, e);
    }
  });

  // ---- 2. the password ------------------------------------------------------------------------------------------

  function passwordForm(req: FastifyRequest, reply: FastifyReply, status: number, lang: Lang, error?: string) {
    const token = csrf.issue(req, reply);
    return page(reply, status, {
      lang,
      title: T.passwordTitle[lang],
      otherLangHref: error ? undefined : step("password", other(lang)),
      script: "password",
      children: (
        <>
          {progressLine(lang, 2)}
          {error ? (
            <Notice tone="error" alert>
              <p>{T.passwordFailed[lang]}</p>
            </Notice>
          ) : (
            <p>{T.passwordIntro[lang]}</p>
          )}
          <PostForm action="./password" hidden={{ csrf: token, lang }}>
            <Field
              name="password"
              type="password"
              label={T.newPassword[lang]}
              autocomplete="new-password"
              required
              minLength={MIN_PASSWORD_LENGTH}
              maxLength={MAX_PASSWORD_LENGTH}
              error={error}
              rules={{ list: "pw-rules", live: "pw-live", min: MIN_PASSWORD_LENGTH, max: MAX_PASSWORD_LENGTH }}
              hint={
                <>
                  <p>{T.rulesTitle[lang]}:</p>
                  <ul class="rules" id="pw-rules">
                    {RULES[lang].map((r, i) => (
                      <li key={r} data-rule={i === 0 ? "length" : undefined}>
                        {r}
                      </li>
                    ))}
                  </ul>
                  <p>{TIP[lang]}</p>
                  <p>{T.rulesLater[lang]}</p>
                </>
              }
            />
            <p
              class="live"
              id="pw-live"
              aria-live="polite"
              hidden
              data-empty={T.liveEmpty[lang]}
              data-short={T.liveShort[lang]}
              data-ok={T.liveOk[lang]}
              data-long={T.liveLong[lang]}
            />
            <p>{T.stillFrozen[lang]}</p>
            <Actions>
              <Submit>{T.passwordButton[lang]}</Submit>
            </Actions>
          </PostForm>
        </>
      ),
    });
  }

  app.get("/recover/password", opts({ querystring: Query }), async (req, reply) => {
    const p = await current(req);
    if (!p) return gone(req, reply);
    const lang = langOf(req, p.language);
    if (p.passwordSet) return reply.redirect(step("devices", lang), 303);
    return passwordForm(req, reply, 200, lang);
  });

  app.post("/recover/password", opts({ body: Body }), async (req, reply) => {
    const b = req.body as { csrf?: string; password?: unknown };
    if (!csrf.check(req, b.csrf)) return refused(req, reply);
    const p = await current(req);
    if (!p) return gone(req, reply);
    const lang = langOf(req, p.language);
    try {
      await recovery.setPassword({
        recoveryToken: p.token,
        newPassword: typeof b.password === "string" ? b.password : "",
        ip: req.ip,
      });
      return reply.redirect(step("devices", lang), 303);
    } catch (e) {
      const msg = e instanceof MamoriError ? PASSWORD_ERRORS[e.code] : undefined;
      if (msg) return passwordForm(req, reply, 422, lang, msg[lang]);
      return otherwise(req, reply, e);
    }
  });

  // ---- 3. the devices -------------------------------------------------------------------------------------------

  const country = (c: string | null, lang: Lang) => {
    if (!c) return T.unknown[lang];
    try {
      return new Intl.DisplayNames([lang], { type: "region" }).of(c) ?? c;
    } catch {
      return c;
    }
  };
  const when = (iso: string, lang: Lang) => formatTime(new Date(iso), lang, site.timeZone);

  app.get("/recover/devices", opts({ querystring: Query }), async (req, reply) => {
    const p = await current(req);
    if (!p) return gone(req, reply);
    const lang = langOf(req, p.language);
    if (!p.passwordSet) return reply.redirect(step("password", lang), 303);
    const r = await recovery.review(p.token);
    const token = csrf.issue(req, reply);
    return page(reply, 200, {
      lang,
      title: T.devicesTitle[lang],
      otherLangHref: step("devices", other(lang)),
      children: (
        <>
          {progressLine(lang, 3)}
          <p>{T.devicesIntro[lang]}</p>
          <Notice>
            <p>{T.devicesTruth[lang]}</p>
          </Notice>
          <p>{s(lang, T.sinceLine, { since: when(r.since, lang) })}</p>
          <PostForm action="./devices" hidden={{ csrf: token, lang }}>
            {r.devices.length === 0 ? <p>{T.noDevices[lang]}</p> : null}
            <ul class="cards">
              {r.devices.map((d, i) => (
                <li key={d.sessionId} class="card">
                  <p class="card-title">{d.device || T.unknown[lang]}</p>
                  <dl class="facts">
                    <dt>{T.signedInAt[lang]}</dt>
                    <dd>
                      {when(d.createdAt, lang)}
                      <br />
                      {d.role === "before_window" ? T.beforeWindow[lang] : T.inWindow[lang]}
                    </dd>
                    <dt>{T.place[lang]}</dt>
                    <dd>{country(d.country, lang)}</dd>
                    <dt>{T.network[lang]}</dt>
                    <dd class="code">{d.ip}</dd>
                    <dt>{T.channel[lang]}</dt>
                    <dd>{CHANNELS[d.channel]?.[lang] ?? d.channel}</dd>
                  </dl>
                  <label class="check" for={`mine-${i}`}>
                    <input
                      type="checkbox"
                      id={`mine-${i}`}
                      name="mine"
                      value={d.sessionId}
                      checked={d.role === "owner" || d.role === "before_window"}
                    />
                    {T.mine[lang]}
                  </label>
                </li>
              ))}
            </ul>
            <Actions>
              <Submit>{T.devicesButton[lang]}</Submit>
            </Actions>
          </PostForm>
        </>
      ),
    });
  });

  app.post("/recover/devices", opts({ body: Body }), async (req, reply) => {
    const b = req.body as { csrf?: string; mine?: unknown };
    if (!csrf.check(req, b.csrf)) return refused(req, reply);
    const p = await current(req);
    if (!p) return gone(req, reply);
    const lang = langOf(req, p.language);
    const raw = Array.isArray(b.mine) ? b.mine : typeof b.mine === "string" ? [b.mine] : [];
    const claimed = raw.filter((x): x is string => typeof x === "string" && x.length <= 64).slice(0, 100);
    try {
      await recovery.reviewDevices({ recoveryToken: p.token, claimed, ip: req.ip });
      return reply.redirect(step("authenticator", lang), 303);
    } catch (e) {
      return otherwise(req, reply, e);
    }
  });

  // ---- 4. the authenticator -------------------------------------------------------------------------------------

  /** The passkey offer, first on the step (issue 17 item 3): it needs script; without, the authenticator below. */
  function passkeySection(lang: Lang, token: string, passkeys: number) {
    return (
      <section aria-labelledby="passkey-h">
        <h2 id="passkey-h">{T.passkeyTitle[lang]}</h2>
        <p>{T.passkeyIntro[lang]}</p>
        {passkeys > 0 ? <p>{s(lang, T.passkeyHave, { n: passkeys })}</p> : null}
        <PasskeyCeremony
          id="passkey-add"
          csrf={token}
          options="./passkey/options"
          finish="./passkey/add"
          button={T.passkeyAdd[lang]}
          working={T.passkeyWorking[lang]}
          failed={T.passkeyFailed[lang]}
          needsScript={T.passkeyNeedsScript[lang]}
          nameLabel={T.passkeyName[lang]}
        />
      </section>
    );
  }

  async function totpForm(
    req: FastifyRequest,
    reply: FastifyReply,
    status: number,
    p: { token: string; language: string | null; passkeys: number },
    error?: string,
  ) {
    const lang = langOf(req, p.language);
    const offer = await recovery.offerTotp({ recoveryToken: p.token });
    const token = csrf.issue(req, reply);
    if (!offer.offered) {
      return page(reply, 200, {
        lang,
        title: T.strongTitle[lang],
        script: "passkey",
        children: (
          <>
            {progressLine(lang, 4)}
            {passkeySection(lang, token, p.passkeys)}
            <h2>{T.totpOr[lang]}</h2>
            <p>{T.totpAlready[lang]}</p>
            <Actions>
              <LinkButton href={step("finish", lang)}>{T.continue[lang]}</LinkButton>
            </Actions>
          </>
        ),
      });
    }
    // Each showing starts a new pending secret (the service's offer): the page shown is the one to scan.
    const secret = offer.secret.replace(/(.{4})/g, "$1 ").trim();
    return page(reply, status, {
      lang,
      title: T.strongTitle[lang],
      otherLangHref: error ? undefined : step("authenticator", other(lang)),
      script: "passkey",
      children: (
        <>
          {progressLine(lang, 4)}
          {error ? (
            <Notice tone="error" alert>
              <p>{T.totpFailed[lang]}</p>
            </Notice>
          ) : null}
          {passkeySection(lang, token, p.passkeys)}
          <h2>{T.totpOr[lang]}</h2>
          <p>{T.totpIntro[lang]}</p>
          <ol>
            {T.totpHow[lang].map((l) => (
              <li key={l}>{l}</li>
            ))}
          </ol>
          <QrSvg text={offer.uri} label={T.qrAlt[lang]} />
          <p>{T.secret[lang]}:</p>
          <p class="secret">{secret}</p>
          <PostForm action="./authenticator" hidden={{ csrf: token, lang }}>
            <Field
              name="code"
              type="text"
              label={T.totpCode[lang]}
              autocomplete="one-time-code"
              inputMode="numeric"
              required
              maxLength={12}
              error={error}
            />
            <Actions>
              <Submit>{T.totpButton[lang]}</Submit>
              <LinkButton href={step("finish", lang)} secondary>
                {T.totpSkip[lang]}
              </LinkButton>
            </Actions>
          </PostForm>
          <p>{s(lang, T.totpSkipNote)}</p>
        </>
      ),
    });
  }

  // The passkey offer's two JSON calls, for the page's script: the recovery cookie and the page's CSRF token. A
  // refusal is a code and a message for the script to show; the step's page stays where it is.
  const strictJson = { additionalProperties: false } as const;
  const PasskeyJson = Type.Object({ csrf: Type.Optional(Type.String({ maxLength: 200 })) }, strictJson);
  const PasskeyAnswer = Type.Object(
    {
      csrf: Type.Optional(Type.String({ maxLength: 200 })),
      response: Type.Object({}, { additionalProperties: true }),
      name: Type.Optional(Type.String({ maxLength: 64 })),
    },
    strictJson,
  );
  async function passkeyJson(req: FastifyRequest, reply: FastifyReply, run: (token: string) => Promise<unknown>) {
    void reply.header("cache-control", "no-store");
    if (!csrf.check(req, (req.body as { csrf?: string }).csrf)) {
      return reply.status(403).send({ error: { code: "csrf_failed", message: "Reload the page and try again." } });
    }
    const token = tokenOf(req);
    try {
      if (!token) throw ResponseErrors.recovery_invalid();
      return reply.send(await run(token));
    } catch (e) {
      if (e instanceof MamoriError) {
        return reply.status(e.httpStatus).send({ error: { code: e.code, message: e.message } });
      }
      throw e;
    }
  }

  app.post("/recover/passkey/options", opts({ body: PasskeyJson }), (req, reply) =>
    passkeyJson(req, reply, (recoveryToken) => recovery.offerPasskey({ recoveryToken })),
  );

  app.post("/recover/passkey/add", opts({ body: PasskeyAnswer }), (req, reply) => {
    const b = req.body as { response: unknown; name?: string };
    return passkeyJson(req, reply, (recoveryToken) =>
      recovery.addPasskey({ recoveryToken, response: b.response as never, name: b.name, ip: req.ip }),
    );
  });

  app.get("/recover/authenticator", opts({ querystring: Query }), async (req, reply) => {
    const p = await current(req);
    if (!p) return gone(req, reply);
    const lang = langOf(req, p.language);
    if (!p.passwordSet) return reply.redirect(step("password", lang), 303);
    if (!p.devicesReviewed) return reply.redirect(step("devices", lang), 303);
    try {
      return await totpForm(req, reply, 200, p);
    } catch (e) {
      return otherwise(req, reply, e);
    }
  });

  app.post("/recover/authenticator", opts({ body: Body }), async (req, reply) => {
    const b = req.body as { csrf?: string; code?: unknown };
    if (!csrf.check(req, b.csrf)) return refused(req, reply);
    const p = await current(req);
    if (!p) return gone(req, reply);
    const lang = langOf(req, p.language);
    const code = (typeof b.code === "string" ? b.code : "").normalize("NFKC").replace(/\s/g, "").slice(0, 12);
    try {
      const { recoveryCodes } = await recovery.confirmTotp({ recoveryToken: p.token, code, ip: req.ip });
      // Shown once, on this answer to the post: never stored where a GET could show them again.
      return page(reply, 200, {
        lang,
        title: T.codesTitle[lang],
        children: (
          <>
            {progressLine(lang, 4)}
            <Notice tone="ok">
              <p>{T.codesIntro[lang]}</p>
            </Notice>
            <ol class="codes">
              {recoveryCodes.map((c) => (
                <li key={c}>{c}</li>
              ))}
            </ol>
            <Notice tone="warn">
              <p>{T.codesOnce[lang]}</p>
            </Notice>
            <Actions>
              <LinkButton href={step("finish", lang)}>{T.continue[lang]}</LinkButton>
            </Actions>
          </>
        ),
      });
    } catch (e) {
      if (e instanceof MamoriError && e.code === "code_invalid") {
        return totpForm(req, reply, 422, p, T.totpWrong[lang]);
      }
      if (e instanceof MamoriError && e.code === "totp_already_enrolled")
        return reply.redirect(step("finish", lang), 303);
      return otherwise(req, reply, e);
    }
  });

  // ---- 5. unfreeze ----------------------------------------------------------------------------------------------

  app.get("/recover/finish", opts({ querystring: Query }), async (req, reply) => {
    const p = await current(req);
    if (!p) return gone(req, reply);
    const lang = langOf(req, p.language);
    if (!p.passwordSet) return reply.redirect(step("password", lang), 303);
    if (!p.devicesReviewed) return reply.redirect(step("devices", lang), 303);
    const token = csrf.issue(req, reply);
    return page(reply, 200, {
      lang,
      title: T.finishTitle[lang],
      otherLangHref: step("finish", other(lang)),
      children: (
        <>
          {progressLine(lang, 5)}
          <p>{T.finishIntro[lang]}</p>
          <ul>
            <li>{T.donePassword[lang]}</li>
            <li>{T.doneDevices[lang]}</li>
            {p.passkeys > 0 ? <li>{s(lang, T.donePasskeys, { n: p.passkeys })}</li> : null}
            <li>{p.totpEnabled ? T.doneTotpOn[lang] : T.doneTotpOff[lang]}</li>
          </ul>
          <h2>{T.finishWillTitle[lang]}</h2>
          <ul>
            {T.finishWill[lang].map((l) => (
              <li key={l}>{l}</li>
            ))}
          </ul>
          <PostForm action="./finish" hidden={{ csrf: token, lang }}>
            <Actions>
              <Submit>{T.finishButton[lang]}</Submit>
            </Actions>
          </PostForm>
        </>
      ),
    });
  });

  app.post("/recover/finish", opts({ body: Body }), async (req, reply) => {
    const b = req.body as { csrf?: string };
    if (!csrf.check(req, b.csrf)) return refused(req, reply);
    const p = await current(req);
    if (!p) return gone(req, reply);
    const lang = langOf(req, p.language);
    try {
      await recovery.complete({ recoveryToken: p.token, ip: req.ip });
    } catch (e) {
      if (e instanceof MamoriError && e.code === "recovery_step_missing") {
        return reply.redirect(step(p.passwordSet ? "devices" : "password", lang), 303);
      }
      return otherwise(req, reply, e);
    }
    setToken(reply, "", 0);
    return page(reply, 200, {
      lang,
      title: T.doneTitle[lang],
      children: (
        <>
          <Notice tone="ok">
            <p>{s(lang, T.done)}</p>
            {p.totpEnabled ? <p>{T.doneTotp[lang]}</p> : null}
          </Notice>
          <p>{T.samePassword[lang]}</p>
          {site.storeUrl ? (
            <Actions>
              <LinkButton href={site.storeUrl}>{s(lang, T.toStore)}</LinkButton>
            </Actions>
          ) : null}
        </>
      ),
    });
  });
}
