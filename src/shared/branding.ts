import { readFileSync } from "node:fs";
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";

/**
 * The store's own name on every mail and page, so a notice reads as the store's and not as an unknown sender's
 * (a mail from "Mamori <no-reply@mamori.invalid>" about your account looks like phishing).
 *
 * From MAMORI_BRANDING_FILE (JSON, checked at start) and the MAMORI_STORE_* variables, which win over the file.
 */

const OneLine = (max: number) => Type.String({ minLength: 1, maxLength: max, pattern: "^[^\\u0000-\\u001f\\u007f]+$" });
const WebUrl = Type.String({ maxLength: 2000, pattern: "^https?://[^\\s\"'<>]+$" });
const TextOverride = Type.Object(
  { subject: Type.Optional(OneLine(200)), body: Type.Optional(Type.String({ minLength: 1, maxLength: 10_000 })) },
  { additionalProperties: false },
);

export const BrandingFile = Type.Object(
  {
    storeName: Type.Optional(OneLine(100)),
    logoUrl: Type.Optional(WebUrl),
    storeUrl: Type.Optional(WebUrl),
    recoveryUrl: Type.Optional(WebUrl),
    supportContact: Type.Optional(OneLine(200)),
    mailFrom: Type.Optional(OneLine(200)),
    timeZone: Type.Optional(OneLine(64)),
    /** per template, per language: a subject and/or body replacing Mamori's text */
    templates: Type.Optional(
      Type.Record(
        Type.String({ pattern: "^[a-z0-9_]+$" }),
        Type.Object(
          { ja: Type.Optional(TextOverride), en: Type.Optional(TextOverride) },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false },
);
export type BrandingFile = Static<typeof BrandingFile>;

export type TemplateOverrides = NonNullable<BrandingFile["templates"]>;

export interface Branding {
  storeName: string;
  /** whether the store named itself (a warning at start otherwise) */
  storeNamed: boolean;
  logoUrl: string | undefined;
  storeUrl: string | undefined;
  recoveryUrl: string | undefined;
  supportContact: string | undefined;
  /** the sender: the store's name and its address */
  mailFrom: { name: string; address: string };
  /** accounts have no time zone: times in mails are shown in this one, with its name */
  timeZone: string;
  templates: TemplateOverrides;
}

export const DEFAULT_STORE_NAME = "Mamori";
const DEFAULT_SENDER = "no-reply@mamori.invalid";

/** Reads and checks the branding; a bad file or value stops the start with a message naming the field. */
export function loadBranding(env: NodeJS.ProcessEnv): Branding {
  let file: BrandingFile = {};
  const path = env.MAMORI_BRANDING_FILE;
  if (path) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, "utf8"));
    } catch (e) {
      throw new Error(`MAMORI_BRANDING_FILE ${path}: ${(e as Error).message}`);
    }
    file = checked(raw, `MAMORI_BRANDING_FILE ${path}`);
  }
  const fromEnv = checked(
    {
      ...(env.MAMORI_STORE_NAME ? { storeName: env.MAMORI_STORE_NAME } : {}),
      ...(env.MAMORI_STORE_LOGO_URL ? { logoUrl: env.MAMORI_STORE_LOGO_URL } : {}),
      ...(env.MAMORI_STORE_URL ? { storeUrl: env.MAMORI_STORE_URL } : {}),
      ...(env.MAMORI_STORE_RECOVERY_URL ? { recoveryUrl: env.MAMORI_STORE_RECOVERY_URL } : {}),
      ...(env.MAMORI_SUPPORT_CONTACT ? { supportContact: env.MAMORI_SUPPORT_CONTACT } : {}),
      ...(env.MAMORI_MAIL_FROM ? { mailFrom: env.MAMORI_MAIL_FROM } : {}),
      ...(env.MAMORI_TIME_ZONE ? { timeZone: env.MAMORI_TIME_ZONE } : {}),
    },
    "environment (MAMORI_STORE_* etc.)",
  );
  const b = { ...file, ...fromEnv };
  const storeName = b.storeName ?? DEFAULT_STORE_NAME;
  const timeZone = b.timeZone ?? "Asia/Tokyo";
  try {
    new Intl.DateTimeFormat("en", { timeZone });
  } catch {
    throw new Error(`branding: timeZone ${JSON.stringify(timeZone)} is not an IANA time zone (e.g. Asia/Tokyo)`);
  }
  return {
    storeName,
    storeNamed: b.storeName !== undefined,
    logoUrl: b.logoUrl,
    storeUrl: b.storeUrl,
    recoveryUrl: b.recoveryUrl,
    supportContact: b.supportContact,
    mailFrom: sender(b.mailFrom, storeName),
    timeZone,
    templates: b.templates ?? {},
  };
}

function checked(raw: unknown, where: string): BrandingFile {
  if (Value.Check(BrandingFile, raw)) return raw;
  const errors = [...Value.Errors(BrandingFile, raw)]
    .slice(0, 5)
    .map((e) => `${e.path || "/"}: ${e.message}`)
    .join("; ");
  throw new Error(`${where}: ${errors}`);
}

/** "shop@example.jp" takes the store's name; "Name <shop@example.jp>" is taken as given. */
function sender(v: string | undefined, storeName: string): { name: string; address: string } {
  if (!v) return { name: storeName, address: DEFAULT_SENDER };
  const named = /^\s*"?([^"<>]*?)"?\s*<([^\s<>@]+@[^\s<>@]+)>\s*$/.exec(v);
  if (named) return { name: named[1] || storeName, address: named[2]! };
  if (/^[^\s<>@]+@[^\s<>@]+$/.test(v.trim())) return { name: storeName, address: v.trim() };
  throw new Error(
    `branding: mailFrom ${JSON.stringify(v)} is not an address ("shop@example.jp" or "Shop <shop@example.jp>")`,
  );
}
