import { commerceTemplates } from "../commerce/templates.ts";
import { responseTemplates } from "../response/templates.ts";
import { riskTemplates } from "../risk/templates.ts";

/**
 * Notice texts, plain text, Japanese and English. Placeholders are `{{name}}`; a template names the vars it needs
 * and rendering throws when one is missing, so a caller's mistake fails the change instead of mailing a broken notice.
 */

export type Language = "ja" | "en";

export interface Text {
  subject: string;
  body: string;
}

export interface Definition {
  /** security notices carry the one-click "This wasn't me" link (var notMeUrl) */
  security: boolean;
  vars: readonly string[];
  ja: Text;
  en: Text;
}

const NOT_ME: Record<Language, string> = {
  ja: [
    "お心当たりがない場合は、こちらをクリックしてください: {{notMeUrl}}",
    "すべての端末をログアウトさせ、パスワードを再設定していただくまでアカウントをロックします。",
  ].join("\n"),
  en: [
    "If this wasn't you, click here: {{notMeUrl}}",
    "We will sign everyone out and lock the account until you reset your password.",
  ].join("\n"),
};

const FOOTER: Record<Language, string> = {
  ja: "※このメッセージは送信専用です。ご返信いただいてもお答えできません。",
  en: "This is an automated message; replies are not read.",
};

const lines = (...l: string[]) => l.join("\n");

