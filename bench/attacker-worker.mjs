// The attacker's client for bench/lockdown.ts, in its own thread so its timing does not depend on the server's event
// loop: polls introspectSession with a session token until the first refusal, then reports when it arrived.
import { parentPort, workerData } from "node:worker_threads";

const { url, apiKey, token } = workerData;
let requests = 0;
for (;;) {
  const res = await fetch(`${url}/v1/sessions/introspect`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ token }),
  });
  const j = await res.json();
  requests++;
  if (requests === 1) parentPort?.postMessage({ ready: true, active: j.active });
  if (!j.active) {
    // hrtime is one monotonic clock for every thread of the process (performance.timeOrigin is per thread).
    parentPort?.postMessage({ refusedAt: Number(process.hrtime.bigint()) / 1e6, requests });
    break;
  }
}
