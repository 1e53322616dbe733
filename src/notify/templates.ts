import type { TemplateOverrides } from "../shared/branding.ts";

/**
 * Notice texts, plain text, Japanese and English. Placeholders are `{{name}}`; a template names the vars it needs
 * and rendering throws when one is missing, so a caller's mistake fails the change instead of mailing a broken notice.
 * Every module keeps its own notices beside its code (commerce/templates.ts, …); app.ts joins them into one registry
 * with the store's name and overrides (createNoticeTemplates), so this module imports no domain.
 */

export type Language = "ja" | "en";

export interface Text {
  subject: string;
  body: string;
}

/** A template's name; the registry refuses names it does not hold. */
export type NoticeTemplate = string;

export interface Definition {
  /** security notices carry the one-click "This wasn't me" link (var notMeUrl) */
  security: boolean;
  /** a text message (SMS): no footer */
  short?: boolean;
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
  ja: "※このメッセージは送信専用です。ご返信いただいてもお答えできません。\n{{storeName}}",
  en: "This is an automated message; replies are not read.\n{{storeName}}",
};
const SUPPORT: Record<Language, string> = { ja: "お問い合わせ: {{supportContact}}", en: "Contact: {{supportContact}}" };
const SUBJECT: Record<Language, string> = { ja: "【{{storeName}}】", en: "[{{storeName}}] " };

const lines = (...l: string[]) => l.join("\n");

/** The core notices (identity, sessions); other modules keep theirs beside their code. */
export const coreTemplates = {
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
    // short: it goes by SMS; the store's name first, so the text says who it is from
    security: false,
    short: true,
    vars: ["code"],
    ja: { subject: "確認コード", body: "【{{storeName}}】電話番号の確認コードは {{code}} です。" },
    en: { subject: "Verification code", body: "{{storeName}}: your phone verification code is {{code}}." },
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

/** Vars every template may use: the store's own name and contact. */
export const STORE_VARS = ["storeName", "supportContact"] as const;

/** Example values for previews (`mamori mail preview`) and tests; a var without one shows as ‹name›. */
export const SAMPLE_VARS: Readonly<Record<string, string>> = {
  device: "Chrome, Windows, desktop",
  ip: "203.0.113.7",
  country: "JP",
  at: "2026-12-03T11:48:52.769Z",
  since: "2026-12-03T11:48:52.769Z",
  oldEmail: "hanako@example.jp",
  newEmail: "new-address@example.com",
  revertUrl: "https://shop.example/links/email-revert?t=EXAMPLE",
  phone: "+819012345678",
  name: "Mail app",
  code: "482913",
  resetUrl: "https://shop.example/links/reset-password?t=EXAMPLE",
  expiresMinutes: "30",
  reason: "not_me",
  notMeUrl: "https://shop.example/links/not-me?t=EXAMPLE",
  recoveryUrl: "https://shop.example/recover/",
  city: "Sapporo",
  brand: "visa",
  last4: "4242",
  amount: "2500",
  title: "Camera X100",
  orderId: "ord_123",
  outcome: "No payment will be taken.",
  summary: "Sessions ended: 2. Orders cancelled: 1.",
  countries: "JP",
  network: "NTT Communications Corporation (AS4713)",
  limit: "20",
  dueAt: "2026-12-06T11:48:52.769Z",
  cancelUrl: "https://shop.example/links/cancel-factor-reset?t=EXAMPLE",
};

export interface TemplateOptions {
  definitions: Record<string, Definition>;
  storeName: string;
  supportContact?: string | undefined;
  /** IANA zone the times in notices are shown in (accounts have no zone of their own) */
  timeZone: string;
  /** the store's own texts, per template and language (checked here: a bad one throws, naming it) */
  overrides?: TemplateOverrides;
}

export interface NoticeTemplates {
  readonly names: readonly string[];
  /** The vars a template needs, notMeUrl included for security notices. */
  vars(template: NoticeTemplate): string[];
  isSecurity(template: NoticeTemplate): boolean;
  render(template: NoticeTemplate, language: Language, vars: Record<string, string>): Text;
}

/**
 * The one registry of notices: every module's definitions, the store's name and contact in every notice, times in the
 * store's zone, and the store's overrides. Overrides are checked now, so a mistake stops the start instead of a mail:
 * an unknown template or placeholder, or a code or link the override leaves out.
 */
export function createNoticeTemplates(opts: TemplateOptions): NoticeTemplates {
  const defs = opts.definitions;
  const overrides = opts.overrides ?? {};
  const store: Record<string, string> = { storeName: opts.storeName, supportContact: opts.supportContact ?? "" };

  function definition(template: NoticeTemplate): Definition {
    const def = Object.hasOwn(defs, template) ? defs[template] : undefined;
    if (!def) throw new Error(`unknown notice template: ${String(template)}`);
    return def;
  }
  const varsOf = (def: Definition) => (def.security ? [...def.vars, "notMeUrl"] : [...def.vars]);

  const problems: string[] = [];
  for (const [name, byLang] of Object.entries(overrides)) {
    const def = Object.hasOwn(defs, name) ? defs[name] : undefined;
    if (!def) {
      problems.push(`templates.${name}: no such template`);
      continue;
    }
    const allowed = new Set<string>([...def.vars, "storeName", ...(opts.supportContact ? ["supportContact"] : [])]);
    for (const lang of ["ja", "en"] as const) {
      const o = byLang[lang];
      if (!o) continue;
      for (const [part, text] of Object.entries(o) as ["subject" | "body", string][]) {
        for (const m of text.matchAll(/\{\{(\w+)\}\}/g)) {
          const v = m[1]!;
          if (allowed.has(v)) continue;
          problems.push(
            v === "notMeUrl"
              ? `templates.${name}.${lang}.${part}: {{notMeUrl}} is added to every security notice by Mamori; leave it out`
              : v === "supportContact"
                ? `templates.${name}.${lang}.${part}: {{supportContact}} is used but no support contact is configured`
                : `templates.${name}.${lang}.${part}: {{${v}}} is not a variable of this template (it has: ${[...allowed].join(", ")})`,
          );
        }
      }
      // The code or the link is what the notice is for: an override may reword everything else.
      if (o.body) {
        for (const v of def.vars.filter((x) => x === "code" || x.endsWith("Url"))) {
          if (!o.body.includes(`{{${v}}}`)) problems.push(`templates.${name}.${lang}.body: must contain {{${v}}}`);
        }
      }
    }
  }
  if (problems.length) throw new Error(`branding: bad template overrides:\n  ${problems.join("\n  ")}`);

  return {
    names: Object.keys(defs),
    vars: (template) => varsOf(definition(template)),
    isSecurity: (template) => definition(template).security,
    render(template, language, vars) {
      const def = definition(template);
      if (language !== "ja" && language !== "en") {
        throw new Error(`notice ${template}: unsupported language ${String(language)}`);
      }
      const missing = varsOf(def).filter((k) => typeof vars[k] !== "string");
      if (missing.length > 0) throw new Error(`notice ${template}: missing vars ${missing.join(", ")}`);
      const own = overrides[template]?.[language];
      const parts = [own?.body ?? def[language].body];
      if (def.security) parts.push(NOT_ME[language]);
      if (!def.short) parts.push(opts.supportContact ? `${FOOTER[language]}\n${SUPPORT[language]}` : FOOTER[language]);
      const all = { ...vars, ...store };
      const fillIn = (text: string) => fill(template, text, language, all, opts.timeZone);
      return {
        subject: own?.subject ? fillIn(own.subject) : fillIn(SUBJECT[language] + def[language].subject),
        // a var left empty (a summary with nothing to say) must not leave a gap of blank lines
        body: fillIn(parts.join("\n\n")).replace(/\n{3,}/g, "\n\n"),
      };
    },
  };
}

// One pass over the template, so a value that itself contains "{{…}}" is never expanded.
function fill(template: string, text: string, language: Language, vars: Record<string, string>, timeZone: string) {
  return text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const v = vars[key];
    if (typeof v !== "string") throw new Error(`notice ${template}: missing var ${key}`);
    return display(key, oneLine(v), language, timeZone);
  });
}

