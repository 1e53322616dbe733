import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import { openStore } from "../store.ts";

// The embedded store shares its file with other processes (the CLI, a second server). A transaction of the server
// that reads and then writes must not fail because one of them committed in between.
describe("a second writer on the embedded store's file", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mamori-second-writer-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a read-then-write transaction waits for the other writer instead of failing (SQLITE_BUSY_SNAPSHOT)", {
    timeout: 30_000,
  }, async () => {
    const file = path.join(dir, "race.sqlite");
    const h = openStore({ dataDir: dir, sqliteFile: "race.sqlite" });
    await h.migrate();
    // The other writer: its own connection on another thread, committing small writes back to back until told.
    const other = new Worker(
      `const { parentPort, workerData } = require("node:worker_threads");
       const db = new (require(workerData.module))(workerData.file);
       db.pragma("busy_timeout = 5000");
       const ins = db.prepare("insert into instance (key, value) values (?, 'other')");
       let stop = false, n = 0;
       parentPort.on("message", () => { stop = true; });
       const loop = () => { for (let i = 0; i < 20 && !stop; i++) ins.run("o" + n++); if (stop) { db.close(); parentPort.postMessage(n); } else setImmediate(loop); };
       parentPort.postMessage("ready");
       loop();`,
      { eval: true, workerData: { file, module: createRequire(import.meta.url).resolve("better-sqlite3") } },
    );
    await new Promise((r) => other.once("message", r));
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        h.db.transaction().execute(async (t) => {
          await t.selectFrom("instance").select("key").limit(1).execute();
          await new Promise((r) => setTimeout(r, 2)); // the other thread commits meanwhile
          await t
            .insertInto("instance")
            .values({ key: `k${i}`, value: "v" })
            .execute();
        }),
      ),
    );
    other.postMessage("stop");
    const theirs = await new Promise<number>((r) => other.once("message", r));
    const failed = results
      .filter((r) => r.status === "rejected")
      .map((r) => String((r as PromiseRejectedResult).reason));
    assert.deepEqual(failed, [], "no transaction of this process failed");
    assert.ok(theirs > 0, "the other writer committed meanwhile");
    await other.terminate();
    await h.close();
  });
});
