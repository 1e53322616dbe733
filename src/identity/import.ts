import type { TSchema } from "@sinclair/typebox";
import type { Insertable } from "kysely";
import type { Db, Executor } from "../db/database.ts";
import type { Database } from "../db/schema.ts";
import type { EventInput, EventLog } from "../events/store.ts";
import type { Clock } from "../shared/clock.ts";
import type { ContextEnricher } from "../shared/context.ts";
import { newTimeOrderedId } from "../shared/crypto.ts";
import type { FactorImport } from "./factors/types.ts";
import { checkImportedHash } from "./legacy-hashes.ts";
import { normalizeEmail, normalizePhone } from "./normalize.ts";

/**
 * Bulk import of a store's existing users (`mamori import`, `importAccounts`): verified contacts, language, allowed
 * countries, what a factor takes (its `importer`: the authenticator's `totpSecret`), the password hash as the old system stored it (verified at the first sign-in and then
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
  /** a factor's field (Factor.importer): the authenticator's base32 secret */
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
  // a factor's importer's (Factor.importer.refusal): the authenticator's `totp_secret_invalid`
  | `${string}_invalid`
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
  /** the registered factors' importers (the registry's `importers`), in registration order */
  importers: readonly ImportingFactor[];
  /** risk/: new accounts' allowed sign-in countries, written in the import's transaction */
  setAllowedCountries: (t: Executor, rows: { accountId: string; countries: string[] }[], now: number) => Promise<void>;
}

/** A factor's importer with its kind (FactorRegistry.importers). */
export type ImportingFactor = FactorImport & { kind: string };

export const MAX_SIGNINS_PER_ROW = 50;
const LANGS = new Set(["ja", "en"]);
const COUNTRY = /^[A-Z]{2}$/;
const CHANNELS = new Set(["web", "app", "app-password"]);

