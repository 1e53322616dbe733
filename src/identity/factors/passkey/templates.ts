import type { Definition } from "../../../notify/templates.ts";

const lines = (...l: string[]) => l.join("\n");

/** The passkey factor's notices (ja/en), joined into the registry by app.ts. Both carry "This wasn't me". */
export const passkeyTemplates = {
  passkey_added: {
    security: true,
    vars: ["name", "at"],
    ja: {
      subject: "【重要】パスキーが追加されました",
      body: lines(
        "お使いのアカウントにパスキー「{{name}}」が追加されました（{{at}}）。",
        "このパスキーがあれば、パスワードなしでログインできます。",
        "",
        "ご自身の操作でない場合は、すぐに下のリンクからお知らせください。",
      ),
    },
    en: {
      subject: "A passkey was added to your account",
      body: lines(
        "The passkey “{{name}}” was added to your account ({{at}}).",
        "Whoever holds it can sign in without a password.",
        "",
        "If this was not you, tell us now with the link below.",
      ),
    },
  },
  passkey_removed: {
    security: true,
    vars: ["name", "at"],
    ja: {
      subject: "パスキーが削除されました",
      body: lines(
        "お使いのアカウントからパスキー「{{name}}」が削除されました（{{at}}）。",
        "",
        "ご自身の操作でない場合は、すぐに下のリンクからお知らせください。",
      ),
    },
    en: {
      subject: "A passkey was removed from your account",
      body: lines(
        "The passkey “{{name}}” was removed from your account ({{at}}).",
        "",
        "If this was not you, tell us now with the link below.",
      ),
    },
  },
} satisfies Record<string, Definition>;
