/**
 * Recovery codes and app passwords are random (80 bits and more), so a slow hash buys nothing against guessing; what
 * it must stop is a leaked table being used as is. Stored as HMAC-SHA-256 under a key derived from the instance secret
 * over the SHA-256 of the normalised code (version 2). Version 1 rows (plain SHA-256, before 0009) are rewrapped in
 * place by `upgrade`, which needs no plaintext: HMAC(key, the stored SHA-256) is exactly the version-2 value.
 */
import type { Db, Executor } from "../db/database.ts";
import { hmac, normalizeHumanCode, sha256 } from "../shared/crypto.ts";

export const SECRET_HASH_VERSION = 2;

export function createStoredSecrets(key: Buffer) {
  const inner = {
    recovery: (code: string) => sha256(`recovery:${normalizeHumanCode(code)}`),
    appPassword: (pw: string) => sha256(`app-password:${normalizeHumanCode(pw)}`),
  };
  const wrap = (h: string) => hmac(key, h);
  return {
    recoveryCodeHash: (code: string) => wrap(inner.recovery(code)),
    appPasswordHash: (pw: string) => wrap(inner.appPassword(pw)),

    /** Guarded on used_at is null: a recovery code is spent exactly once, even by two racing requests. */
    async consumeRecoveryCode(ex: Executor, accountId: string, code: string, now: number): Promise<boolean> {
      const r = await ex
        .updateTable("recovery_codes")
        .set({ used_at: now })
        .where("account_id", "=", accountId)
        .where("code_hash", "=", wrap(inner.recovery(code)))
        .where("hash_version", "=", SECRET_HASH_VERSION)
        .where("used_at", "is", null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },

    /** The live app password with this secret on the account (issued under its current epoch). */
    findAppPassword(ex: Executor, accountId: string, epoch: number, secret: string) {
      return ex
        .selectFrom("app_passwords")
        .select("id")
        .where("account_id", "=", accountId)
        .where("secret_hash", "=", wrap(inner.appPassword(secret)))
        .where("hash_version", "=", SECRET_HASH_VERSION)
        .where("revoked_at", "is", null)
        .where("epoch", "=", epoch)
        .executeTakeFirst();
    },

    /**
     * Rewraps version-1 rows. Each row is guarded on hash_version = 1, so nodes starting together wrap a row once.
     * Runs at start (server.ts) and in `mamori migrate`; returns how many rows it changed.
     */
    async upgrade(db: Db): Promise<number> {
      let n = 0;
      for (const table of ["recovery_codes", "app_passwords"] as const) {
        const col = table === "recovery_codes" ? "code_hash" : "secret_hash";
        for (;;) {
          const rows = await db
            .selectFrom(table)
            .select(["id", col])
            .where("hash_version", "=", 1)
            .limit(500)
            .execute();
          if (!rows.length) break;
          await db.transaction().execute(async (t) => {
            for (const r of rows) {
              const old = (r as Record<string, string>)[col]!;
              const u = await t
                .updateTable(table)
                .set({ [col]: wrap(old), hash_version: SECRET_HASH_VERSION } as never)
                .where("id", "=", r.id)
                .where("hash_version", "=", 1)
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
