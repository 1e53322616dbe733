// A benchmark target in its own process, so the load generator does not share its event loop.
//   mamori: the full app (embedded SQLite in a temp dir, or MAMORI_DATABASE_URL), one account signed in, and
//           BENCH_SESSIONS more accounts with a live session each (default 10,000), their tokens in a file.
//   bare:   Fastify with one route returning a constant — the ceiling on this machine.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Fastify from "fastify";
import { buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { signUpInProcess } from "../src/testing/signup.ts";
import { loadSessions, storeBytes } from "./session-loader.ts";

const mode = process.argv[2] ?? "mamori";

if (mode === "bare") {
  const app = Fastify({ logger: false });
  app.post("/bare", async () => ({ active: true }));
  await app.listen({ host: "127.0.0.1", port: 0 });
  const port = (app.server.address() as { port: number }).port;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
} else {
  // BENCH_STORE_DIR keeps the embedded store between runs (built there on first use): a million sessions take minutes
  // to load, which need not be spent in the quiet minutes a measurement needs. The kept figures of the build (load
  // time, disk and memory per account) are reported again on reuse.
  const keep = process.env.BENCH_STORE_DIR ? path.resolve(process.env.BENCH_STORE_DIR) : null;
  if (keep && process.env.MAMORI_DATABASE_URL) throw new Error("BENCH_STORE_DIR is for the embedded store");
  if (keep) fs.mkdirSync(keep, { recursive: true });
  const dataDir = keep ?? fs.mkdtempSync(path.join(os.tmpdir(), "mamori-bench-"));
  const metaFile = path.join(dataDir, "bench-store.json");
  const config = loadConfig({
    ...process.env,
    MAMORI_DATA_DIR: dataDir,
    MAMORI_DISPATCHER: "off",
    MAMORI_FAST_HASH: "1",
  });
  // The system clock, which the loader may set back while it creates sessions (session-loader.ts, `backdate`).
  let offset = 0;
  const app = await buildApp(config, { clock: { now: () => Date.now() - offset } });
  const { key } = await app.admin.createApiKey("bench");
  const ctx = { ip: "133.0.0.10", userAgent: "Mozilla/5.0 Chrome/120.0", channel: "web" as const };
  const email = `bench-${Date.now()}@example.jp`;
  const { session } = await signUpInProcess(app, {
    email,
    password: "amber lantern drifts past quiet harbors 47",
    context: ctx,
  });
  const sessions = Number(process.env.BENCH_SESSIONS ?? 10_000);
  type Built = {
    sessions: number;
    tokensFile: string;
    loadSeconds: number;
    diskBytesPerAccountWithSession: number | null;
    rssGrowthMiB: number;
  };
  const kept = keep && fs.existsSync(metaFile) ? (JSON.parse(fs.readFileSync(metaFile, "utf8")) as Built) : null;
  if (kept && kept.sessions !== sessions)
    throw new Error(`${metaFile} holds ${kept.sessions} sessions, not ${sessions}`);
  let built: Built;
  if (kept) built = kept;
  else {
    const rssBefore = process.memoryUsage().rss;
    const bytesBefore = app.database.dialect === "sqlite" ? storeBytes(dataDir) : 0;
    const loaded = await loadSessions(app, sessions, dataDir, (ms) => {
      offset = ms;
    });
    built = {
      sessions,
      tokensFile: loaded.tokensFile,
      loadSeconds: loaded.loadSeconds,
      diskBytesPerAccountWithSession:
        app.database.dialect === "sqlite" ? Math.round((storeBytes(dataDir) - bytesBefore) / sessions) : null,
      rssGrowthMiB: Math.round((process.memoryUsage().rss - rssBefore) / 1048576),
    };
    if (keep) fs.writeFileSync(metaFile, JSON.stringify(built));
  }
  // What a started server does after listening (server.ts), finished before the measurement: the embedded store's
  // live sessions loaded into memory. Its time and memory are reported.
  const rssBeforeWarm = process.memoryUsage().rss;
  const warmed = await app.sessions.warm();
  const warm = warmed && {
    rows: warmed.rows,
    seconds: Number((warmed.ms / 1000).toFixed(2)),
    rssGrowthMiB: Math.round((process.memoryUsage().rss - rssBeforeWarm) / 1048576),
  };
  await app.http.listen({ host: "127.0.0.1", port: 0 });
  const port = (app.http.server.address() as { port: number }).port;
  process.stdout.write(
    `${JSON.stringify({
      port,
      key,
      token: session.token,
      store: app.database.dialect,
      keptRowsWarm: warm,
      ...built,
      storeReused: kept !== null,
    })}\n`,
  );
  process.once("SIGTERM", async () => {
    await app.close();
    if (!keep) fs.rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  });
}