type Valid = {
  externalId: string;
  email: string;
  emailVerified: boolean;
  phone: string | null;
  phoneVerified: boolean;
  language: string;
  countries: string[] | null;
  /** what each factor's importer took from the row */
  factors: { importer: ImportingFactor; value: unknown }[];
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
export function validateImportRow(raw: unknown, now: number, importers: readonly ImportingFactor[] = []): Valid {
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
  const factors: Valid["factors"] = [];
  for (const importer of importers) {
    const v = r[importer.field];
    if (v === undefined || v === null) continue;
    const value = importer.parse(v);
    if (value === null) throw new Refused(importer.refusal as RefusalReason);
    factors.push({ importer, value });
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
    factors,
    passwordHash,
    scheme,
    createdAt,
    signIns,
  };
}

/** Rows per multi-row insert: the widest table (accounts, 13 columns) stays far under the parameter limits. */
const CHUNK = 400;

export function createAccountImport(deps: ImportDeps) {
  const { db, clock, events, enricher } = deps;
  // Exports repeat the same few browsers: parse each user agent once per process, not once per past sign-in.
  const uaCache = new Map<string, ReturnType<ContextEnricher["enrich"]>>();
  const enrich = (ip: string, userAgent: string, channel: string) => {
    const ua = uaCache.get(userAgent);
    const geo = enricher.enrich({ ip, userAgent: ua ? "" : userAgent, channel: channel as "web" });
    if (!ua) {
      if (uaCache.size > 2000) uaCache.clear();
      uaCache.set(userAgent, geo);
      return geo;
    }
    return { ...geo, browser: ua.browser, os: ua.os, deviceType: ua.deviceType };
  };

  async function insertChunks<T extends keyof Database>(t: Executor, table: T, rows: Insertable<Database[T]>[]) {
    for (let i = 0; i < rows.length; i += CHUNK) {
      // Kysely cannot narrow a generic table's insert type; the rows were typed by the caller.
      await t
        .insertInto(table)
        .values(rows.slice(i, i + CHUNK) as never)
        .execute();
    }
  }

  /**
   * A batch's writes, set-based: one query per check (external ids, addresses, phones) and one insert per table
   * (chunked), in the caller's transaction. Every refusal is decided before the first write, so a refused row
   * leaves nothing; an address repeated inside the batch is refused like one taken before it.
   */
  async function importValid(t: Executor, rows: Valid[], now: number): Promise<Map<Valid, RowOutcome>> {
    const out = new Map<Valid, RowOutcome>();
    if (rows.length === 0) return out;
    const ids = [...new Set(rows.map((r) => r.externalId))];
    const seen = new Map<string, string>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const found = await t
        .selectFrom("account_imports")
        .select(["external_id", "account_id"])
        .where("external_id", "in", ids.slice(i, i + CHUNK))
        .execute();
      for (const f of found) seen.set(f.external_id, f.account_id);
    }
    const held = async (kind: "email" | "phone", values: string[]) => {
      const taken = new Set<string>();
      for (let i = 0; i < values.length; i += CHUNK) {
        const found = await t
          .selectFrom("contact_points")
          .select("value")
          .where("kind", "=", kind)
          .where("value", "in", values.slice(i, i + CHUNK))
          // Like emailHolder: an address removed less than its recovery period ago is still reserved.
          .where((eb) =>
            kind === "email"
              ? eb.or([eb("removed_at", "is", null), eb("recovery_until", ">", now)])
              : eb("removed_at", "is", null),
          )
          .execute();
        for (const f of found) taken.add(f.value);
      }
      return taken;
    };
    const fresh = rows.filter((r) => !seen.has(r.externalId));
    const emails = await held("email", [...new Set(fresh.map((r) => r.email))]);
    const phones = await held("phone", [...new Set(fresh.flatMap((r) => (r.phone ? [r.phone] : [])))]);

    const accounts: Insertable<Database["accounts"]>[] = [];
    const history: Insertable<Database["password_history"]>[] = [];
    const contacts: Insertable<Database["contact_points"]>[] = [];
    const attempts: Insertable<Database["login_attempts"]>[] = [];
    const imports: Insertable<Database["account_imports"]>[] = [];
    const countries: { accountId: string; countries: string[] }[] = [];
    const factorRows = new Map<ImportingFactor, { accountId: string; value: unknown }[]>();
    const evs: EventInput[] = [];
    const contact = (accountId: string, kind: string, value: string, verified: boolean) =>
      contacts.push({
        id: newTimeOrderedId(),
        account_id: accountId,
        kind,
        value,
        verified: verified ? 1 : 0,
        verified_at: verified ? now : null,
        is_primary: 1,
        added_at: now,
        added_by: "import",
        removed_at: null,
        removed_by: null,
        recovery_until: null,
      });
    for (const v of rows) {
      const prior = seen.get(v.externalId);
      if (prior) {
        out.set(v, { status: "skipped", externalId: v.externalId, accountId: prior });
        continue;
      }
      if (emails.has(v.email)) {
        out.set(v, { status: "refused", externalId: v.externalId, reason: "email_taken" });
        continue;
      }
      if (v.phone && phones.has(v.phone)) {
        out.set(v, { status: "refused", externalId: v.externalId, reason: "phone_taken" });
        continue;
      }
      // Time-ordered (UUIDv7) ids: a million new accounts append to the indexes keyed by account instead of landing
      // on random pages of them, which at that size no page cache holds.
      const id = newTimeOrderedId();
      seen.set(v.externalId, id);
      emails.add(v.email);
      if (v.phone) phones.add(v.phone);
      accounts.push({
        id,
        status: "active",
        language: v.language,
        credential_epoch: 1,
        password_hash: v.passwordHash,
        password_changed_at: v.passwordHash ? now : null,
        password_reset_required: 0,
        totp_secret_enc: null,
        totp_pending_secret_enc: null,
        totp_enrolled_at: null,
        totp_last_step: null,
        created_at: v.createdAt ?? now,
        updated_at: now,
      });
      if (v.passwordHash)
        history.push({ id: newTimeOrderedId(), account_id: id, hash: v.passwordHash, created_at: now });
      contact(id, "email", v.email, v.emailVerified);
      if (v.phone) contact(id, "phone", v.phone, v.phoneVerified);
      if (v.countries) countries.push({ accountId: id, countries: v.countries });
      for (const f of v.factors) {
        const list = factorRows.get(f.importer) ?? [];
        list.push({ accountId: id, value: f.value });
        factorRows.set(f.importer, list);
      }
      for (const s of v.signIns) {
        const ctx = enrich(s.ip, s.userAgent, s.channel);
        attempts.push({
          id: newTimeOrderedId(),
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
      imports.push({ external_id: v.externalId, account_id: id, imported_at: now });
      evs.push({
        accountId: id,
        type: "account.imported",
        data: {
          externalId: v.externalId,
          email: v.email,
          emailVerified: v.emailVerified,
          phone: v.phone,
          language: v.language,
          passwordScheme: v.scheme,
          factors: v.factors.map((f) => f.importer.kind),
          allowedCountries: v.countries,
          signIns: v.signIns.length,
        },
        actor: "import",
      });
      out.set(v, { status: "imported", externalId: v.externalId, accountId: id });
    }
    await insertChunks(t, "accounts", accounts);
    await insertChunks(t, "password_history", history);
    await insertChunks(t, "contact_points", contacts);
    await insertChunks(t, "login_attempts", attempts);
    await insertChunks(t, "account_imports", imports);
    // Each factor writes its own, after the accounts it belongs to exist.
    for (const [importer, list] of factorRows) await importer.write(t, list, now);
    if (countries.length) await deps.setAllowedCountries(t, countries, now);
    await events.appendFirst(t, evs);
    return out;
  }

  function refusal(raw: unknown, e: unknown): RowOutcome {
    if (!(e instanceof Refused)) throw e;
    const id = (raw as { externalId?: unknown } | null)?.externalId;
    return { status: "refused", externalId: typeof id === "string" ? id.slice(0, 200) : null, reason: e.reason };
  }

  return {
    /** The factors' import fields with their API schemas (import-routes.ts), in registration order. */
    fields: Object.fromEntries(deps.importers.map((i) => [i.field, i.schema])) as Record<string, TSchema>,
    /**
     * A batch in one transaction (the import's speed). Should the store refuse the batch for a reason nobody
     * validated (a constraint), it is rolled back and its rows retried one per transaction, so one bad row never
     * takes its neighbours with it and nothing is half-imported.
     */
    async importBatch(rows: unknown[]): Promise<RowOutcome[]> {
      const now = clock.now();
      const items = rows.map((raw): { raw: unknown; v: Valid } | { raw: unknown; out: RowOutcome } => {
        try {
          return { raw, v: validateImportRow(raw, now, deps.importers) };
        } catch (e) {
          return { raw, out: refusal(raw, e) };
        }
      });
      const valid = items.flatMap((i) => ("v" in i ? [i.v] : []));
      const collect = (done: Map<Valid, RowOutcome>) => items.map((i) => ("out" in i ? i.out : done.get(i.v)!));
      try {
        return collect(await db.transaction().execute((t) => importValid(t, valid, now)));
      } catch {
        const done = new Map<Valid, RowOutcome>();
        for (const v of valid) {
          try {
            const one = await db.transaction().execute((t) => importValid(t, [v], now));
            done.set(v, one.get(v)!);
          } catch {
            // A row the store itself refuses (a constraint nobody validated): refused, never half-written.
            done.set(v, { status: "refused", externalId: v.externalId, reason: "row_invalid" });
          }
        }
        return collect(done);
      }
    },
  };
}

export type AccountImport = ReturnType<typeof createAccountImport>;
