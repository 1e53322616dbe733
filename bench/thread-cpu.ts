import fs from "node:fs";

/**
 * CPU time (ns) each thread of a process has run so far, by thread id (Linux /proc; empty elsewhere). The server's
 * main thread is the one whose id is the process id.
 */
export function threadCpuNs(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      const ns = Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
      if (Number.isFinite(ns)) out.set(Number(t), ns);
    }
  } catch {
    // Not Linux, or the process is gone: no figures.
  }
  return out;
}

/** µs of CPU per request on the server's main thread and on its other threads (GC helpers, the decision-log writer). */
export function cpuPerRequest(pid: number, before: Map<number, number>, requests: number) {
  const after = threadCpuNs(pid);
  if (after.size === 0 || requests === 0) return null;
  let main = 0;
  let others = 0;
  for (const [tid, ns] of after) {
    const d = ns - (before.get(tid) ?? 0);
    if (tid === pid) main += d;
    else others += d;
  }
  const us = (ns: number) => Number((ns / 1e3 / requests).toFixed(1));
  return { mainThreadUs: us(main), otherThreadsUs: us(others) };
}
