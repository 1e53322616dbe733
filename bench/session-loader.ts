// Builds a store that looks like a store's: N accounts (through the bulk import, src/identity/import.ts) and one live
// session each (through the session service's own create, in batched transactions), and writes the N session tokens
// to a file, one per line. Used by bench/server.ts; nothing here writes a table by hand.
// `backdate(ms)` (optional) moves the app's clock back by ms before each session is created: the bench spreads the
// sessions' last-seen times over the last minute, as in a store whose users come back every few seconds to minutes,
// so that during the measurement sessions keep crossing the once-a-minute last-seen threshold (the steady state)
// instead of all having been seen a second ago.
import { createWriteStream, readdirSync, statSync } from "node:fs";
import path from "node:path";
import type { App } from "../src/app.ts";
import { runImport } from "../src/identity/import-cli.ts";

const UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0";

export async function loadSessions(
  app: App,
  n: number,
  dir: string,
  backdate?: (ms: number) => void,
): Promise<{ tokensFile: string; loadSeconds: number; accounts: number }> {
  const t0 = performance.now();
  // A run's own ids: on a shared PostgreSQL database earlier runs' accounts are there too.
  const run = Math.random().toString(36).slice(2, 8);
  const rows = path.join(dir, "accounts.ndjson");
  const out = createWriteStream(rows);
  for (let i = 0; i < n; i++) {
    const line = `${JSON.stringify({ externalId: `${run}-${i}`, email: `bench${i}.${run}@example.jp` })}\n`;
    if (!out.write(line)) await new Promise<void>((r) => out.once("drain", () => r()));
  }
  await new Promise<void>((r) => out.end(r));
  const imported = await runImport(app.accountImport, { file: rows, refusedFile: null, batch: 1000 });
  if (imported.imported !== n) throw new Error(`loader: ${JSON.stringify(imported)}`);
  const ids = (
    await app.database.db
      .selectFrom("account_imports")
      .select("account_id")
      .where("external_id", "like", `${run}-%`)
      .execute()
  ).map((r) => r.account_id);
  const tokensFile = path.join(dir, "tokens.txt");
  const tokens = createWriteStream(tokensFile);
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const made = await app.database.db.transaction().execute(async (t) => {
      const list: string[] = [];
      for (const [j, accountId] of chunk.entries()) {
        const ip = `153.${150 + ((i + j) % 50)}.${((i + j) >> 8) % 256}.${((i + j) % 250) + 1}`;
        backdate?.(((i + j) * 7919) % 60_000);
        const ctx = app.enricher.enrich({ ip, userAgent: UA, deviceId: `d${i + j}`, channel: "web" });
        const s = await app.sessions.create(t, { accountId, epoch: 1, ctx, factor: "password", secondFactor: null });
        list.push(s.token);
      }
      backdate?.(0);
      return list;
    });
    if (!tokens.write(`${made.join("\n")}\n`)) await new Promise<void>((r) => tokens.once("drain", () => r()));
  }
  await new Promise<void>((r) => tokens.end(r));
  return { tokensFile, loadSeconds: Math.round((performance.now() - t0) / 100) / 10, accounts: ids.length };
}

/** The embedded store's files (main, WAL, decision log), in bytes. */
export function storeBytes(dir: string): number {
  return readdirSync(dir)
    .filter((f) => f.includes(".sqlite"))
    .reduce((s, f) => s + statSync(path.join(dir, f)).size, 0);
}