const CORE_DEFINITIONS = {
  signin_new_device: {
    security: true,
    vars: ["device", "ip", "country", "at"],
    ja: {
      subject: "新しい端末からのログインがありました",
      body: lines(
        "お使いのアカウントに、これまでと異なる端末または場所からログインがありました。",
        "",
        "端末: {{device}}",
        "IPアドレス: {{ip}}",
        "国・地域: {{country}}",
        "日時: {{at}}",
        "",
        "ご本人によるログインであれば、対応は不要です。",
      ),
    },
    en: {
      subject: "New sign-in to your account",
      body: lines(
        "Your account was signed in to from a device or location we have not seen before.",
        "",
        "Device: {{device}}",
        "IP address: {{ip}}",
        "Country: {{country}}",
        "Time: {{at}}",
        "",
        "If this was you, there is nothing to do.",
      ),
    },
  },
  email_changed: {
    security: true,
    vars: ["oldEmail", "newEmail", "at"],
    ja: {
      subject: "メールアドレスが変更されました",
      body: lines(
        "アカウントのメールアドレスが変更されました。",
        "",
        "変更前: {{oldEmail}}",
        "変更後: {{newEmail}}",
        "日時: {{at}}",
      ),
    },
    en: {
      subject: "The email address of your account was changed",
      body: lines(
        "The email address of your account was changed.",
        "",
        "Previous address: {{oldEmail}}",
        "New address: {{newEmail}}",
        "Time: {{at}}",
      ),
    },
  },
  email_changed_old_address: {
    security: true,
    vars: ["newEmail", "at", "revertUrl"],
    ja: {
      subject: "メールアドレスが変更されました",
      body: lines(
        "アカウントのメールアドレスが、このアドレスから {{newEmail}} に変更されました（{{at}}）。",
        "",
        "この変更にお心当たりがない場合は、次のリンクから変更を取り消し、アカウントをロックできます:",
        "{{revertUrl}}",
        "このリンクは30日間有効です。その間、このアドレスはアカウントの回復に引き続きお使いいただけます。",
      ),
    },
    en: {
      subject: "The email address of your account was changed",
      body: lines(
        "The email address of your account was changed from this address to {{newEmail}} ({{at}}).",
        "",
        "If you did not make this change, open this link to reverse this change and lock the account:",
        "{{revertUrl}}",
        "The link is valid for 30 days; until then this address can still be used to recover the account.",
      ),
    },
  },
  phone_added: {
    security: true,
    vars: ["phone"],
    ja: {
      subject: "電話番号が追加されました",
      body: "アカウントに電話番号 {{phone}} が追加されました。",
    },
    en: {
      subject: "A phone number was added to your account",
      body: "The phone number {{phone}} was added to your account.",
    },
  },
  phone_removed: {
    security: true,
    vars: ["phone"],
    ja: {
      subject: "電話番号が削除されました",
      body: "アカウントから電話番号 {{phone}} が削除されました。",
    },
    en: {
      subject: "A phone number was removed from your account",
      body: "The phone number {{phone}} was removed from your account.",
    },
  },
  password_changed: {
    security: true,
    vars: ["at"],
    ja: {
      subject: "パスワードが変更されました",
      body: "アカウントのパスワードが変更されました（{{at}}）。",
    },
    en: {
      subject: "Your password was changed",
      body: "The password of your account was changed ({{at}}).",
    },
  },
  password_reset_completed: {
    security: true,
    vars: ["at"],
    ja: {
      subject: "パスワードが再設定されました",
      body: "パスワード再設定用のリンクから、アカウントのパスワードが再設定されました（{{at}}）。",
    },
    en: {
      subject: "Your password was reset",
      body: "The password of your account was reset with a password reset link ({{at}}).",
    },
  },
  totp_enabled: {
    security: true,
    vars: [],
    ja: {
      subject: "2段階認証が有効になりました",
      body: "アカウントで認証アプリによる2段階認証が有効になりました。",
    },
    en: {
      subject: "Two-step verification was turned on",
      body: "Two-step verification with an authenticator app was turned on for your account.",
    },
  },
  totp_disabled: {
    security: true,
    vars: [],
    ja: {
      subject: "2段階認証が無効になりました",
      body: "アカウントで認証アプリによる2段階認証が無効になりました。アカウントの保護が弱くなっています。",
    },
    en: {
      subject: "Two-step verification was turned off",
      body: "Two-step verification with an authenticator app was turned off for your account, which leaves it less protected.",
    },
  },
  recovery_codes_regenerated: {
    security: true,
    vars: [],
    ja: {
      subject: "リカバリーコードが再発行されました",
      body: "アカウントのリカバリーコードが新しく発行されました。以前のコードは使えなくなりました。",
    },
    en: {
      subject: "New recovery codes were generated",
      body: "New recovery codes were generated for your account. The previous codes no longer work.",
    },
  },
  app_password_created: {
    security: true,
    vars: ["name", "at"],
    ja: {
      subject: "アプリパスワードが作成されました",
      body: lines(
        "アカウントにアプリパスワード「{{name}}」が作成されました（{{at}}）。",
        "このアプリパスワードを使うアプリは、アカウントにアクセスできます。",
      ),
    },
    en: {
      subject: "An app password was created",
      body: lines(
        'An app password named "{{name}}" was created for your account ({{at}}).',
        "Apps using it can access your account.",
      ),
    },
  },
  app_password_revoked: {
    security: true,
    vars: ["name"],
    ja: {
      subject: "アプリパスワードが取り消されました",
      body: "アプリパスワード「{{name}}」が取り消されました。このアプリパスワードを使うアプリはアクセスできなくなりました。",
    },
    en: {
      subject: "An app password was revoked",
      body: 'The app password "{{name}}" was revoked. Apps using it can no longer access your account.',
    },
  },
  signed_out_everywhere: {
    security: true,
    vars: ["at"],
    ja: {
      subject: "すべての端末からログアウトしました",
      body: "アカウントはすべての端末からログアウトされました（{{at}}）。",
    },
    en: {
      subject: "Your account was signed out everywhere",
      body: "Your account was signed out of every device ({{at}}).",
    },
  },
  signin_challenge_not_completed: {
    security: true,
    vars: ["device", "ip", "country"],
    ja: {
      subject: "ログインの追加確認が完了しませんでした",
      body: lines(
        "アカウントに正しいパスワードが入力されましたが、追加の確認が完了しませんでした。",
        "",
        "端末: {{device}}",
        "IPアドレス: {{ip}}",
        "国・地域: {{country}}",
        "",
        "お心当たりがない場合、第三者にパスワードを知られている可能性があります。すぐにパスワードを変更してください。",
      ),
    },
    en: {
      subject: "A sign-in to your account was not completed",
      body: lines(
        "The correct password for your account was entered, but the additional verification was not completed.",
        "",
        "Device: {{device}}",
        "IP address: {{ip}}",
        "Country: {{country}}",
        "",
        "If this wasn't you, someone may have your password; change it now.",
      ),
    },
  },

  email_verify_code: {
    security: false,
    vars: ["code"],
    ja: {
      subject: "メールアドレスの確認コード",
      body: lines(
        "メールアドレスを確認するため、次のコードを入力してください。",
        "",
        "確認コード: {{code}}",
        "",
        "お心当たりがない場合は、このメッセージを破棄してください。",
      ),
    },
    en: {
      subject: "Your email verification code",
      body: lines(
        "To verify this email address, enter this code:",
        "",
        "{{code}}",
        "",
        "If you did not ask for it, you can ignore this message.",
      ),
    },
  },
  phone_verify_code: {
    // short: it goes by SMS
    security: false,
    vars: ["code"],
    ja: { subject: "確認コード", body: "電話番号の確認コードは {{code}} です。" },
    en: { subject: "Verification code", body: "Your phone verification code is {{code}}." },
  },
  email_change_code: {
    security: false,
    vars: ["code", "newEmail"],
    ja: {
      subject: "メールアドレス変更の確認コード",
      body: lines(
        "アカウントのメールアドレスを {{newEmail}} に変更するため、次のコードを入力してください。",
        "",
        "確認コード: {{code}}",
        "",
        "お心当たりがない場合は、このメッセージを破棄してください。",
      ),
    },
    en: {
      subject: "Confirm your new email address",
      body: lines(
        "To change the email address of your account to {{newEmail}}, enter this code:",
        "",
        "{{code}}",
        "",
        "If you did not ask for this change, you can ignore this message.",
      ),
    },
  },
  signin_code: {
    security: false,
    vars: ["code"],
    ja: {
      subject: "ログインの確認コード",
      body: lines(
        "ログインを完了するため、次のコードを入力してください。",
        "",
        "確認コード: {{code}}",
        "",
        "ログインしようとしていない場合、第三者にパスワードを知られている可能性があります。パスワードを変更してください。",
      ),
    },
    en: {
      subject: "Your sign-in code",
      body: lines(
        "To finish signing in, enter this code:",
        "",
        "{{code}}",
        "",
        "If you are not signing in, someone may have your password; change it.",
      ),
    },
  },
  password_reset: {
    security: false,
    vars: ["resetUrl", "expiresMinutes"],
    ja: {
      subject: "パスワードの再設定",
      body: lines(
        "パスワードを再設定するには、{{expiresMinutes}}分以内に次のリンクを開いてください。",
        "{{resetUrl}}",
        "",
        "お心当たりがない場合は、このメッセージを破棄してください。パスワードは変更されません。",
      ),
    },
    en: {
      subject: "Reset your password",
      body: lines(
        "To reset your password, open this link within {{expiresMinutes}} minutes:",
        "{{resetUrl}}",
        "",
        "If you did not ask for this, you can ignore this message; your password stays unchanged.",
      ),
    },
  },
  not_me_received: {
    security: false,
    vars: ["resetUrl"],
    ja: {
      subject: "アカウントを保護しました",
      body: lines(
        "ご連絡ありがとうございます。アカウントをすべての端末からログアウトさせ、ロックしました。",
        "次のリンクから新しいパスワードを設定してください:",
        "{{resetUrl}}",
      ),
    },
    en: {
      subject: "We secured your account",
      body: lines(
        "Thank you for telling us. We signed every session of your account out and locked the account.",
        "Set a new password with this link:",
        "{{resetUrl}}",
      ),
    },
  },
  account_locked: {
    security: false,
    vars: ["reason", "resetUrl"],
    ja: {
      subject: "アカウントをロックしました",
      body: lines(
        "アカウントをロックしました（理由: {{reason}}）。",
        "ロックを解除するには、次のリンクから新しいパスワードを設定してください:",
        "{{resetUrl}}",
      ),
    },
    en: {
      subject: "Your account was locked",
      body: lines(
        "Your account was locked (reason: {{reason}}).",
        "To unlock it, set a new password with this link:",
        "{{resetUrl}}",
      ),
    },
  },
} as const satisfies Record<string, Definition>;

