import type { Kysely, Migration } from "kysely";

/** The commerce module's tables (portable: see db/migrations.ts). */
export const commerceMigration: Migration = {
  async up(_db: Kysely<unknown>) {},
};
