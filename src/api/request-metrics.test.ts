import assert from "node:assert/strict";
import { describe, it } from "node:test";
import client from "prom-client";
import { registerRequestMetrics } from "./request-metrics.ts";

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

describe("request metrics", () => {
  it("expose the same text as prom-client's own Counter and Histogram fed the same requests", async () => {
    const theirs = new client.Registry();
    const count = new client.Counter({
      name: "mamori_http_requests_total",
      help: "HTTP requests by operation and status",
      labelNames: ["operation", "status"],
      registers: [theirs],
    });
    const time = new client.Histogram({
      name: "mamori_http_request_duration_seconds",
      help: "HTTP request duration by operation",
      labelNames: ["operation"],
      buckets: BUCKETS,
      registers: [theirs],
    });
    const ours = new client.Registry();
    const m = registerRequestMetrics(ours, {
      requests: "mamori_http_requests_total",
      duration: "mamori_http_request_duration_seconds",
      buckets: BUCKETS,
    });
    // On a bound, between bounds, above every bound, and several statuses per operation.
    const requests: [string, number, number][] = [
      ["assessEvent", 200, 0.0004],
      ["assessEvent", 200, 0.0005],
      ["assessEvent", 200, 0.003],
      ["assessEvent", 401, 0.00001],
      ["assessEvent", 200, 2.5],
      ["health", 200, 0.02],
      ["health", 503, 0.3],
    ];
    for (const [op, status, s] of requests) {
      count.labels(op, String(status)).inc();
      time.labels(op).observe(s);
      m.observe(op, status, s);
    }
    assert.equal(await ours.metrics(), await theirs.metrics());
  });

  it("an empty registry lists the metrics with no series", async () => {
    const r = new client.Registry();
    registerRequestMetrics(r, { requests: "a_total", duration: "b_seconds", buckets: [1] });
    assert.match(await r.metrics(), /# TYPE a_total counter\n/);
    assert.match(await r.metrics(), /# TYPE b_seconds histogram\n/);
  });
});