// Each module keeps its own notices beside its code; one catalog here.
const DEFINITIONS = { ...CORE_DEFINITIONS, ...commerceTemplates, ...responseTemplates, ...riskTemplates };

export type NoticeTemplate = keyof typeof DEFINITIONS;

export const NOTICE_TEMPLATES = Object.keys(DEFINITIONS) as NoticeTemplate[];

/** The vars a template needs, notMeUrl included for security notices. */
export function noticeVars(template: NoticeTemplate): string[] {
  const def = definition(template);
  return def.security ? [...def.vars, "notMeUrl"] : [...def.vars];
}

export function isSecurityNotice(template: NoticeTemplate): boolean {
  return definition(template).security;
}

export function renderNotice(
  template: NoticeTemplate,
  language: Language,
  vars: Record<string, string>,
): { subject: string; body: string } {
  const def = definition(template);
  if (language !== "ja" && language !== "en") {
    throw new Error(`notice ${template}: unsupported language ${String(language)}`);
  }
  const missing = noticeVars(template).filter((k) => typeof vars[k] !== "string");
  if (missing.length > 0) throw new Error(`notice ${template}: missing vars ${missing.join(", ")}`);
  const text = def[language];
  const parts = [text.body];
  if (def.security) parts.push(NOT_ME[language]);
  if (template !== "phone_verify_code") parts.push(FOOTER[language]);
  return {
    subject: fill(template, text.subject, language, vars),
    body: fill(template, parts.join("\n\n"), language, vars),
  };
}

