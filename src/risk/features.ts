/**
 * What the risk engine reads from the identity tables: the LoginSignalSource of signals.ts, plus the account's
 * facts a policy may need. Read-only; every query is by an indexed prefix (account_id + at, ip + at).
 */
import type { Db, Executor } from "../db/database.ts";
import type { LoginSignalSource, PreviousLogin } from "./signals.ts";

export interface AccountFacts {
  id: string;
  status: string;
  createdAt: number;
  totpEnabled: boolean;
  verifiedEmail: boolean;
  /** Successful sign-ins, newest first (at most 2, at or before `before`). */
  lastSignIns: number[];
  allowedCountries: string[] | null;
}

export interface RiskFeatureSource extends LoginSignalSource {
  account(accountId: string, before: number): Promise<AccountFacts | null>;
  /** When this device and this country first signed in to the account (before `before`); null if never. */
  firstSeen(
    accountId: string,
    deviceId: string | null,
    country: string | null,
    before: number,
  ): Promise<{ device: number | null; country: number | null }>;
}

/** Event types that are credential changes (for "time since the last credential change"). */
export const CREDENTIAL_EVENTS = [
  "password.changed",
  "password.reset",
  "email.changed",
  "totp.enabled",
  "totp.disabled",
  "phone.added",
  "phone.removed",
  "recovery_codes.regenerated",
  "app_password.created",
];

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function createDbFeatureSource(db: Db): RiskFeatureSource {
  const ex: Executor = db;
  return {
    async account(accountId, before) {
      const a = await ex
        .selectFrom("accounts")
        .select(["id", "status", "created_at", "totp_enrolled_at"])
        .where("id", "=", accountId)
        .executeTakeFirst();
      if (!a) return null;
      const [emails, logins, settings] = await Promise.all([
        ex
          .selectFrom("contact_points")
          .select("id")
          .where("account_id", "=", accountId)
          .where("kind", "=", "email")
          .where("verified", "=", 1)
          .where("removed_at", "is", null)
          .limit(1)
          .execute(),
        ex
          .selectFrom("login_attempts")
          .select("at")
          .where("account_id", "=", accountId)
          .where("at", "<=", before)
          .where("outcome", "=", "succeeded")
          .orderBy("at", "desc")
          .limit(2)
          .execute(),
        ex
          .selectFrom("risk_account_settings")
          .select("allowed_countries")
          .where("account_id", "=", accountId)
          .executeTakeFirst(),
      ]);
      return {
        id: a.id,
        status: a.status,
        createdAt: Number(a.created_at),
        totpEnabled: a.totp_enrolled_at !== null,
        verifiedEmail: emails.length > 0,
        lastSignIns: logins.map((l) => Number(l.at)),
        allowedCountries: settings ? (JSON.parse(settings.allowed_countries) as string[]) : null,
      };
    },

    async firstSeen(accountId, deviceId, country, before) {
      const first = async (col: "device_id" | "country", v: string | null) => {
        if (v === null) return null;
        const r = await ex
          .selectFrom("login_attempts")
          .select((eb) => eb.fn.min<number>("at").as("at"))
          .where("account_id", "=", accountId)
          .where("at", "<=", before)
          .where("outcome", "=", "succeeded")
          .where(col, "=", v)
          .executeTakeFirst();
        return num(r?.at);
      };
      const [device, c] = await Promise.all([first("device_id", deviceId), first("country", country)]);
      return { device, country: c };
    },

    async deviceSeen(accountId, deviceId, before) {
      return (await this.firstSeen(accountId, deviceId, null, before)).device !== null;
    },

    async previousLogin(accountId, before): Promise<PreviousLogin | null> {
      const r = await ex
        .selectFrom("login_attempts")
        .select(["at", "country"])
        .where("account_id", "=", accountId)
        .where("at", "<", before)
        .where("outcome", "=", "succeeded")
        .orderBy("at", "desc")
        .limit(1)
        .executeTakeFirst();
      return r?.country ? { at: Number(r.at), country: r.country } : null;
    },

    async lastCredentialChange(accountId, before) {
      const r = await ex
        .selectFrom("events")
        .select((eb) => eb.fn.max<number>("at").as("at"))
        .where("account_id", "=", accountId)
        .where("type", "in", CREDENTIAL_EVENTS)
        .where("at", "<=", before)
        .executeTakeFirst();
      return num(r?.at);
    },

    async unfinishedSecondFactor(accountId, windowMs, now) {
      const r = await ex
        .selectFrom("signin_challenges")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("account_id", "=", accountId)
        .where("created_at", ">", now - windowMs)
        .where("created_at", "<=", now)
        .where("completed_at", "is", null)
        .executeTakeFirst();
      return Number(r?.n ?? 0);
    },

    async ipActivity(ip, windowMs, now) {
      const r = await ex
        .selectFrom("login_attempts")
        .select((eb) => [
          eb.fn.sum<number>(eb.case().when("outcome", "=", "failed").then(1).else(0).end()).as("failed"),
          eb.fn.count<number>("identifier").distinct().as("accounts"),
        ])
        .where("ip", "=", ip)
        .where("at", ">", now - windowMs)
        .where("at", "<=", now)
        // Failures only: a shared NAT where many people sign in successfully is not an attack IP.
        .where("outcome", "in", ["failed", "denied"])
        .executeTakeFirst();
      return { failedLogins: Number(r?.failed ?? 0), distinctAccounts: Number(r?.accounts ?? 0) };
    },
  };
}
