import { type Kysely, type Migration, SqliteAdapter, sql } from "kysely";

/**
 * SQLite on a file: a change feed for the session rows the service keeps in memory (sessions/kept-rows.ts). Triggers
 * add the token hash of every session whose answer could change — its own row updated (but for `last_seen_at`, which
 * only moves forward and is read again before an idle refusal) or deleted, or its account's epoch or status changed —
 * in the writing transaction. Whoever writes (this process, the CLI, another server on the file), the feed holds it
 * once committed, so a process reading the feed forgets exactly the rows that changed instead of all of them.
 * Revoked sessions are not named when their account changes: a revoked session is never live again (nothing clears
 * `revoked_at`), so its kept row's refusal stays exact. PostgreSQL (several nodes) keeps reading the row per check.
 */
export const sessionChangeFeedMigration: Migration = {
  async up(db: Kysely<unknown>) {
    if (!(db.getExecutor().adapter instanceof SqliteAdapter)) return;
    const main = await sql<{ file: string }>`select file from pragma_database_list where name = 'main'`.execute(db);
    if ((main.rows[0]?.file ?? "") === "") return;
    await sql`create table session_changes (seq integer primary key autoincrement, token_hash text not null)`.execute(
      db,
    );
    const statements = [
      `create trigger session_changes_update after update of token_hash, account_id, channel, epoch, factor, auth_time,
         second_factor_at, second_factor_kind, created_at, expires_at, revoked_at on sessions
       begin insert into session_changes (token_hash) values (old.token_hash); end`,
      `create trigger session_changes_delete after delete on sessions
       begin insert into session_changes (token_hash) values (old.token_hash); end`,
      `create trigger session_changes_account after update of credential_epoch, status on accounts
       when old.credential_epoch is not new.credential_epoch or old.status is not new.status
       begin insert into session_changes (token_hash)
         select token_hash from sessions where account_id = old.id and revoked_at is null; end`,
      // Before: the account's sessions are still there to name (a cascade would remove them first).
      `create trigger session_changes_account_delete before delete on accounts
       begin insert into session_changes (token_hash)
         select token_hash from sessions where account_id = old.id and revoked_at is null; end`,
    ];
    for (const s of statements) await sql.raw(s).execute(db);
  },
};
