import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Fastify from "fastify";
import { dependencyDown, errorHandler, toHttpError, UNAVAILABLE_RETRY_AFTER_SECONDS } from "../../src/api/errors.ts";

// A store or Redis that goes away mid-request (a restart, a failover) must give the client a retryable refusal that
// says nothing of the cause: 503 `unavailable`, never a 500 that the client treats as final, and never the driver's
// message (an address, a port, "terminating connection due to administrator command"). The same under load across
// nodes: test/cluster/postgres-restarts-under-load.test.ts.
const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: "FATAL" });

describe("a store outage answers 503 leaking nothing", () => {
  const down: [string, unknown][] = [
    ["connection refused", Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" })],
    ["server shutting down (57P01)", pgError("57P01", "terminating connection due to administrator command")],
    ["server starting up (57P03)", pgError("57P03", "the database system is starting up")],
    ["connection exception (08006)", pgError("08006", "connection failure")],
    ["connection cut mid-query", new Error("Connection terminated unexpectedly")],
    ["client no longer queryable", new Error("Client has encountered a connection error and is not queryable")],
    ["pool timeout", new Error("timeout exceeded when trying to connect")],
    [
      "Redis gave up retrying",
      Object.assign(new Error("Reached the max retries per request limit (which is 1)."), {
        name: "MaxRetriesPerRequestError",
      }),
    ],
    ["Redis connection closed", new Error("Connection is closed.")],
    [
      "Node's connect over several addresses",
      Object.assign(new AggregateError([Object.assign(new Error("x"), { code: "ECONNREFUSED" })], "")),
    ],
    ["wrapped", new Error("query failed", { cause: pgError("57P01", "terminating connection") })],
  ];
  for (const [what, err] of down) {
    it(`${what}: 503 unavailable, no internals`, () => {
      assert.equal(dependencyDown(err), true);
      const { status, body } = toHttpError(err);
      assert.equal(status, 503);
      assert.deepEqual(body, { error: { code: "unavailable", message: "A dependency is unavailable." } });
    });
  }

  it("the 503 says when to retry (Retry-After), a 500 does not", async () => {
    const app = Fastify({ logger: false });
    app.setErrorHandler(errorHandler);
    app.get("/down", async () => {
      throw pgError("57P01", "terminating connection due to administrator command");
    });
    app.get("/bug", async () => {
      throw new TypeError("cannot read properties of undefined");
    });
    try {
      const down = await app.inject({ method: "GET", url: "/down" });
      assert.equal(down.statusCode, 503);
      assert.equal(down.headers["retry-after"], String(UNAVAILABLE_RETRY_AFTER_SECONDS));
      assert.equal(down.json().error.code, "unavailable");
      const bug = await app.inject({ method: "GET", url: "/bug" });
      assert.equal(bug.statusCode, 500);
      assert.equal(bug.headers["retry-after"], undefined);
    } finally {
      await app.close();
    }
  });

  it("a bug or a refused statement stays a 500 internal_error", () => {
    for (const err of [
      new TypeError("cannot read properties of undefined"),
      pgError("23505", "duplicate key value violates unique constraint"),
      pgError("40P01", "deadlock detected"),
      pgError("42P01", 'relation "x" does not exist'),
    ]) {
      assert.equal(dependencyDown(err), false, String(err));
      assert.deepEqual(toHttpError(err), {
        status: 500,
        body: { error: { code: "internal_error", message: "Internal error." } },
      });
    }
  });
});
