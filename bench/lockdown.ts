// Lockdown benchmark (issue 3): an account with 20 live sessions, 50 orders in the window, 10 changed attributes and
// 5 gift cards, locked down end to end; p50/p99 time to completion. Meanwhile the attacker's session polls
// introspectSession over HTTP from its own thread (4 requests in flight); measured from the lockdown's first commit
// (the freeze: a frozen account's sessions are refused from then on) to the first refusal — as the server wrote it
// (the first answer the watched node handed to its socket after the commit; and, as `serverAnswer`, from the later of
// the commit and that request's arrival) and as the attacker's client read it, on the one process-wide monotonic
// clock. On one node, and (with MAMORI_DATABASE_URL) across two nodes: two apps, each with its
// own connection pool and HTTP server, the lockdown on node A and the attacker on node B. Any acceptance read after
// the first refusal is counted (it must be 0).
//
//   npm run bench:lockdown                     embedded SQLite (temp dir, WAL, synchronous=FULL)
//   MAMORI_DATABASE_URL=postgres://… npm run bench:lockdown
//   BENCH_ACCOUNTS=30 (default 20)
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { openStore as openStoreWith } from "../src/store.ts";
import { ATTACKER, codeIn, makeTestApp, STRONG, STRONG2, type TestApp } from "../src/testing/app.ts";
import { testStores } from "../src/testing/stores.ts";

process.env.MAMORI_FAST_HASH = "1";
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 20);
const pgUrl = process.env.MAMORI_DATABASE_URL;
const dir = mkdtempSync(path.join(tmpdir(), "mamori-bench-lockdown-"));
const schema = `bench_${randomBytes(4).toString("hex")}`;

function openStore() {
  return pgUrl
    ? openStoreWith({ dataDir: "", databaseUrl: pgUrl, pgSchema: schema })
    : openStoreWith({ dataDir: dir, sqliteFile: "bench.sqlite" });
}

const ADDRESS = { name: "X", line1: "1 Drop St", city: "Osaka", postalCode: "530-0001", country: "JP" };

/** One taken-over account of the benchmark's shape; returns its id and a live attacker session token. */
async function victim(t: TestApp, n: number): Promise<{ accountId: string; attackerToken: string }> {
  const email = `v${n}-${randomBytes(3).toString("hex")}@example.jp`;
  const owner = await t.signUp(email);
  await t.verifyEmail(owner.token, email);
  const card = (
    await t.call("POST", "/v1/commerce/payment-instruments", { token: "tok_visa" }, { session: owner.token })
  ).json();
  t.clock.advance(3_600_000);
  const first = await t.signIn(email, STRONG, ATTACKER);
  if (!first.session) throw new Error(`attacker sign-in: ${JSON.stringify(first)}`);
  const s = first.session.token as string;
  const call = async (url: string, body: unknown) => {
    const r = await t.call("POST", url, body, { session: s });
    if (r.statusCode >= 300) throw new Error(`${url} ${r.statusCode} ${r.body}`);
    return r;
  };
  // Ten changed attributes: email, password, phone, three addresses, two cards, a setting, a listing.
  // Letters only: a 6-digit run in the address would be mistaken for the code in the mail.
  const tag = randomBytes(4)
    .toString("hex")
    .replace(/[0-9]/g, (d) => "ghijklmnop"[Number(d)] ?? "x");
  const newEmail = `atk-${tag}@attacker.example`;
  await call("/v1/email/change", { newEmail });
  const pending = await t.app.database.db
    .selectFrom("notifications")
    .select(["recipient", "body"])
    .where("template", "=", "email_change_code")
    .where("recipient", "=", newEmail)
    .executeTakeFirstOrThrow();
  await call("/v1/email/change/confirm", { code: codeIn(pending.body) });
  await call("/v1/password", { currentPassword: STRONG, newPassword: STRONG2 });
  await call("/v1/phones", { phone: `+1 415 555 ${String(1000 + n).slice(-4)}` });
  const addrs = [];
  for (let i = 0; i < 3; i++)
    addrs.push((await call("/v1/commerce/addresses", { ...ADDRESS, name: `Drop ${i}` })).json().id);
  await call("/v1/commerce/payment-instruments", { token: "tok_mastercard" });
  await call("/v1/commerce/payment-instruments", { token: "tok_visa" });
  const listing = (await call("/v1/commerce/listings", { title: "Book", price: 900, quantity: 1 })).json();
  await call(`/v1/commerce/listings/${listing.id}`, { price: 1 });
  // Credential changes ended the other sessions; the attacker signs in again until 20 are live.
  const tokens: string[] = [s];
  for (let i = 0; i < 19; i++) {
    // Distinct attacker IPs (one /24 abroad), as a botnet would: the per-IP sign-in limit is not what is measured.
    const r = await t.signIn(newEmail, STRONG2, { ...ATTACKER, ip: `8.8.${n % 250}.${i + 1}` });
    if (!r.session) throw new Error(`attacker sign-in: ${JSON.stringify(r)}`);
    tokens.push(r.session.token);
  }
  // Fifty orders from the attacker's sessions: pending, authorized and captured; one of five gift cards.
  const pay = { method: "instrument", instrumentId: card.id };
  for (let i = 0; i < 49; i++) {
    const session = tokens[i % tokens.length] as string;
    const kind = i % 3;
    const body =
      kind === 0
        ? { items: [{ category: "digital", sku: "e", title: "E-book", quantity: 1, unitPrice: 1200 }] }
        : kind === 1
          ? {
              items: [{ category: "physical", sku: "tv", title: "TV", quantity: 1, unitPrice: 8000 }],
              addressId: addrs[0],
              payment: pay,
            }
          : { items: [{ category: "digital", sku: "a", title: "App", quantity: 1, unitPrice: 600 }], payment: pay };
    await t.call("POST", "/v1/commerce/orders", body, { session });
  }
  await call("/v1/commerce/orders", {
    items: [
      {
        category: "gift_card",
        sku: "gc",
        title: "Gift card",
        quantity: 5,
        unitPrice: 2500,
        recipientEmail: "drop@attacker.example",
      },
    ],
    payment: pay,
  });
  t.clock.advance(60_000);
  return { accountId: owner.accountId, attackerToken: tokens[1] as string };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}
