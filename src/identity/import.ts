import type { Db, Executor } from "../db/database.ts";
import type { EventLog } from "../events/store.ts";
import type { Clock } from "../shared/clock.ts";
import type { ContextEnricher } from "../shared/context.ts";
import { newId, seal } from "../shared/crypto.ts";
import { checkImportedHash } from "./legacy-hashes.ts";
import { normalizeEmail, normalizePhone } from "./normalize.ts";
import { identityStore as store } from "./store.ts";

/**
 * Bulk import of a store's existing users (`mamori import`, `importAccounts`): verified contacts, language, allowed
 * countries, a TOTP secret, the password hash as the old system stored it (verified at the first sign-in and then
 * rehashed to argon2id), and optionally past sign-ins so the risk engine knows the owner's devices and networks.
 * Idempotent per external id; a row is either imported whole or refused with a reason, never half.
 */
export interface ImportRow {
  externalId: string;
  email: string;
  emailVerified?: boolean;
  phone?: string;
  phoneVerified?: boolean;
  language?: string;
  allowedCountries?: string[];
  totpSecret?: string;
  passwordHash?: string;
  createdAt?: string;
  signIns?: { at: string; ip: string; userAgent?: string; deviceId?: string; channel?: string }[];
}

export type RefusalReason =
  | "row_invalid"
  | "external_id_invalid"
  | "invalid_email"
  | "invalid_phone"
  | "language_invalid"
  | "country_invalid"
  | "totp_secret_invalid"
  | "hash_format_unknown"
  | "hash_params_out_of_range"
  | "created_at_invalid"
  | "sign_in_invalid"
  | "email_taken"
  | "phone_taken";

export type RowOutcome =
  | { status: "imported"; externalId: string; accountId: string }
  | { status: "skipped"; externalId: string; accountId: string }
  | { status: "refused"; externalId: string | null; reason: RefusalReason; detail?: string };

export interface ImportDeps {
  db: Db;
  clock: Clock;
  events: EventLog;
  enricher: ContextEnricher;
  totpKey: Buffer;
  /** risk/: the allowed sign-in countries, written in the import's transaction */
  setAllowedCountries: (t: Executor, accountId: string, countries: string[], now: number) => Promise<void>;
}

export const MAX_SIGNINS_PER_ROW = 50;
const LANGS = new Set(["ja", "en"]);
const COUNTRY = /^[A-Z]{2}$/;
const BASE32 = /^[A-Z2-7]{16,128}=*$/;
const CHANNELS = new Set(["web", "app", "app-password"]);

type Valid = {
  externalId: string;
  email: string;
  emailVerified: boolean;
  phone: string | null;
  phoneVerified: boolean;
  language: string;
  countries: string[] | null;
  totpSecret: string | null;
  passwordHash: string | null;
  scheme: string | null;
  createdAt: number | null;
  signIns: { at: number; ip: string; userAgent: string; deviceId: string | null; channel: string }[];
};

class Refused extends Error {
  constructor(
    readonly reason: RefusalReason,
    readonly detail?: string,
  ) {
    super(reason);
  }
}

const str = (v: unknown, max: number): v is string => typeof v === "string" && v.length > 0 && v.length <= max;

function time(v: unknown, reason: RefusalReason): number {
  const ms = typeof v === "string" ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(ms) || ms < 0) throw new Refused(reason);
  return ms;
}

