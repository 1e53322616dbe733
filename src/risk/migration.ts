import type { Kysely, Migration } from "kysely";

/** The risk module's tables (portable: see db/migrations.ts). */
export const riskMigration: Migration = {
  async up(_db: Kysely<unknown>) {},
};