const r2 = (x: number) => Math.round(x * 100) / 100;
const stats = (xs: number[], name: string) => ({
  [`${name}P50`]: r2(pct(xs, 50)),
  [`${name}P99`]: r2(pct(xs, 99)),
  [`${name}Max`]: r2(Math.max(...xs)),
});

/** The attacker polling introspectSession from its own thread; resolves with the absolute time of the first refusal. */
function attackerLoop(url: string, apiKey: string, token: string) {
  const w = new Worker(new URL("./attacker-worker.mjs", import.meta.url), {
    workerData: { url, apiKey, token, concurrency: 4 },
  });
  let onReady: (e?: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    onReady = (e) => (e ? reject(e) : resolve());
  });
  type Result = { refusedAt: number; requests: number; acceptedAfterRefusal: number };
  const refused = new Promise<Result>((resolve, reject) => {
    w.on("message", (m: Partial<Result> & { ready?: boolean; active?: boolean }) => {
      // A session already dead before the lockdown would measure a broken setup, not the lockdown.
      if (m.ready) onReady(m.active ? undefined : new Error("the attacker's session was not live at the start"));
      else resolve(m as Result);
    });
    w.on("error", reject);
  });
  return { ready, refused, done: () => w.terminate() };
}

async function main() {
  const store = pgUrl ? testStores[1]! : testStores[0]!;
  const db = openStore();
  await db.migrate();
  let commitAt = 0;
  const t = await makeTestApp(store, db, {
    now: Date.now() - 2 * 86_400_000,
    crashPoint: (name) => {
      if (name === "freeze:done") commitAt = Number(process.hrtime.bigint()) / 1e6;
    },
  });
  process.stderr.write(`setting up ${ACCOUNTS} accounts on ${db.dialect}…\n`);
  const victims = [];
  for (let i = 0; i < ACCOUNTS; i++) victims.push(await victim(t, i));
  const orders = await db.db.selectFrom("orders").select("id").execute();

  await t.app.http.listen({ host: "127.0.0.1", port: 0 });
  const addr = t.app.http.server.address();
  // Server side: when each node received each request and handed its answer to the socket (`res.end`: a small answer
  // is written to the kernel in that call; 'finish' would wait for the next turn of the loop, which the lockdown may
  // hold). The first answer after the commit is the refusal; its request may have arrived before the commit, or after
  // it when the client had nothing in flight.
  const written: { A: [number, number][]; B: [number, number][] } = { A: [], B: [] };
  const hr = () => Number(process.hrtime.bigint()) / 1e6;
  const watch = (server: import("node:http").Server, into: [number, number][]) =>
    server.on("request", (_req, res) => {
      const arrived = hr();
      const end = res.end.bind(res) as (...a: unknown[]) => unknown;
      res.end = ((...a: unknown[]) => {
        into.push([arrived, hr()]);
        return end(...a);
      }) as typeof res.end;
    });
  watch(t.app.http.server, written.A);
  const urlA = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;

  // Node B: a second app on the same store with its own pool and server (PostgreSQL only: SQLite is one process).
  let nodeB: TestApp | undefined;
  let dbB: ReturnType<typeof openStoreWith> | undefined;
  let urlB: string | undefined;
  if (pgUrl) {
    dbB = openStoreWith({ dataDir: "", databaseUrl: pgUrl, pgSchema: schema });
    nodeB = await makeTestApp(store, dbB, { now: t.clock.now() });
    await nodeB.app.http.listen({ host: "127.0.0.1", port: 0 });
    watch(nodeB.app.http.server, written.B);
    const a = nodeB.app.http.server.address();
    urlB = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;
  }

  const durations: number[] = [];
  const oneNode: number[] = [];
  const twoNodes: number[] = [];
  const oneNodeServer: number[] = [];
  const twoNodesServer: number[] = [];
  const oneNodeAnswer: number[] = [];
  const twoNodesAnswer: number[] = [];
  let polled = 0;
  let acceptedAfterRefusal = 0;
  for (const [i, v] of victims.entries()) {
    // Alternate: even accounts are watched on node A, odd ones on node B (when there is one).
    const watchB = nodeB !== undefined && urlB !== undefined && i % 2 === 1;
    const loop = attackerLoop(
      watchB ? (urlB as string) : urlA,
      watchB ? (nodeB as TestApp).apiKey : t.apiKey,
      v.attackerToken,
    );
    await loop.ready;
    written.A.length = 0;
    written.B.length = 0;
    const t0 = performance.now();
    await t.app.response.lockdownAccount({ accountId: v.accountId, reason: "bench", openedBy: "admin:bench" });
    durations.push(performance.now() - t0);
    const res = await loop.refused;
    await loop.done();
    polled += res.requests;
    acceptedAfterRefusal += res.acceptedAfterRefusal;
    (watchB ? twoNodes : oneNode).push(res.refusedAt - commitAt);
    const first = (watchB ? written.B : written.A).find(([, done]) => done > commitAt);
    (watchB ? twoNodesServer : oneNodeServer).push(first ? first[1] - commitAt : Number.NaN);
    // The server's own share: from the later of the commit and the request's arrival to its answer.
    (watchB ? twoNodesAnswer : oneNodeAnswer).push(first ? first[1] - Math.max(commitAt, first[0]) : Number.NaN);
  }
  const report = await t.app.response.getCase((await t.app.response.listCases({ limit: 1 }))[0]?.id ?? "");
  const out = {
    store: db.dialect,
    accounts: ACCOUNTS,
    perAccount: {
      sessions: 20,
      ordersInWindow: Math.round(orders.length / ACCOUNTS),
      changedAttributes: 10,
      giftCards: 5,
      reportObjects: report.objects.length,
    },
    lockdownMs: { p50: r2(pct(durations, 50)), p99: r2(pct(durations, 99)), max: r2(Math.max(...durations)) },
    commitToFirstRefusalMs: {
      oneNode: {
        ...stats(oneNodeServer, "server"),
        ...stats(oneNodeAnswer, "serverAnswer"),
        ...stats(oneNode, "client"),
        n: oneNode.length,
      },
      ...(twoNodes.length
        ? {
            twoNodes: {
              ...stats(twoNodesServer, "server"),
              ...stats(twoNodesAnswer, "serverAnswer"),
              ...stats(twoNodes, "client"),
              n: twoNodes.length,
            },
          }
        : {}),
    },
    attackerRequests: polled,
    acceptedAfterRefusal,
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  await nodeB?.close();
  await dbB?.close();
  await t.close();
  await db.close();
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
