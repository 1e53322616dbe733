import type { Definition } from "../notify/templates.ts";

const lines = (...l: string[]) => l.join("\n");

/** Notices of the response module (ja/en); joined into the one registry in app.ts. */
export const responseTemplates = {
  account_locked_down: {
    security: false,
    vars: ["since", "summary", "recoveryUrl"],
    ja: {
      subject: "アカウントを保護しました",
      body: lines(
        "お使いのアカウントで第三者による不正な操作が確認されたため、アカウントを保護しました。",
        "",
        "・すべての端末をログアウトさせました",
        "・{{since}}以降の変更（メールアドレス、電話番号、パスワード、2段階認証、お届け先、お支払い方法など）を元に戻しました",
        "・その間に行われた注文をキャンセルし、請求は行いません（決済済みのものは返金します）",
        "",
        "{{summary}}",
        "",
        "アカウントを再び使うには、次の「アカウントの復旧」ページを開き、このアドレスを入力してください。確認コードをお送りします。パスワード再設定のメールは届きません。",
        "{{recoveryUrl}}",
      ),
    },
    en: {
      subject: "We have secured your account",
      body: lines(
        "Someone else was acting in your account, so we have secured it:",
        "",
        "- every device was signed out;",
        "- changes made since {{since}} (email, phone, password, two-step verification, addresses, payment methods, …) were undone;",
        "- orders placed in that time were cancelled and will not be charged (payments already taken are refunded).",
        "",
        "{{summary}}",
        "",
        "To use the account again, open this account recovery page and enter this address; we will send you a code. No password reset mail will come.",
        "{{recoveryUrl}}",
      ),
    },
  },
  recovery_code: {
    security: false,
    vars: ["code"],
    ja: {
      subject: "アカウント復旧の確認コード",
      body: lines("アカウント復旧の確認コード: {{code}}", "このコードは15分間有効です。誰にも教えないでください。"),
    },
    en: {
      subject: "Your account recovery code",
      body: lines("Your account recovery code: {{code}}", "It is valid for 15 minutes. Never share it with anyone."),
    },
  },
  account_recovered: {
    security: true,
    vars: ["at"],
    ja: {
      subject: "アカウントが復旧しました",
      body: "新しいパスワードが設定され、アカウントの保護が解除されました（{{at}}）。",
    },
    en: {
      subject: "Your account was recovered",
      body: "A new password was set and your account was released from protection ({{at}}).",
    },
  },
} satisfies Record<string, Definition>;
