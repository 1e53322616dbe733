import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { openStore } from "../../src/store.ts";
import { ATTACKER, makeTestApp, STRONG } from "../../src/testing/app.ts";
import { testStores } from "../../src/testing/stores.ts";

const BIN = path.join(import.meta.dirname, "..", "..", "bin", "mamori.js");

// Support reads a case's report from the shell; an unconfirmed store action changes the exit code.
describe("mamori case show", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mamori-case-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("prints the report, flagged actions first, and exits 3 while the store has not confirmed", async () => {
    const db = openStore({ dataDir: dir });
    await db.migrate();
    const t = await makeTestApp(testStores[0]!, db);
    const owner = await t.signUp("cli@example.jp");
    t.clock.advance(86_400_000);
    const atk = await t.signIn("cli@example.jp", STRONG, ATTACKER);
    await t.call(
      "POST",
      "/v1/commerce/orders",
      { items: [{ category: "digital", sku: "e", title: "E-book", quantity: 1, unitPrice: 900 }] },
      { session: atk.session.token },
    );
    await t.call("POST", "/v1/webhooks/endpoints", { url: "http://127.0.0.1:9/hooks" });
    const { caseId } = await t.app.response.lockdownAccount({
      accountId: owner.accountId,
      reason: "cli test",
      openedBy: "admin:test",
    });
    await t.close();
    await db.close();

    const env = { ...process.env, MAMORI_DATA_DIR: dir, MAMORI_FAST_HASH: "1" };
    const show = spawnSync(process.execPath, [BIN, "case", "show", caseId], { env, encoding: "utf8" });
    assert.equal(show.status, 3, show.stderr);
    assert.match(show.stdout, /FLAGGED: 1 action/);
    assert.match(show.stdout, /order .* cancel/);
    assert.match(show.stdout, /✔ notify_owner/);
    const list = spawnSync(process.execPath, [BIN, "case", "list"], { env, encoding: "utf8" });
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${caseId}\\s+locked_down`));
  });
});