/** Everything that can be refused is refused here, before any write, so a refused row leaves nothing behind. */
export function validateImportRow(raw: unknown, now: number): Valid {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Refused("row_invalid");
  const r = raw as Record<string, unknown>;
  if (!str(r.externalId, 200)) throw new Refused("external_id_invalid");
  if (typeof r.email !== "string") throw new Refused("invalid_email");
  let email: string;
  try {
    email = normalizeEmail(r.email);
  } catch {
    throw new Refused("invalid_email");
  }
  let phone: string | null = null;
  if (r.phone !== undefined && r.phone !== null) {
    try {
      phone = normalizePhone(String(r.phone));
    } catch {
      throw new Refused("invalid_phone");
    }
  }
  const language = r.language === undefined ? "ja" : String(r.language);
  if (!LANGS.has(language)) throw new Refused("language_invalid");
  let countries: string[] | null = null;
  if (r.allowedCountries !== undefined) {
    if (!Array.isArray(r.allowedCountries) || r.allowedCountries.length > 50) throw new Refused("country_invalid");
    countries = [...new Set(r.allowedCountries.map((c) => String(c).toUpperCase()))];
    if (countries.some((c) => !COUNTRY.test(c))) throw new Refused("country_invalid");
  }
  let totpSecret: string | null = null;
  if (r.totpSecret !== undefined && r.totpSecret !== null) {
    totpSecret = String(r.totpSecret).replace(/\s+/g, "").toUpperCase();
    if (!BASE32.test(totpSecret)) throw new Refused("totp_secret_invalid");
  }
  let passwordHash: string | null = null;
  let scheme: string | null = null;
  if (r.passwordHash !== undefined && r.passwordHash !== null) {
    passwordHash = String(r.passwordHash).slice(0, 1024);
    const c = checkImportedHash(passwordHash);
    if (!c.ok) throw new Refused(c.reason);
    scheme = c.scheme;
  }
  const createdAt = r.createdAt === undefined ? null : time(r.createdAt, "created_at_invalid");
  if (createdAt !== null && createdAt > now) throw new Refused("created_at_invalid");
  const signIns: Valid["signIns"] = [];
  if (r.signIns !== undefined) {
    if (!Array.isArray(r.signIns) || r.signIns.length > MAX_SIGNINS_PER_ROW) throw new Refused("sign_in_invalid");
    for (const s of r.signIns as Record<string, unknown>[]) {
      if (typeof s !== "object" || s === null || !str(s.ip, 45)) throw new Refused("sign_in_invalid");
      const at = time(s.at, "sign_in_invalid");
      if (at > now) throw new Refused("sign_in_invalid");
      const channel = s.channel === undefined ? "web" : String(s.channel);
      if (!CHANNELS.has(channel)) throw new Refused("sign_in_invalid");
      signIns.push({
        at,
        ip: s.ip,
        userAgent: typeof s.userAgent === "string" ? s.userAgent.slice(0, 512) : "",
        deviceId: typeof s.deviceId === "string" && s.deviceId.length ? s.deviceId.slice(0, 128) : null,
        channel,
      });
    }
  }
  return {
    externalId: r.externalId,
    email,
    emailVerified: r.emailVerified !== false,
    phone,
    phoneVerified: phone !== null && r.phoneVerified !== false,
    language,
    countries,
    totpSecret,
    passwordHash,
    scheme,
    createdAt,
    signIns,
  };
}

