import { randomBytes } from "node:crypto";
import type { Db } from "./database.ts";

/**
 * MAMORI_SECRET if set; otherwise one generated on first start and kept in the store (shared by every node).
 * Race closed: two nodes starting on an empty store; the insert does nothing on a conflict, so both read the one kept.
 */
export async function instanceSecret(db: Db, configured: string | undefined): Promise<Buffer> {
  if (configured) {
    const b = /^[0-9a-f]+$/i.test(configured) ? Buffer.from(configured, "hex") : Buffer.from(configured, "base64");
    if (b.length < 32) throw new Error("MAMORI_SECRET must hold at least 32 bytes (64 hex characters)");
    return b;
  }
  await db
    .insertInto("instance")
    .values({ key: "secret", value: randomBytes(32).toString("hex") })
    .onConflict((oc) => oc.column("key").doNothing())
    .execute();
  const row = await db.selectFrom("instance").select("value").where("key", "=", "secret").executeTakeFirstOrThrow();
  return Buffer.from(row.value, "hex");
}

/** Whether the store answers a read (the /health check). */
export async function storeAnswers(db: Db): Promise<void> {
  await db.selectFrom("instance").select("key").limit(1).execute();
}
