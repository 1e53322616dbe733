import type { Kysely, Migration } from "kysely";

/** The webhooks module's tables (portable: see db/migrations.ts). */
export const webhooksMigration: Migration = {
  async up(_db: Kysely<unknown>) {},
};
