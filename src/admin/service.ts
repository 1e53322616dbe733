import type { Db } from "../db/database.ts";
import type { PasswordHasher } from "../identity/passwords.ts";
import type { Clock } from "../shared/clock.ts";
import { HOUR } from "../shared/clock.ts";
import { humanCode, newId, newToken, sha256 } from "../shared/crypto.ts";
import { AdminErrors } from "./errors.ts";

export interface AdminDeps {
  db: Db;
  clock: Clock;
  hasher: PasswordHasher;
}

const ADMIN_SESSION_MS = 12 * HOUR;
/** Positive API-key lookups are kept this long; a revoked store key stops working within it. */
const KEY_CACHE_MS = 5_000;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function createAdminService(deps: AdminDeps) {
  const { db, clock, hasher } = deps;
  // Keyed by the presented key itself (it is in this process's memory with every request anyway), so a cache hit
  // costs one map lookup and no hash.
  const keyCache = new Map<string, { id: string; until: number }>();
  const dummy = hasher.hash(newToken("dummy"));

  return {
    async createApiKey(name: string): Promise<{ id: string; key: string }> {
      const key = newToken("mk");
      const id = newId();
      await db
        .insertInto("api_keys")
        .values({
          id,
          name: name.slice(0, 100),
          key_hash: sha256(key),
          created_at: clock.now(),
          last_used_at: null,
          revoked_at: null,
        })
        .execute();
      return { id, key };
    },

    async listApiKeys() {
      const rows = await db.selectFrom("api_keys").selectAll().orderBy("created_at").execute();
      return rows.map((r) => ({
        id: r.id,
        name: r.name,
        createdAt: iso(r.created_at),
        lastUsedAt: iso(r.last_used_at),
        revokedAt: iso(r.revoked_at),
      }));
    },

    async revokeApiKey(id: string): Promise<void> {
      const r = await db
        .updateTable("api_keys")
        .set({ revoked_at: clock.now() })
        .where("id", "=", id)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) throw AdminErrors.api_key_not_found();
      keyCache.clear();
    },

    /** Synchronous fast path: true when the key was verified within the last few seconds. */
    cachedApiKey(key: string | undefined): boolean {
      if (!key || key.length > 200) return false;
      const hit = keyCache.get(key);
      return hit !== undefined && hit.until > clock.now();
    },

    /** The store API key check on every request. */
    async verifyApiKey(key: string | undefined): Promise<string | null> {
      if (!key || key.length > 200) return null;
      const hash = sha256(key);
      const now = clock.now();
      const hit = keyCache.get(key);
      if (hit && hit.until > now) return hit.id;
      const row = await db
        .selectFrom("api_keys")
        .select(["id", "last_used_at"])
        .where("key_hash", "=", hash)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      if (!row) return null;
      if (keyCache.size > 1000) keyCache.clear();
      keyCache.set(key, { id: row.id, until: now + KEY_CACHE_MS });
      if (row.last_used_at === null || row.last_used_at < now - 60_000) {
        await db.updateTable("api_keys").set({ last_used_at: now }).where("id", "=", row.id).execute();
      }
      return row.id;
    },

    async createAdminUser(
      username: string,
      password?: string,
    ): Promise<{ id: string; username: string; password: string }> {
      const pw = password ?? humanCode(20);
      const exists = await db
        .selectFrom("admin_users")
        .select("id")
        .where("username", "=", username)
        .executeTakeFirst();
      if (exists) throw AdminErrors.admin_exists();
      const id = newId();
      await db
        .insertInto("admin_users")
        .values({ id, username, password_hash: await hasher.hash(pw), created_at: clock.now(), disabled_at: null })
        .execute();
      return { id, username, password: pw };
    },

    async setAdminPassword(username: string, password?: string): Promise<string> {
      const pw = password ?? humanCode(20);
      const r = await db
        .updateTable("admin_users")
        .set({ password_hash: await hasher.hash(pw) })
        .where("username", "=", username)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) throw AdminErrors.admin_unauthorized();
      // A new password ends the admin's sessions.
      const u = await db
        .selectFrom("admin_users")
        .select("id")
        .where("username", "=", username)
        .executeTakeFirstOrThrow();
      await db
        .updateTable("admin_sessions")
        .set({ revoked_at: clock.now() })
        .where("admin_id", "=", u.id)
        .where("revoked_at", "is", null)
        .execute();
      return pw;
    },

    async listAdminUsers() {
      const rows = await db
        .selectFrom("admin_users")
        .select(["id", "username", "created_at", "disabled_at"])
        .orderBy("created_at")
        .execute();
      return rows.map((r) => ({
        id: r.id,
        username: r.username,
        createdAt: iso(r.created_at),
        disabledAt: iso(r.disabled_at),
      }));
    },

    async adminSignIn(username: string, password: string): Promise<{ token: string; expiresAt: string }> {
      const u = await db.selectFrom("admin_users").selectAll().where("username", "=", username).executeTakeFirst();
      let ok = false;
      if (u && u.disabled_at === null) ok = await hasher.verify(u.password_hash, password);
      else await hasher.verify(await dummy, password); // same cost for unknown names
      if (!u || !ok) throw AdminErrors.admin_unauthorized();
      const token = newToken("mad");
      const now = clock.now();
      await db
        .insertInto("admin_sessions")
        .values({
          id: newId(),
          token_hash: sha256(token),
          admin_id: u.id,
          created_at: now,
          expires_at: now + ADMIN_SESSION_MS,
          revoked_at: null,
        })
        .execute();
      return { token, expiresAt: new Date(now + ADMIN_SESSION_MS).toISOString() };
    },

    /** Admin sessions are checked against the store on every request, like end-user sessions. */
    async requireAdmin(token: string | undefined): Promise<{ adminId: string; username: string }> {
      if (!token || token.length > 200) throw AdminErrors.admin_unauthorized();
      const row = await db
        .selectFrom("admin_sessions")
        .innerJoin("admin_users", "admin_users.id", "admin_sessions.admin_id")
        .select([
          "admin_users.id",
          "admin_users.username",
          "admin_sessions.expires_at",
          "admin_sessions.revoked_at",
          "admin_users.disabled_at",
        ])
        .where("admin_sessions.token_hash", "=", sha256(token))
        .executeTakeFirst();
      if (!row || row.revoked_at !== null || row.disabled_at !== null || row.expires_at <= clock.now()) {
        throw AdminErrors.admin_unauthorized();
      }
      return { adminId: row.id, username: row.username };
    },

    /** First start: one store key and one admin login, shown once. Nothing when either already exists. */
    async bootstrap(): Promise<{ apiKey: string; admin: { username: string; password: string } } | null> {
      const k = await db.selectFrom("api_keys").select("id").limit(1).executeTakeFirst();
      const a = await db.selectFrom("admin_users").select("id").limit(1).executeTakeFirst();
      if (k || a) return null;
      const { key } = await this.createApiKey("default");
      const admin = await this.createAdminUser("admin");
      return { apiKey: key, admin: { username: admin.username, password: admin.password } };
    },
  };
}

export type AdminService = ReturnType<typeof createAdminService>;
