import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, type TestApp, TOKYO } from "../testing/app.ts";
import { PERMISSIVE_POLICY } from "./default-policy.ts";
import { createDbFeatureSource, type RiskFeatureSource } from "./features.ts";
import { createRiskService } from "./service.ts";
import { createMemoryVelocityStore } from "./velocity-memory.ts";

// PostgreSQL stopped under load (test/cluster/postgres-restarts-under-load) ended a node: a decision reads the
// account's snapshot and its sign-in networks at once, both reads failed, and the one left un-awaited behind the
// snapshot's rejection was an unhandled rejection, which ends a Node process. The request must fail (the API maps it
// to 503 `unavailable`); the node must not.
describe("store-gone-mid-decision", () => {
  let t: TestApp;
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  before(async () => {
    t = await makeTestApp();
    process.on("unhandledRejection", onUnhandled);
  });
  after(async () => {
    process.off("unhandledRejection", onUnhandled);
    await t.close();
  });

  it("both reads failing fails the decision with the store's error and leaves no rejection unhandled", async () => {
    const { accountId } = await t.signUp("store-gone@example.jp");
    const real = createDbFeatureSource(t.app.database.db);
    const gone = () =>
      Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" });
    let networkRead = 0;
    const failing: RiskFeatureSource = {
      ...real,
      snapshot: async () => {
        throw gone();
      },
      // Fails a little after the snapshot: by then the decision has stopped waiting on anything.
      firstSeenNetwork: async () => {
        networkRead++;
        await new Promise((r) => setTimeout(r, 20));
        throw gone();
      },
    };
    const risk = createRiskService({
      db: t.app.database.db,
      clock: t.clock,
      enricher: { enrich: (c) => t.app.identity.enrich(c) },
      velocity: createMemoryVelocityStore(),
      initialPolicy: PERMISSIVE_POLICY,
      features: failing,
    });
    await risk.start();
    try {
      await assert.rejects(
        risk.assessEvent({ type: "login", accountId, context: TOKYO }),
        (e: Error & { code?: string }) => e.code === "57P01",
      );
      assert.equal(networkRead, 1, "the network read was started beside the snapshot");
      await new Promise((r) => setTimeout(r, 60));
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(unhandled, [], "no rejection went unhandled");
    } finally {
      await risk.close();
    }
  });
});