function definition(template: NoticeTemplate): Definition {
  const def = (DEFINITIONS as Record<string, Definition>)[template];
  if (!def) throw new Error(`unknown notice template: ${String(template)}`);
  return def;
}

// One pass over the template, so a value that itself contains "{{…}}" is never expanded.
function fill(template: string, text: string, language: Language, vars: Record<string, string>): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const v = vars[key];
    if (typeof v !== "string") throw new Error(`notice ${template}: missing var ${key}`);
    return display(key, oneLine(v), language);
  });
}

// Vars such as the device come from request headers: a line break there could forge lines of the notice.
function oneLine(v: string): string {
  return v.replace(/\p{Cc}+/gu, " ").trim();
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z$/;

function display(key: string, v: string, language: Language): string {
  if (key === "at" && ISO_UTC.test(v)) return formatTime(new Date(v), language);
  if (key === "country") return countryName(v, language);
  if (key === "reason") return REASONS[v]?.[language] ?? v;
  return v;
}

// Accounts have a language but no time zone: Japanese notices show Japan time, others UTC, each labelled.
function formatTime(d: Date, language: Language): string {
  if (language === "ja") {
    const f = new Intl.DateTimeFormat("ja-JP", { timeZone: "Asia/Tokyo", dateStyle: "long", timeStyle: "short" });
    return `${f.format(d)}（日本時間）`;
  }
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

function countryName(v: string, language: Language): string {
  if (/^[A-Z]{2}$/.test(v)) {
    try {
      return new Intl.DisplayNames([language], { type: "region" }).of(v) ?? v;
    } catch {
      return v;
    }
  }
  if (v === "" || v === "unknown") return language === "ja" ? "不明" : "unknown";
  return v;
}

const REASONS: Record<string, Record<Language, string>> = {
  email_change_reverted: {
    ja: "メールアドレスの変更が取り消されたため",
    en: "the change of your email address was reversed",
  },
  not_me: {
    ja: "身に覚えのない操作が報告されたため",
    en: "activity you did not recognize was reported",
  },
};
