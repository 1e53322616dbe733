import { Type } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ComponentChildren } from "preact";
import type { Http } from "../api/types.ts";
import type { RouteDeps } from "../route-deps.ts";
import { MamoriError } from "../shared/errors.ts";
import { sendErrorPage } from "../web/error-page.tsx";
import { Actions, Field, LinkButton, Notice, PostForm, Submit } from "../web/form.tsx";
import { fmt, type Lang, type Msg, pickLang } from "../web/i18n.ts";
import { Layout } from "../web/layout.tsx";
import { sendPage } from "../web/render.ts";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "./passwords.ts";

/**
 * The pages behind the links in emailed notices: "This wasn't me", undo an email change, set a new password.
 * GET never acts (mail scanners prefetch links): it reads the token's state and shows either the confirmation button
 * or what became of the link (already used, expired, not valid) with what to do next. The action is the POST.
 */

type Kind = "not_me" | "email_revert" | "reset_password" | "factor_reset_cancel";
type PageState = "invalid" | "active" | "used" | "expired";

// Every page: the two languages side by side; `{store}` is the store's name.
const T = {
  notMeTitle: { ja: "身に覚えのない操作を報告する", en: "Report activity that wasn't you" },
  notMeIntro: {
    ja: "お知らせメールの操作にお心当たりがない場合は、下のボタンを押してください。アカウントを次のように保護します。",
    en: "If you do not recognise the activity in the email, press the button below. We will protect your account:",
  },
  notMeWill: {
    ja: [
      "すべての端末からログアウトさせます。",
      "お知らせの操作以降に行われた変更（メールアドレス、電話番号、パスワード、2段階認証、お届け先、お支払い方法など）を元に戻します。",
      "その間に行われた注文をキャンセルします（支払い済みのものは返金します）。",
      "アカウントを凍結します。ご本人確認（アカウントの復旧）が終わるまで、誰もログインできなくなります。",
    ],
    en: [
      "Every device is signed out.",
      "Changes made since the activity in the email (email, phone, password, two-step verification, addresses, payment methods, …) are undone.",
      "Orders placed in that time are cancelled (payments already taken are refunded).",
      "The account is frozen: nobody can sign in until you have confirmed it is you (account recovery).",
    ],
  },
  nothingYet: {
    ja: "ボタンを押すまで、アカウントには何も変更されません。",
    en: "Nothing changes in your account until you press the button.",
  },
  notMeButton: { ja: "アカウントを保護する", en: "Protect my account" },
  notMeDoneTitle: { ja: "アカウントを保護しました", en: "Your account is protected" },
  notMeDoneIntro: {
    ja: "ご報告ありがとうございます。アカウントを保護する手続きを行いました。",
    en: "Thank you for telling us. We have protected your account:",
  },
  notMeDid: {
    ja: [
      "すべての端末からログアウトさせました。",
      "報告された操作以降の変更を元に戻し、その間の注文をキャンセルしました。",
      "アカウントを凍結しました。パスワードを知っている第三者も、ログインできません。",
      "行った対応の内容を、以前から登録されているメールアドレス（と電話番号）にお送りしました。",
    ],
    en: [
      "Every device was signed out.",
      "Changes made since the reported activity were undone, and orders placed in that time cancelled.",
      "The account is frozen: even someone who knows the password cannot sign in.",
      "What we did was sent to the addresses (and phone) registered before the activity.",
    ],
  },
  nextTitle: { ja: "次に行っていただくこと", en: "What to do next" },
  recoveryIntro: {
    ja: "アカウントを再び使うには、ご本人確認（アカウントの復旧）が必要です。パスワード再設定のメールは届きません。",
    en: "To use the account again, confirm that it is you (account recovery). No password reset email will be sent.",
  },
  recoverySteps: {
    ja: [
      "{store}のログイン画面で「アカウントの復旧」を選びます。",
      "以前から登録しているメールアドレスか電話番号を入力します。確認コードをお送りします。",
      "確認コードを入力し、新しいパスワードを設定して、ご自身の端末を確認すると、凍結が解除されます。",
    ],
    en: [
      'On {store}\'s sign-in page, choose "Recover my account".',
      "Enter an email address or phone number you registered before this happened. We will send you a code.",
      "Enter the code, set a new password and confirm which devices are yours: the account is then unfrozen.",
    ],
  },
  hostedSteps: {
    ja: [
      "下の「アカウントの復旧へ進む」を押します。",
      "以前から登録しているメールアドレスか電話番号を入力します。確認コードをお送りします。",
      "確認コードを入力し、新しいパスワードを設定して、ご自身の端末を確認すると、凍結が解除されます。",
    ],
    en: [
      'Press "Go to account recovery" below.',
      "Enter an email address or phone number you registered before this happened. We will send you a code.",
      "Enter the code, set a new password and confirm which devices are yours: the account is then unfrozen.",
    ],
  },
  recoveryButton: { ja: "アカウントの復旧へ進む", en: "Go to account recovery" },
  samePassword: {
    ja: "同じパスワードを他のサービスでもお使いの場合は、そちらも変更してください。",
    en: "If you use the same password anywhere else, change it there too.",
  },

  usedTitle: { ja: "このリンクはすでに使われています", en: "This link was already used" },
  notMeUsedFrozen: {
    ja: "このリンクによるアカウントの保護は、すでに完了しています。アカウントは現在も凍結されています。",
    en: "This link has already been used to protect your account. The account is still frozen.",
  },
  notMeUsed: {
    ja: "このリンクは一度しか使えません。もう一度押しても、何も起こりません。",
    en: "This link works only once; opening it again does nothing.",
  },
  stillWorried: {
    ja: "身に覚えのない操作がまだある場合は、最新のお知らせメールのリンクを使うか、{store}にお問い合わせください。",
    en: "If you still see activity that wasn't you, use the link in the latest notice, or contact {store}.",
  },
  expiredTitle: { ja: "このリンクは有効期限が切れています", en: "This link has expired" },
  notMeExpired: {
    ja: "お知らせメールのリンクの有効期限が過ぎています。",
    en: "The link in this notice is no longer valid.",
  },
  expiredNext: {
    ja: "身に覚えのない操作がある場合は、{store}でパスワードを変更し、{store}にお問い合わせください。",
    en: "If there is activity that wasn't you, change your password at {store} and contact {store}.",
  },
  invalidTitle: { ja: "このリンクは正しくありません", en: "This link is not valid" },
  invalidBody: {
    ja: "リンクが途中で切れているか、一部が変わっている可能性があります。メールに記載されたリンクを、最後まで正確にコピーしてブラウザに貼り付けてください。",
    en: "The link may have been cut off or changed. Copy the whole link from the email and paste it into your browser.",
  },
  invalidNext: {
    ja: "それでも開けない場合は、{store}にお問い合わせください。",
    en: "If it still does not open, contact {store}.",
  },

  revertTitle: { ja: "メールアドレスの変更を取り消す", en: "Undo the change of your email address" },
  revertIntro: {
    ja: "この変更にお心当たりがない場合は、下のボタンを押してください。",
    en: "If you did not make this change, press the button below.",
  },
  revertOld: { ja: "元に戻すアドレス", en: "Address restored" },
  revertNew: { ja: "削除するアドレス", en: "Address removed" },
  revertWill: {
    ja: [
      "メールアドレスを元に戻し、変更後のアドレスをアカウントから削除します。",
      "すべての端末からログアウトさせます。",
      "新しいパスワードを設定するまで、アカウントをロックします。元のアドレスに、パスワード再設定のリンクをお送りします。",
    ],
    en: [
      "Your previous address is restored and the new one removed from the account.",
      "Every device is signed out.",
      "The account is locked until you set a new password; a link to do so goes to your previous address.",
    ],
  },
  revertButton: { ja: "変更を取り消してロックする", en: "Undo the change and lock" },
  revertDoneTitle: { ja: "メールアドレスの変更を取り消しました", en: "The email change was undone" },
  revertDid: {
    ja: [
      "メールアドレスを {email} に戻しました。",
      "すべての端末からログアウトさせました。",
      "アカウントをロックしました。",
    ],
    en: ["Your address is {email} again.", "Every device was signed out.", "The account is locked."],
  },
  revertNext: {
    ja: "{email} 宛てに、パスワード再設定のリンクをお送りしました。リンクから新しいパスワードを設定すると、ロックが解除されます。リンクの有効期限は30分です。期限が切れた場合は、{store}のログイン画面の「パスワードをお忘れの方」から、もう一度お申し込みください。",
    en: 'A link to set a new password was sent to {email}. Setting a new password unlocks the account. The link is valid for 30 minutes; if it expires, ask for a new one with "Forgot your password?" on {store}\'s sign-in page.',
  },
  revertUsed: {
    ja: "このメールアドレスの変更は、すでに取り消されています。",
    en: "This email change has already been undone.",
  },
  revertUsedNext: {
    ja: "パスワード再設定のメールが届いていない場合や、期限が切れた場合は、{store}のログイン画面の「パスワードをお忘れの方」からお申し込みください。",
    en: 'If the email to set a new password did not arrive or has expired, use "Forgot your password?" on {store}\'s sign-in page.',
  },
  revertExpired: {
    ja: "取り消しのリンクは、変更から30日間有効です。期限が過ぎたため、このリンクでは取り消せません。",
    en: "The link to undo the change is valid for 30 days after it; it can no longer be used.",
  },

  resetTitle: { ja: "新しいパスワードの設定", en: "Set a new password" },
  resetFor: { ja: "アカウント", en: "Account" },
  newPassword: { ja: "新しいパスワード", en: "New password" },
  rules: {
    ja: [
      "8文字以上、256文字以内",
      "過去に流出したパスワードは使えません",
      "推測されにくいもの（よくある単語や名前、メールアドレスやショップ名から作ったものは使えません）",
      "最近使った5つのパスワードは使えません",
    ],
    en: [
      "8 to 256 characters",
      "No password known from leaks",
      "Hard to guess (common words, names, or words from your email address or the shop's name are refused)",
      "None of your last 5 passwords",
    ],
  },
  rulesTip: {
    ja: "おすすめ: 関係のない単語を4つ以上つなげた、長めのパスワード",
    en: "Tip: four or more unrelated words make a long, strong password",
  },
  resetButton: { ja: "パスワードを設定する", en: "Set the password" },
  resetFailed: { ja: "パスワードを設定できませんでした。", en: "The password was not set." },
  resetDoneTitle: { ja: "新しいパスワードを設定しました", en: "Your new password is set" },
  resetDone: {
    ja: "すべての端末からログアウトしました。新しいパスワードで、もう一度ログインしてください。",
    en: "Every device was signed out. Sign in again with your new password.",
  },
  toStore: { ja: "{store}へ戻る", en: "Back to {store}" },
  resetUsed: {
    ja: "パスワード再設定のリンクは一度しか使えず、パスワードを変更したときにも使えなくなります。パスワードを設定済みの場合は、新しいパスワードでログインしてください。",
    en: "A reset link works once, and stops working when the password is changed. If you have set your password, sign in with it.",
  },
  resetNew: {
    ja: "もう一度再設定する場合は、{store}のログイン画面の「パスワードをお忘れの方」から、新しいリンクをお申し込みください。",
    en: 'To reset it again, ask for a new link with "Forgot your password?" on {store}\'s sign-in page.',
  },
  resetExpired: {
    ja: "パスワード再設定のリンクの有効期限（30分）が過ぎています。",
    en: "Password reset links are valid for 30 minutes; this one has expired.",
  },
  cancelResetTitle: { ja: "認証アプリの解除申請を取り消す", en: "Cancel the removal of your authenticator app" },
  cancelResetIntro: {
    ja: "お使いのアカウントで、認証アプリ（2段階認証）を解除する申請がありました。ご自身の申請でない場合は、下のボタンを押してください。",
    en: "Someone asked to remove the authenticator app (two-step verification) from your account. If it was not you, press the button below.",
  },
  cancelResetWill: {
    ja: [
      "解除の申請を取り消します。認証アプリは、これまでどおりログインに必要です。",
      "申請した人はパスワードを知っている可能性があります。取り消したあと、パスワードを変更してください。",
    ],
    en: [
      "The request is cancelled: the authenticator app stays required to sign in.",
      "Whoever asked may know your password: change it after cancelling.",
    ],
  },
  cancelResetButton: { ja: "解除申請を取り消す", en: "Cancel the removal" },
  cancelResetDoneTitle: { ja: "解除申請を取り消しました", en: "The removal was cancelled" },
  cancelResetDone: {
    ja: "認証アプリはこれまでどおり有効です。申請した人はパスワードを知っている可能性があるため、{store}でパスワードを変更してください。",
    en: "Your authenticator app stays on. Whoever asked may know your password: change it at {store}.",
  },
  cancelResetUsed: {
    ja: "この解除申請は、すでに取り消されたか、完了しています。認証アプリが使えなくなっている場合は、{store}にお問い合わせください。",
    en: "This request was already cancelled or has taken effect. If your authenticator app no longer works, contact {store}.",
  },
  cancelResetExpired: {
    ja: "このリンクの有効期限が過ぎています。認証アプリが使えなくなっている場合は、{store}にお問い合わせください。",
    en: "This link has expired. If your authenticator app no longer works, contact {store}.",
  },
  frozenTitle: { ja: "アカウントは保護されています", en: "Your account is protected" },
  frozenBody: {
    ja: "このアカウントは、身に覚えのない操作の報告により凍結されています。パスワードの再設定ではなく、ご本人確認（アカウントの復旧）で再びお使いいただけます。",
    en: "This account was frozen after activity that wasn't you was reported. It comes back through account recovery, not a password reset.",
  },
} satisfies Record<string, Msg | Readonly<Record<Lang, readonly string[]>>>;

