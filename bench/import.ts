// Bulk import benchmark (issue 16 item 5): N accounts in NDJSON, as a store would export them — bcrypt, PBKDF2,
// scrypt and argon2 hashes, a third with a phone, a fifth with TOTP, half with three past sign-ins — loaded through
// the same code as `mamori import` (src/identity/import-cli.ts) into a fresh store. Beside it, in the same run, the
// floor: reading, parsing and validating the same file with no store at all. Then the same file again (a resume:
// every row is skipped by its external id).
//
//   npm run bench:import                                  1,000,000 accounts, embedded SQLite (temp dir)
//   BENCH_ACCOUNTS=100000 npm run bench:import
//   MAMORI_DATABASE_URL=postgres://127.0.0.1/test npm run bench:import   PostgreSQL (a fresh schema, dropped after)
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { validateImportRow } from "../src/identity/import.ts";
import { runImport } from "../src/identity/import-cli.ts";
import { openStore } from "../src/store.ts";
import { storeBytes } from "./session-loader.ts";

const N = Number(process.env.BENCH_ACCOUNTS ?? 1_000_000);
const pgUrl = process.env.MAMORI_DATABASE_URL;
const dir = mkdtempSync(path.join(tmpdir(), "mamori-bench-import-"));
const schema = `bench_${randomBytes(4).toString("hex")}`;
const file = path.join(dir, "users.ndjson");

// Real hashes of "correct horse 1" in other systems' formats (at import they are parsed and bounded, not verified).
const HASHES = [
  "$2b$10$8ARVQKgclKaFjNJspw4eQuHiI3oQm1fSepqJasZr8Tt64Ls8WNgRy",
  "$pbkdf2-sha256$29000$c2FsdHNhbHRzYWx0c2FsdA$hDleuKiKzb.uSuEdtHo0IXmCNvfO.hPvhqn8wW80R.w",
  "pbkdf2_sha256$10000$djangosalt$/iWw0aLINOmPZVufcNQiWf9ElXKy2qCgGsiLFoAycNA=",
  "$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$ftkAjrtICh+0Qi5l/C6Wo2U2/IH2s6fTs57WDIejkBA",
  "$argon2id$v=19$m=19456,t=2,p=1$Yg3aAv0s+3UjGFUnNWxyvA$chk7oF8FT4P1wSgsiPgGnHtN9CusL+F/QW8yuEJgWf0",
];
const UA =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

async function writeFile(): Promise<number> {
  const out = createWriteStream(file);
  let bytes = 0;
  for (let i = 0; i < N; i++) {
    const row: Record<string, unknown> = {
      externalId: `u${i}`,
      email: `user${i}@example.jp`,
      language: i % 10 === 0 ? "en" : "ja",
      passwordHash: HASHES[i % HASHES.length],
      createdAt: "2019-04-01T00:00:00Z",
    };
    if (i % 3 === 0) row.phone = `+8190${String(10_000_000 + i).slice(-8)}`;
    if (i % 5 === 0) row.totpSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    if (i % 7 === 0) row.allowedCountries = ["JP"];
    if (i % 2 === 0) {
      row.signIns = [1, 2, 3].map((d) => ({
        at: `2026-10-0${d}T10:00:00Z`,
        ip: `153.${150 + (i % 50)}.${(i >> 8) % 256}.${(i % 250) + 1}`,
        userAgent: UA,
        deviceId: `dev-${i}`,
      }));
    }
    const line = `${JSON.stringify(row)}\n`;
    bytes += line.length;
    if (!out.write(line)) await new Promise<void>((r) => out.once("drain", () => r()));
  }
  await new Promise<void>((r) => out.end(r));
  return bytes;
}

/** The floor: the same file read, parsed and validated, nothing stored. */
async function parseOnly(): Promise<{ seconds: number; rowsPerSecond: number; valid: number }> {
  const t0 = performance.now();
  let valid = 0;
  const now = Date.now();
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })) {
    validateImportRow(JSON.parse(line), now);
    valid++;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { seconds: round(seconds), rowsPerSecond: Math.round(valid / seconds), valid };
}

const round = (x: number) => Math.round(x * 100) / 100;

async function main() {
  const fileBytes = await writeFile();
  const floor = await parseOnly();
  const database = pgUrl
    ? openStore({ dataDir: "", databaseUrl: pgUrl, pgSchema: schema })
    : openStore({ dataDir: dir, sqliteFile: "bench.sqlite" });
  await database.migrate();
  const config = loadConfig({ MAMORI_DISPATCHER: "off", MAMORI_DATA_DIR: dir });
  const app = await buildApp(config, { database });
  let peakRss = 0;
  const sample = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 500);
  const first = await runImport(app.accountImport, {
    file,
    refusedFile: null,
    progress: (s) => process.stderr.write(`\r${s}   `),
  });
  process.stderr.write("\n");
  const resume = await runImport(app.accountImport, { file, refusedFile: null });
  clearInterval(sample);
  let pgBytes: number | null = null;
  if (pgUrl) {
    const pg = await import("pg");
    const c = new pg.default.Client({ connectionString: pgUrl });
    await c.connect();
    const r = await c.query(
      "select coalesce(sum(pg_total_relation_size(format('%I.%I', schemaname, tablename))), 0)::bigint as b from pg_tables where schemaname = $1",
      [schema],
    );
    pgBytes = Number(r.rows[0].b);
    await c.end();
  }
  const disk = pgUrl ? pgBytes! : storeBytes(dir);
  const out = {
    bench: "import",
    store: pgUrl ? "postgres" : "sqlite",
    accounts: N,
    fileMiB: round(fileBytes / 1048576),
    floor_parseAndValidate: floor,
    import: {
      seconds: first.seconds,
      minutes: round(first.seconds / 60),
      rowsPerSecond: first.rowsPerSecond,
      imported: first.imported,
      refused: first.refused,
      ratioToFloor: round(first.rowsPerSecond / floor.rowsPerSecond),
    },
    resumeSameFile: {
      seconds: resume.seconds,
      rowsPerSecond: resume.rowsPerSecond,
      skipped: resume.skipped,
      imported: resume.imported,
    },
    peakRssMiB: round(peakRss / 1048576),
    diskBytesPerAccount: Math.round(disk / N),
    node: process.version,
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  await app.close();
  await database.close();
  if (pgUrl) {
    const pg = await import("pg");
    const c = new pg.default.Client({ connectionString: pgUrl });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  }
  rmSync(dir, { recursive: true, force: true });
}

await main();
