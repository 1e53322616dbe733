/**
 * Recovery codes and app passwords (lookup secrets, ASVS 6.5.2).
 *
 * - Version 3 (every secret made now): 24 base32 characters, 120 bits. At 112 bits and more a standard hash is
 *   enough (ASVS 6.5.2); stored as HMAC-SHA-256 under a key derived from the instance secret over the SHA-256 of the
 *   normalised secret, so a copy of the table alone allows no guessing at all, and is found with one indexed lookup.
 * - Older secrets were 16 characters, 80 bits: below 112 bits they must sit under a salted password hash. Their rows
 *   (version 1: plain SHA-256; version 2: the HMAC above) are rewrapped by `upgrade` without any plaintext into
 *   version 4, argon2id (own random salt) of the version-2 value. Checking one costs an argon2 verify per live legacy
 *   row of the account (at most 10 recovery codes), on a path the sign-in throttle already limits.
 */
import { type Algorithm, hash as argon2Hash, verify as argon2Verify } from "@node-rs/argon2";
import type { Db, Executor } from "../db/database.ts";
import { hmac, humanCode, normalizeHumanCode, sha256 } from "../shared/crypto.ts";

/** The version every new row is written with. */
export const SECRET_HASH_VERSION = 3;
/** Legacy 80-bit rows under argon2id. */
const LEGACY_WRAPPED = 4;
/** Characters of a new recovery code or app password: 24 × 5 bits = 120 bits (≥ 112, ASVS 6.5.2). */
export const LOOKUP_SECRET_CHARS = 24;
/** OWASP's argon2id floor (m=19 MiB, t=2, p=1); the input is already keyed, the salt and cost are for the letter. */
const WRAP = { algorithm: 2 as Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 };

/** A new lookup secret (grouped by 4 for reading aloud). */
export const newLookupSecret = () => humanCode(LOOKUP_SECRET_CHARS);

export function createStoredSecrets(key: Buffer) {
  const inner = {
    recovery: (code: string) => sha256(`recovery:${normalizeHumanCode(code)}`),
    appPassword: (pw: string) => sha256(`app-password:${normalizeHumanCode(pw)}`),
  };
  const wrap = (h: string) => hmac(key, h);
  /** Is a legacy row (version 2 or 4) the one for this secret's version-2 value? */
  const legacyMatches = async (row: { version: number; stored: string }, v2: string) =>
    row.version === 2 ? row.stored === v2 : row.version === LEGACY_WRAPPED && (await argon2Verify(row.stored, v2));
  // Only a secret of the old length can be a legacy one; anything else is looked up by its HMAC alone.
  const maybeLegacy = (secret: string) => normalizeHumanCode(secret).length === 16;

  return {
    recoveryCodeHash: (code: string) => wrap(inner.recovery(code)),
    appPasswordHash: (pw: string) => wrap(inner.appPassword(pw)),

    /** Guarded on used_at is null: a recovery code is spent exactly once, even by two racing requests. */
    async consumeRecoveryCode(ex: Executor, accountId: string, code: string, now: number): Promise<boolean> {
      const v2 = wrap(inner.recovery(code));
      const spend = async (where: { id: string } | { hash: string }) => {
        let q = ex
          .updateTable("recovery_codes")
          .set({ used_at: now })
          .where("account_id", "=", accountId)
          .where("used_at", "is", null);
        q =
          "id" in where
            ? q.where("id", "=", where.id)
            : q.where("code_hash", "=", where.hash).where("hash_version", "=", SECRET_HASH_VERSION);
        return Number((await q.executeTakeFirst()).numUpdatedRows) === 1;
      };
      if (!maybeLegacy(code)) return spend({ hash: v2 });
      const rows = await ex
        .selectFrom("recovery_codes")
        .select(["id", "code_hash", "hash_version"])
        .where("account_id", "=", accountId)
        .where("used_at", "is", null)
        .where("hash_version", "in", [2, LEGACY_WRAPPED])
        .execute();
      for (const r of rows) {
        if (await legacyMatches({ version: r.hash_version, stored: r.code_hash }, v2)) return spend({ id: r.id });
      }
      return false;
    },

    /** The live app password with this secret on the account (issued under its current epoch). */
    async findAppPassword(
      ex: Executor,
      accountId: string,
      epoch: number,
      secret: string,
    ): Promise<{ id: string } | undefined> {
      const v2 = wrap(inner.appPassword(secret));
      const live = ex
        .selectFrom("app_passwords")
        .where("account_id", "=", accountId)
        .where("revoked_at", "is", null)
        .where("epoch", "=", epoch);
      if (!maybeLegacy(secret))
        return live
          .select("id")
          .where("secret_hash", "=", v2)
          .where("hash_version", "=", SECRET_HASH_VERSION)
          .executeTakeFirst();
      const rows = await live
        .select(["id", "secret_hash", "hash_version"])
        .where("hash_version", "in", [2, LEGACY_WRAPPED])
        .execute();
      for (const r of rows) {
        if (await legacyMatches({ version: r.hash_version, stored: r.secret_hash }, v2)) return { id: r.id };
      }
      return undefined;
    },

    /**
     * Rewraps legacy rows into version 4: version 1 (SHA-256) through the HMAC first, since HMAC(key, the stored
     * SHA-256) is exactly the version-2 value. Each row is guarded on its old version, so nodes starting together
     * wrap a row once. Runs at start (server.ts) and in `mamori migrate`; returns how many rows it changed.
     */
    async upgrade(db: Db): Promise<number> {
      let n = 0;
      for (const table of ["recovery_codes", "app_passwords"] as const) {
        const col = table === "recovery_codes" ? "code_hash" : "secret_hash";
        for (;;) {
          const rows = await db
            .selectFrom(table)
            .select(["id", col, "hash_version"])
            .where("hash_version", "in", [1, 2])
            .limit(100)
            .execute();
          if (!rows.length) break;
          // Hashed outside the transaction: argon2 is slow and needs no lock.
          const wrapped = await Promise.all(
            rows.map(async (r) => {
              const old = (r as unknown as Record<string, string>)[col]!;
              const v2 = r.hash_version === 1 ? wrap(old) : old;
              return { id: r.id, from: r.hash_version, value: await argon2Hash(v2, WRAP) };
            }),
          );
          await db.transaction().execute(async (t) => {
            for (const w of wrapped) {
              const u = await t
                .updateTable(table)
                .set({ [col]: w.value, hash_version: LEGACY_WRAPPED } as never)
                .where("id", "=", w.id)
                .where("hash_version", "=", w.from)
                .executeTakeFirst();
              n += Number(u.numUpdatedRows);
            }
          });
        }
      }
      return n;
    },
  };
}

export type StoredSecrets = ReturnType<typeof createStoredSecrets>;
