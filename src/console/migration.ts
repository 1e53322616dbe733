import { type Kysely, type Migration, sql } from "kysely";

/**
 * 0018: staff roles for the support console. An agent views accounts, writes notes and starts lockdowns; a lead may
 * also change risk policies, staff and store keys. Logins that exist already had every power, so they become leads;
 * new ones are agents unless the operator says otherwise (`mamori admin create NAME --role lead`).
 */
export const consoleMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable("admin_users")
      .addColumn("role", "text", (c) => c.notNull().defaultTo("agent"))
      .execute();
    await sql`update admin_users set role = 'lead'`.execute(db);
  },
};