// Vars such as the device come from request headers: a line break there could forge lines of the notice.
function oneLine(v: string): string {
  return v.replace(/\p{Cc}+/gu, " ").trim();
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z$/;
const isTimeVar = (key: string) => key === "at" || key === "since" || key.endsWith("At");

function display(key: string, v: string, language: Language, timeZone: string): string {
  if (isTimeVar(key) && ISO_UTC.test(v)) return formatTime(new Date(v), language, timeZone);
  if (key === "country") return countryName(v, language);
  if (key === "reason") return REASONS[v]?.[language] ?? v;
  return v;
}

// Names readers know: 日本時間 / JST rather than GMT+9.
const ZONE_NAMES: Record<string, Record<Language, string>> = {
  "Asia/Tokyo": { ja: "日本時間", en: "JST" },
  UTC: { ja: "協定世界時", en: "UTC" },
  "Etc/UTC": { ja: "協定世界時", en: "UTC" },
};

/**
 * A time as a reader reads it, in the store's zone with the zone named: ja `2026年12月3日 20:48 (日本時間)`,
 * en `3 Dec 2026, 20:48 JST`.
 */
export function formatTime(d: Date, language: Language, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", {
      timeZone,
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    })
      .formatToParts(d)
      .map((p) => [p.type, p.value]),
  ) as Record<string, string>;
  const zone =
    ZONE_NAMES[timeZone]?.[language] ??
    new Intl.DateTimeFormat(language === "ja" ? "ja-JP" : "en-GB", { timeZone, timeZoneName: "short" })
      .formatToParts(d)
      .find((p) => p.type === "timeZoneName")?.value ??
    timeZone;
  const [y, m, day, h, min] = [parts.year, Number(parts.month), Number(parts.day), parts.hour, parts.minute];
  if (language === "ja") return `${y}年${m}月${day}日 ${Number(h)}:${min} (${zone})`;
  const month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][m - 1];
  return `${day} ${month} ${y}, ${h}:${min} ${zone}`;
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
