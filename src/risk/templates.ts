import type { Definition } from "../notify/templates.ts";

const lines = (...l: string[]) => l.join("\n");

/** Notices of the risk module (ja/en); joined into the one registry in app.ts. */
export const riskTemplates = {
  // "Block sign-ins from abroad" is a door: opening it is a security change the owner must hear of (seed 004).
  sign_in_countries_changed: {
    security: true,
    vars: ["countries"],
    ja: {
      subject: "ログインを許可する国・地域が変更されました",
      body: lines("お使いのアカウントでログインを許可する国・地域が変更されました。", "", "変更後: {{countries}}"),
    },
    en: {
      subject: "The countries your account may be signed in from were changed",
      body: lines("The countries your account may be signed in from were changed.", "", "Now: {{countries}}"),
    },
  },
  // Seed 003: sign-in codes the owner never asked for arrived, and nothing followed. A correct password followed by an
  // abandoned second factor means someone else has the password.
  risk_unfinished_second_factor: {
    security: true,
    vars: ["at", "ip", "country", "network", "device"],
    ja: {
      subject: "【重要】パスワードが第三者に知られている可能性があります",
      body: lines(
        "お使いのアカウントに、正しいパスワードでログインが試みられましたが、2段階認証（確認コードの入力）が完了しませんでした。",
        "",
        "日時: {{at}}",
        "国・地域: {{country}}",
        "ネットワーク: {{network}}",
        "IPアドレス: {{ip}}",
        "端末: {{device}}",
        "",
        "ご自身の操作でない場合、パスワードが第三者に知られています。すぐにパスワードを変更してください。",
        "他のサービスで同じパスワードをお使いの場合は、そちらも変更してください。",
        "確認コードを他人に教えないでください。",
      ),
    },
    en: {
      subject: "Someone may have your password — change it",
      body: lines(
        "Someone signed in to your account with the correct password but did not complete the second step (the code).",
        "",
        "Time: {{at}}",
        "Country: {{country}}",
        "Network: {{network}}",
        "IP address: {{ip}}",
        "Device: {{device}}",
        "",
        "If this was not you, someone else knows your password: change it now, and anywhere else you use it.",
        "Never give the code to anyone.",
      ),
    },
  },
} satisfies Record<string, Definition>;
