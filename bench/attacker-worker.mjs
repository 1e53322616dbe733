// The attacker's client for bench/lockdown.ts, in its own thread so its timing does not depend on the server's event
// loop: CONCURRENCY loops each poll introspectSession with the attacker's session token, so a request is always on its
// way to the server (one sequential poller measured its own send gaps, 0.5–5 ms, more than the server's answer). Reports
// when the first refusal arrived, and any acceptance that arrived after it (there must be none).
import { parentPort, workerData } from "node:worker_threads";

const { url, apiKey, token, concurrency = 4 } = workerData;
const WARM = 200;
let requests = 0;
let refusedAt = null;
let acceptedAfterRefusal = 0;
let stop = false;
const poll = async () => {
  while (!stop) {
    const res = await fetch(`${url}/v1/sessions/introspect`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ token }),
    });
    const j = await res.json();
    // hrtime is one monotonic clock for every thread of the process (performance.timeOrigin is per thread).
    const at = Number(process.hrtime.bigint()) / 1e6;
    requests++;
    // Ready once warm: a fresh thread's first fetches are slow (undici loads and compiles), and a cold client would
    // measure its own start-up, not the server (its second request came 10–20 ms after the first).
    if (!j.active && requests <= WARM) parentPort?.postMessage({ ready: true, active: false });
    if (requests === WARM) parentPort?.postMessage({ ready: true, active: j.active });
    if (j.active && refusedAt !== null) acceptedAfterRefusal++;
    if (!j.active && refusedAt === null) refusedAt = at;
    // Keep polling a little after the first refusal: an acceptance arriving later would be a hole.
    if (refusedAt !== null && at - refusedAt > 5) stop = true;
  }
};
await Promise.all(Array.from({ length: concurrency }, poll));
parentPort?.postMessage({ refusedAt, requests, acceptedAfterRefusal });