export function createAccountImport(deps: ImportDeps) {
  const { db, clock, events, enricher } = deps;

  /** One row's writes, in the caller's transaction; refuses (before writing) an address another account holds. */
  async function importOne(t: Executor, v: Valid, now: number): Promise<RowOutcome> {
    // Idempotent per external id: a second run of the same file (a resume) skips what the first one finished.
    const seen = await t
      .selectFrom("account_imports")
      .select("account_id")
      .where("external_id", "=", v.externalId)
      .executeTakeFirst();
    if (seen) return { status: "skipped", externalId: v.externalId, accountId: seen.account_id };
    if (await store.emailHolder(t, v.email, now)) throw new Refused("email_taken");
    if (v.phone && (await store.liveOwner(t, "phone", v.phone))) throw new Refused("phone_taken");
    const id = newId();
    const created = v.createdAt ?? now;
    await t
      .insertInto("accounts")
      .values({
        id,
        status: "active",
        language: v.language,
        credential_epoch: 1,
        password_hash: v.passwordHash,
        password_changed_at: v.passwordHash ? now : null,
        password_reset_required: 0,
        totp_secret_enc: v.totpSecret ? seal(deps.totpKey, v.totpSecret) : null,
        totp_pending_secret_enc: null,
        totp_enrolled_at: v.totpSecret ? now : null,
        totp_last_step: null,
        created_at: created,
        updated_at: now,
      })
      .execute();
    if (v.passwordHash) {
      await t
        .insertInto("password_history")
        .values({ id: newId(), account_id: id, hash: v.passwordHash, created_at: now })
        .execute();
    }
    const contact = (kind: "email" | "phone", value: string, verified: boolean, primary: boolean) =>
      store.insertContact(t, {
        account_id: id,
        kind,
        value,
        verified: verified ? 1 : 0,
        verified_at: verified ? now : null,
        is_primary: primary ? 1 : 0,
        added_at: now,
        added_by: "import",
      });
    await contact("email", v.email, v.emailVerified, true);
    if (v.phone) await contact("phone", v.phone, v.phoneVerified, true);
    if (v.countries) await deps.setAllowedCountries(t, id, v.countries, now);
    for (const s of v.signIns) {
      const ctx = enricher.enrich({
        ip: s.ip,
        userAgent: s.userAgent,
        deviceId: s.deviceId ?? undefined,
        channel: s.channel as "web",
      });
      await store.recordLoginAttempt(t, {
        account_id: id,
        identifier: v.email,
        outcome: "succeeded",
        reason: "imported",
        channel: s.channel,
        ip: s.ip,
        country: ctx.country,
        asn: ctx.asn,
        user_agent: s.userAgent,
        browser: ctx.browser,
        os: ctx.os,
        device_type: ctx.deviceType,
        device_id: s.deviceId,
        session_id: null,
        at: s.at,
      });
    }
    await t
      .insertInto("account_imports")
      .values({ external_id: v.externalId, account_id: id, imported_at: now })
      .execute();
    await events.append(t, {
      accountId: id,
      type: "account.imported",
      data: {
        externalId: v.externalId,
        email: v.email,
        emailVerified: v.emailVerified,
        phone: v.phone,
        language: v.language,
        passwordScheme: v.scheme,
        totp: v.totpSecret !== null,
        allowedCountries: v.countries,
        signIns: v.signIns.length,
      },
      actor: "import",
    });
    return { status: "imported", externalId: v.externalId, accountId: id };
  }

  function refusal(raw: unknown, e: unknown): RowOutcome {
    if (!(e instanceof Refused)) throw e;
    const id = (raw as { externalId?: unknown } | null)?.externalId;
    return {
      status: "refused",
      externalId: typeof id === "string" ? id.slice(0, 200) : null,
      reason: e.reason,
      ...(e.detail ? { detail: e.detail } : {}),
    };
  }

  return {
    /**
     * A batch in one transaction (the import's speed), each row behind a savepoint-free guard: every refusal is
     * decided before that row's first write, so a refused row needs no rollback. An unexpected error rolls the
     * batch back and the rows are retried one per transaction, so one bad row never takes its neighbours with it.
     */
    async importBatch(rows: unknown[]): Promise<RowOutcome[]> {
      const now = clock.now();
      type Item = { raw: unknown; v: Valid } | { raw: unknown; out: RowOutcome };
      const valid = rows.map((raw): Item => {
        try {
          return { raw, v: validateImportRow(raw, now) };
        } catch (e) {
          return { raw, out: refusal(raw, e) };
        }
      });
      const run = async (t: Executor, item: Item): Promise<RowOutcome> => {
        if ("out" in item) return item.out;
        try {
          return await importOne(t, item.v, now);
        } catch (e) {
          return refusal(item.raw, e);
        }
      };
      try {
        return await db.transaction().execute(async (t) => {
          const out: RowOutcome[] = [];
          for (const item of valid) out.push(await run(t, item));
          return out;
        });
      } catch {
        const out: RowOutcome[] = [];
        for (const item of valid) {
          try {
            out.push(await db.transaction().execute((t) => run(t, item)));
          } catch (e) {
            // A row the store itself refuses (a constraint nobody validated): refused, never half-written.
            void e;
            out.push({ status: "refused", externalId: "v" in item ? item.v.externalId : null, reason: "row_invalid" });
          }
        }
        return out;
      }
    },
  };
}

export type AccountImport = ReturnType<typeof createAccountImport>;
