import type { Definition } from "../notify/templates.ts";

const lines = (...l: string[]) => l.join("\n");

/** Notices of the identity module added with the sign-in hardening (ja/en); merged into notify/templates.ts. */
export const identityTemplates = {
  // Issue 14: a right password that was refused (or challenged from somewhere new) is the owner's cue to change it.
  signin_refused_right_password: {
    security: true,
    vars: ["at", "ip", "country", "network", "device"],
    ja: {
      subject: "【重要】正しいパスワードでのログインをブロックしました",
      body: lines(
        "お使いのアカウントに、これまでと異なる場所または端末から、正しいパスワードでログインが試みられました。",
        "安全のため、このログインはブロックしました。",
        "",
        "日時: {{at}}",
        "国・地域: {{country}}",
        "ネットワーク: {{network}}",
        "IPアドレス: {{ip}}",
        "端末: {{device}}",
        "",
        "ご自身の操作でない場合、パスワードが第三者に知られています。すぐにパスワードを変更してください。",
        "他のサービスで同じパスワードをお使いの場合は、そちらも変更してください。",
      ),
    },
    en: {
      subject: "We blocked a sign-in that used your correct password",
      body: lines(
        "Someone tried to sign in to your account with the correct password, from a place or device we have not seen",
        "before. We blocked it.",
        "",
        "Time: {{at}}",
        "Country: {{country}}",
        "Network: {{network}}",
        "IP address: {{ip}}",
        "Device: {{device}}",
        "",
        "If this was not you, someone else knows your password: change it now, and anywhere else you use it.",
      ),
    },
  },
  // A sign-in code was asked for after a wrong password: none is sent, and the mailbox owner is told why.
  signin_code_not_sent: {
    security: false,
    vars: ["at"],
    ja: {
      subject: "ログイン用の確認コードは送信していません",
      body: lines(
        "お使いのアカウントへのログインで確認コードが求められましたが、入力されたパスワードが正しくなかったため、コードは送信していません（{{at}}）。",
        "",
        "ご自身の操作であれば、最初からログインし直してください。お心当たりがない場合、対応は不要です。",
      ),
    },
    en: {
      subject: "We did not send a sign-in code",
      body: lines(
        "A sign-in code for your account was asked for, but the password entered was wrong, so no code was sent ({{at}}).",
        "",
        "If this was you, start the sign-in again. If not, there is nothing to do.",
      ),
    },
  },
  signup_code: {
    security: false,
    vars: ["code", "expiresMinutes"],
    ja: {
      subject: "アカウント登録の確認コード",
      body: lines(
        "アカウント登録の確認コードは次のとおりです。",
        "",
        "{{code}}",
        "",
        "{{expiresMinutes}}分間有効です。ご自身で登録していない場合は、このメールを破棄してください。",
      ),
    },
    en: {
      subject: "Your sign-up code",
      body: lines(
        "Your sign-up code is:",
        "",
        "{{code}}",
        "",
        "It is valid for {{expiresMinutes}} minutes. If you did not sign up, ignore this message.",
      ),
    },
  },
  // Sign-up answers the same for a taken address; the truth goes to the address.
  signup_address_taken: {
    security: false,
    vars: ["at"],
    ja: {
      subject: "このメールアドレスはすでに登録されています",
      body: lines(
        "このメールアドレスで新しいアカウントの登録が試みられましたが、このアドレスにはすでにアカウントがあります（{{at}}）。",
        "",
        "ご自身の操作であれば、ログインするか、パスワードをお忘れの場合はパスワードを再設定してください。",
        "お心当たりがない場合、対応は不要です。アカウントは変更されていません。",
      ),
    },
    en: {
      subject: "This email address already has an account",
      body: lines(
        "Someone tried to create a new account with this email address, which already has one ({{at}}).",
        "",
        "If this was you, sign in, or reset your password if you have forgotten it.",
        "If not, there is nothing to do: the account was not changed.",
      ),
    },
  },
  // A reset asked for an address without an account answers the same; the truth goes to the address.
  password_reset_no_account: {
    security: false,
    vars: ["at"],
    ja: {
      subject: "パスワード再設定のご依頼について",
      body: lines(
        "このメールアドレスでパスワードの再設定が依頼されましたが、このアドレスで登録されたアカウントはありません（{{at}}）。",
        "",
        "別のメールアドレスで登録された可能性があります。お心当たりがない場合、対応は不要です。",
      ),
    },
    en: {
      subject: "About your password reset request",
      body: lines(
        "A password reset was asked for this email address, but no account uses it ({{at}}).",
        "",
        "You may have signed up with another address. If you did not ask, there is nothing to do.",
      ),
    },
  },
  session_limit_reached: {
    security: true,
    vars: ["device", "limit"],
    ja: {
      subject: "古いログインを終了しました",
      body: lines(
        "同時にログインできる端末の上限（{{limit}}）を超えたため、最も古いログイン（{{device}}）を終了しました。",
      ),
    },
    en: {
      subject: "We ended your oldest sign-in",
      body: lines(
        "Your account reached its limit of {{limit}} signed-in devices, so we ended the oldest sign-in ({{device}}).",
      ),
    },
  },
  step_up_code: {
    security: false,
    vars: ["code"],
    ja: {
      subject: "本人確認のコード",
      body: lines(
        "アカウントの重要な操作のための確認コードは次のとおりです。",
        "",
        "{{code}}",
        "",
        "10分間有効です。このコードを他人に教えないでください。",
      ),
    },
    en: {
      subject: "Your confirmation code",
      body: lines(
        "Your code to confirm a sensitive change to your account is:",
        "",
        "{{code}}",
        "",
        "It is valid for 10 minutes. Never give it to anyone.",
      ),
    },
  },
  // Issue 19: losing the authenticator goes through a wait a mailbox alone cannot shorten, told to every address.
  factor_reset_requested: {
    security: true,
    vars: ["at", "dueAt", "cancelUrl", "country", "device"],
    ja: {
      subject: "【重要】認証アプリの解除が申請されました",
      body: lines(
        "お使いのアカウントで、認証アプリ（2段階認証）を解除する申請がありました。",
        "",
        "申請日時: {{at}}",
        "国・地域: {{country}}",
        "端末: {{device}}",
        "解除予定: {{dueAt}}",
        "",
        "解除予定日時までは何も変わりません。ご自身の申請でない場合は、次のリンクから取り消してください:",
        "{{cancelUrl}}",
        "認証アプリでログインした場合も、申請は自動的に取り消されます。",
      ),
    },
    en: {
      subject: "Removal of your authenticator app was requested",
      body: lines(
        "Someone asked to remove the authenticator app (two-step verification) from your account.",
        "",
        "Requested: {{at}}",
        "Country: {{country}}",
        "Device: {{device}}",
        "Takes effect: {{dueAt}}",
        "",
        "Nothing changes until then. If this was not you, cancel it here:",
        "{{cancelUrl}}",
        "Signing in with the authenticator app also cancels the request.",
      ),
    },
  },
  factor_reset_cancelled: {
    security: true,
    vars: ["at"],
    ja: {
      subject: "認証アプリの解除申請を取り消しました",
      body: "認証アプリの解除申請を取り消しました（{{at}}）。2段階認証はこれまでどおり有効です。",
    },
    en: {
      subject: "The removal of your authenticator app was cancelled",
      body: "The request to remove your authenticator app was cancelled ({{at}}). Two-step verification stays on.",
    },
  },
} satisfies Record<string, Definition>;