const PASSWORD_ERRORS: Record<string, Msg> = {
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
};

const PATHS: Record<Kind, string> = {
  not_me: "/links/not-me",
  email_revert: "/links/email-revert",
  reset_password: "/links/reset-password",
  factor_reset_cancel: "/links/cancel-factor-reset",
};
// Pages live at /links/<name>; forms and links are relative so a path prefix in MAMORI_PUBLIC_URL still works.
const ROOT = "../";
const relative = (kind: Kind) => `./${PATHS[kind].slice("/links/".length)}`;

export function registerLinkPages(app: Http, deps: RouteDeps) {
  const { identity, site } = deps;
  // Every field optional and extra ones allowed: a garbled link or post is answered with a page by the handler, not
  // with a validation error.
  const Query = Type.Object({ t: Type.Optional(Type.String()), lang: Type.Optional(Type.String()) });
  const Body = Type.Object({
    t: Type.Optional(Type.String()),
    lang: Type.Optional(Type.String()),
    password: Type.Optional(Type.String()),
  });
  const opts = (schema: Record<string, unknown>) => ({
    config: { auth: "public" as const },
    schema: { hide: true, ...schema },
  });

  function page(
    reply: FastifyReply,
    status: number,
    v: { lang: Lang; title: string; otherLangHref?: string | undefined; children: ComponentChildren },
  ) {
    return sendPage(
      reply,
      status,
      <Layout lang={v.lang} site={site} root={ROOT} title={v.title} otherLangHref={v.otherLangHref}>
        {v.children}
      </Layout>,
      { imageUrls: site.logoUrl ? [site.logoUrl] : [] },
    );
  }

  const s = (lang: Lang, m: Msg) => fmt(m[lang], { store: site.storeName });
  const list = (lang: Lang, m: Readonly<Record<Lang, readonly string[]>>, vars: Record<string, string> = {}) => (
    <ul>
      {m[lang].map((line) => (
        <li key={line}>{fmt(line, { store: site.storeName, ...vars })}</li>
      ))}
    </ul>
  );

  /**
   * The way back after a lockdown: the store's own recovery page when it has one (MAMORI_STORE_RECOVERY_URL), else
   * Mamori's hosted recovery (/recover/, response/pages.tsx) in the page's language.
   */
  function recoveryBlock(lang: Lang) {
    const steps = site.recoveryUrl ? T.recoverySteps : T.hostedSteps;
    return (
      <>
        <h2>{T.nextTitle[lang]}</h2>
        <p>{T.recoveryIntro[lang]}</p>
        <ol>
          {steps[lang].map((line) => (
            <li key={line}>{fmt(line, { store: site.storeName })}</li>
          ))}
        </ol>
        <Actions>
          <LinkButton href={site.recoveryUrl ?? `${ROOT}recover/?lang=${lang}`}>{T.recoveryButton[lang]}</LinkButton>
        </Actions>
        <p>{T.samePassword[lang]}</p>
      </>
    );
  }

  function backToStore(lang: Lang) {
    return site.storeUrl ? (
      <Actions>
        <LinkButton href={site.storeUrl} secondary>
          {s(lang, T.toStore)}
        </LinkButton>
      </Actions>
    ) : null;
  }

  function languageOf(req: FastifyRequest, account?: Lang): Lang {
    const q = (req.query ?? {}) as { lang?: unknown };
    const b = (req.body ?? {}) as { lang?: unknown };
    return pickLang({
      chosen: b.lang ?? q.lang,
      account: account ?? null,
      acceptLanguage: req.headers["accept-language"],
    });
  }

  function otherLang(kind: Kind, token: string, lang: Lang) {
    return `${relative(kind)}?t=${encodeURIComponent(token)}&lang=${lang === "ja" ? "en" : "ja"}`;
  }

  /** The page for a link that cannot act: not valid, expired, used (per kind), or a frozen account for a reset. */
  function deadLink(
    reply: FastifyReply,
    kind: Kind,
    state: Exclude<PageState, "active"> | "frozen",
    lang: Lang,
    accountStatus: string | null,
    otherLangHref?: string,
  ) {
    if (state === "invalid") {
      return page(reply, 400, {
        lang,
        title: T.invalidTitle[lang],
        otherLangHref,
        children: (
          <>
            <p>{T.invalidBody[lang]}</p>
            <p>{s(lang, T.invalidNext)}</p>
          </>
        ),
      });
    }
    if (state === "frozen") {
      return page(reply, 423, {
        lang,
        title: T.frozenTitle[lang],
        otherLangHref,
        children: (
          <>
            <p>{T.frozenBody[lang]}</p>
            {recoveryBlock(lang)}
          </>
        ),
      });
    }
    const title = state === "used" ? T.usedTitle[lang] : T.expiredTitle[lang];
    // 410 Gone: the link existed and will never work again.
    const status = 410;
    if (kind === "not_me") {
      const frozen = accountStatus === "frozen";
      return page(reply, status, {
        lang,
        title,
        otherLangHref,
        children:
          state === "used" && frozen ? (
            <>
              <Notice tone="ok">
                <p>{T.notMeUsedFrozen[lang]}</p>
              </Notice>
              {recoveryBlock(lang)}
            </>
          ) : frozen ? (
            <>
              <p>{T.notMeExpired[lang]}</p>
              {recoveryBlock(lang)}
            </>
          ) : (
            <>
              <p>{state === "used" ? T.notMeUsed[lang] : T.notMeExpired[lang]}</p>
              <p>{s(lang, state === "used" ? T.stillWorried : T.expiredNext)}</p>
            </>
          ),
      });
    }
    if (kind === "factor_reset_cancel") {
      return page(reply, status, {
        lang,
        title,
        otherLangHref,
        children: <p>{s(lang, state === "used" ? T.cancelResetUsed : T.cancelResetExpired)}</p>,
      });
    }
    if (kind === "email_revert") {
      return page(reply, status, {
        lang,
        title,
        otherLangHref,
        children:
          state === "used" ? (
            <>
              <p>{T.revertUsed[lang]}</p>
              <p>{s(lang, T.revertUsedNext)}</p>
            </>
          ) : (
            <>
              <p>{T.revertExpired[lang]}</p>
              <p>{s(lang, T.invalidNext)}</p>
            </>
          ),
      });
    }
    return page(reply, status, {
      lang,
      title,
      otherLangHref,
      children: (
        <>
          <p>{state === "used" ? T.resetUsed[lang] : T.resetExpired[lang]}</p>
          <p>{s(lang, T.resetNew)}</p>
        </>
      ),
    });
  }

  function resetForm(
    reply: FastifyReply,
    status: number,
    v: { lang: Lang; token: string; sentTo?: string | undefined; error?: string; chosenLang?: string | undefined },
  ) {
    const { lang } = v;
    return page(reply, status, {
      lang,
      title: T.resetTitle[lang],
      otherLangHref: v.error ? undefined : otherLang("reset_password", v.token, lang),
      children: (
        <>
          {v.error ? (
            <Notice tone="error" alert>
              <p>{T.resetFailed[lang]}</p>
            </Notice>
          ) : null}
          {v.sentTo ? (
            <dl class="facts">
              <dt>{T.resetFor[lang]}</dt>
              <dd>{v.sentTo}</dd>
            </dl>
          ) : null}
          <PostForm action={relative("reset_password")} hidden={{ t: v.token, lang: v.chosenLang }}>
            <Field
              name="password"
              type="password"
              label={T.newPassword[lang]}
              autocomplete="new-password"
              required
              minLength={MIN_PASSWORD_LENGTH}
              maxLength={MAX_PASSWORD_LENGTH}
              error={v.error}
              hint={
                <>
                  <ul>
                    {T.rules[lang].map((r) => (
                      <li key={r}>{r}</li>
                    ))}
                  </ul>
                  <p>{T.rulesTip[lang]}</p>
                </>
              }
            />
            <Actions>
              <Submit>{T.resetButton[lang]}</Submit>
            </Actions>
          </PostForm>
        </>
      ),
    });
  }

  /** The GET of every link: the confirmation (or the reset form) while the token is good, else what became of it. */
  async function show(req: FastifyRequest, reply: FastifyReply, kind: Kind) {
    const q = req.query as { t?: string; lang?: string };
    const token = typeof q.t === "string" ? q.t : "";
    const peek = await identity.peekLink(kind, token);
    const lang = languageOf(req, peek.state === "invalid" ? undefined : peek.language);
    const chosenLang = q.lang === "ja" || q.lang === "en" ? q.lang : undefined;
    const other = token ? otherLang(kind, token, lang) : undefined;
    if (peek.state !== "active") {
      return deadLink(reply, kind, peek.state, lang, peek.state === "invalid" ? null : peek.accountStatus, other);
    }
    if (kind === "reset_password") {
      if (peek.accountStatus === "frozen") return deadLink(reply, kind, "frozen", lang, "frozen", other);
      return resetForm(reply, 200, { lang, token, sentTo: peek.emails.sentTo, chosenLang });
    }
    if (kind === "factor_reset_cancel") {
      return page(reply, 200, {
        lang,
        title: T.cancelResetTitle[lang],
        otherLangHref: other,
        children: (
          <>
            <p>{T.cancelResetIntro[lang]}</p>
            {list(lang, T.cancelResetWill)}
            <PostForm action={relative(kind)} hidden={{ t: token, lang: chosenLang }}>
              <Actions>
                <Submit>{T.cancelResetButton[lang]}</Submit>
              </Actions>
            </PostForm>
          </>
        ),
      });
    }
    if (kind === "not_me") {
      return page(reply, 200, {
        lang,
        title: T.notMeTitle[lang],
        otherLangHref: other,
        children: (
          <>
            <p>{T.notMeIntro[lang]}</p>
            {list(lang, T.notMeWill)}
            <p>{T.nothingYet[lang]}</p>
            <PostForm action={relative(kind)} hidden={{ t: token, lang: chosenLang }}>
              <Actions>
                <Submit>{T.notMeButton[lang]}</Submit>
              </Actions>
            </PostForm>
          </>
        ),
      });
    }
    return page(reply, 200, {
      lang,
      title: T.revertTitle[lang],
      otherLangHref: other,
      children: (
        <>
          <p>{T.revertIntro[lang]}</p>
          {peek.emails.old && peek.emails.new ? (
            <dl class="facts">
              <dt>{T.revertOld[lang]}</dt>
              <dd>{peek.emails.old}</dd>
              <dt>{T.revertNew[lang]}</dt>
              <dd>{peek.emails.new}</dd>
            </dl>
          ) : null}
          {list(lang, T.revertWill)}
          <p>{T.nothingYet[lang]}</p>
          <PostForm action={relative(kind)} hidden={{ t: token, lang: chosenLang }}>
            <Actions>
              <Submit>{T.revertButton[lang]}</Submit>
            </Actions>
          </PostForm>
        </>
      ),
    });
  }

  /**
   * The POST of every link. The token's state is read first only to choose the page's language and, for a link that
   * can no longer act, the right page; the action itself re-checks and uses the token atomically.
   */
  async function act(req: FastifyRequest, reply: FastifyReply, kind: Kind) {
    const b = (req.body ?? {}) as { t?: unknown; password?: unknown; lang?: unknown };
    const token = typeof b.t === "string" ? b.t : "";
    const chosenLang = b.lang === "ja" || b.lang === "en" ? b.lang : undefined;
    const peek = await identity.peekLink(kind, token);
    const lang = languageOf(req, peek.state === "invalid" ? undefined : peek.language);
    const status = peek.state === "invalid" ? null : peek.accountStatus;
    const ctx = { ip: req.ip, userAgent: String(req.headers["user-agent"] ?? ""), channel: "web" as const };
    try {
      if (kind === "not_me") {
        await identity.reportNotMe({ token, context: ctx });
        return page(reply, 200, {
          lang,
          title: T.notMeDoneTitle[lang],
          children: (
            <>
              <Notice tone="ok">
                <p>{T.notMeDoneIntro[lang]}</p>
                {list(lang, T.notMeDid)}
              </Notice>
              {recoveryBlock(lang)}
            </>
          ),
        });
      }
      if (kind === "factor_reset_cancel") {
        await identity.cancelFactorReset({ token, context: ctx });
        return page(reply, 200, {
          lang,
          title: T.cancelResetDoneTitle[lang],
          children: (
            <>
              <Notice tone="ok">
                <p>{s(lang, T.cancelResetDone)}</p>
              </Notice>
              {backToStore(lang)}
            </>
          ),
        });
      }
      if (kind === "email_revert") {
        const { restoredEmail } = await identity.revertEmailChange({ token, context: ctx });
        return page(reply, 200, {
          lang,
          title: T.revertDoneTitle[lang],
          children: (
            <>
              <Notice tone="ok">{list(lang, T.revertDid, { email: restoredEmail })}</Notice>
              <h2>{T.nextTitle[lang]}</h2>
              <p>{fmt(T.revertNext[lang], { email: restoredEmail, store: site.storeName })}</p>
            </>
          ),
        });
      }
      const password = typeof b.password === "string" ? b.password : "";
      await identity.resetPassword({ token, newPassword: password, context: ctx });
      return page(reply, 200, {
        lang,
        title: T.resetDoneTitle[lang],
        children: (
          <>
            <Notice tone="ok">
              <p>{T.resetDone[lang]}</p>
            </Notice>
            {backToStore(lang)}
          </>
        ),
      });
    } catch (e) {
      if (!(e instanceof MamoriError)) throw e;
      const passwordError = PASSWORD_ERRORS[e.code];
      if (kind === "reset_password" && passwordError) {
        const sentTo = peek.state === "invalid" ? undefined : peek.emails.sentTo;
        return resetForm(reply, 422, { lang, token, sentTo, error: passwordError[lang], chosenLang });
      }
      if (e.code === "account_frozen") return deadLink(reply, kind, "frozen", lang, "frozen");
      if (e.code === "link_invalid" || e.code === "reset_token_invalid") {
        // Read again: the click that lost a race sees the link as used by the one that won.
        const now = await identity.peekLink(kind, token);
        return deadLink(
          reply,
          kind,
          now.state === "active" ? "used" : now.state,
          lang,
          now.state === "invalid" ? status : now.accountStatus,
        );
      }
      return sendErrorPage(req, reply, e.httpStatus, site);
    }
  }

  for (const kind of ["not_me", "email_revert", "reset_password", "factor_reset_cancel"] as const) {
    app.get(PATHS[kind], opts({ querystring: Query }), (req, reply) => show(req, reply, kind));
    app.post(PATHS[kind], opts({ body: Body }), (req, reply) => act(req, reply, kind));
  }
}
