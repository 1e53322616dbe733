import type { Definition } from "../notify/templates.ts";

const lines = (...l: string[]) => l.join("\n");

/** Notices of the admin module (ja/en); joined into the one registry in app.ts. */
export const adminTemplates = {
  // The staff member's free-text reason stays in the logs: it is written for colleagues, not for the customer.
  sessions_ended_by_support: {
    security: true,
    vars: ["at"],
    ja: {
      subject: "サポート担当者がすべての端末をログアウトさせました",
      body: lines(
        "{{storeName}}のサポート担当者が、お客様のアカウントをすべての端末からログアウトさせました（{{at}}）。",
        "アカウントはそのままお使いいただけます。もう一度ログインしてください。",
        "",
        "サポートへのご依頼に心当たりがない場合は、下のリンクからお知らせください。",
      ),
    },
    en: {
      subject: "Support signed your account out of every device",
      body: lines(
        "{{storeName}}'s support signed your account out of every device ({{at}}).",
        "Your account is otherwise unchanged; sign in again to continue.",
        "",
        "If you did not ask support for this, tell us with the link below.",
      ),
    },
  },
} satisfies Record<string, Definition>;
