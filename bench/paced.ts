// An open-loop load generator: requests are due at evenly spaced times (`rate` per second) whatever the server is
// doing, and each latency is measured from the time its request was due, not from when it left — a server that falls
// behind is charged for the wait (no "coordinated omission").
//
// Why not autocannon's fixed-rate mode: each connection sends its whole second's quota back to back at the start of
// the second and then waits, so the load arrives in bursts; at 5,000/s it reported p90 460 ms / p99 828 ms for a bare
// Fastify route on this machine. And why not node:http: its client costs enough CPU on a 2-core machine shared with the
// server that the bare route measured p99 17 ms. This client writes prepared request bytes on plain keep-alive sockets
// (one request at a time per socket) and reads only the status line and Content-Length of each response. It looks
// for due requests every millisecond (a timer, not a busy loop that would take a core from the server), so a request
// may leave up to ~1 ms after it was due: that wait is counted in its latency.
//
// The client shares the machine's two cores with the server, so what it costs is part of every figure:
// - `pacedInChild` runs it in a process of its own that holds nothing but the requests. Run inside the benchmark's
//   own process, beside the in-process phase's heap (an RBA history of ~1M logins), the client's collections ran on
//   V8's helper threads on both cores at once, ~4 ms per thread (seen with `perf sched`), while the server waited.
// - Responses are read with `onread` into one buffer per socket, not through the socket's stream ('data' events and a
//   Buffer per read).
// - It reports its own CPU per request (`clientCpuUsPerRequest`), so the load it put on the machine is on record.
//
// Run as a program (what pacedInChild does): `node --import tsx bench/paced.ts`, the options as JSON on stdin; prints
// the result as JSON.
import { spawn } from "node:child_process";
import net from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface PacedOptions {
  url: string;
  headers: Record<string, string>;
  bodies: string[];
  rate: number;
  seconds: number;
  sockets?: number;
}

export interface PacedResult {
  offeredPerSec: number;
  sent: number;
  completed: number;
  reqPerSec: number;
  p50ms: number;
  p99ms: number;
  maxMs: number;
  non2xx: number;
  errors: number;
  /** CPU (user + system) the client itself used per completed request, µs. */
  clientCpuUsPerRequest: number;
}

interface Conn {
  socket: net.Socket;
  /** When the request on this socket was due; NaN while idle. */
  due: number;
  /** Bytes of a response that arrived in pieces; empty otherwise. */
  pending: Buffer;
}

const CR = 13;
const LF = 10;
/** Reads are done into one buffer per socket; a response is small (the assess route's is < 2 KB). */
const READ_BUFFER = 64 * 1024;

/** Offset just past the blank line ending the header in b[from, to), or -1. */
function headerEnd(b: Buffer, from: number, to: number): number {
  for (let i = from + 3; i < to; i++) {
    if (b[i] === LF && b[i - 1] === CR && b[i - 2] === LF && b[i - 3] === CR) return i + 1;
  }
  return -1;
}

/** The Content-Length of the header in b[from, end) (0 when absent). */
function contentLength(b: Buffer, from: number, end: number): number {
  const m = /\r\ncontent-length: *(\d+)/i.exec(b.toString("latin1", from, end));
  return m ? Number(m[1]) : 0;
}

export async function paced(opts: PacedOptions): Promise<PacedResult> {
  const cpu0 = process.cpuUsage();
  const u = new URL(opts.url);
  const head = Object.entries({ host: u.host, connection: "keep-alive", ...opts.headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  const requests = opts.bodies.map((b) =>
    Buffer.from(`POST ${u.pathname} HTTP/1.1\r\n${head}content-length: ${Buffer.byteLength(b)}\r\n\r\n${b}`),
  );
  // Sized for every request of the run up front: no array growth (and copying) while measuring.
  const lat = new Float64Array(Math.ceil(opts.rate * opts.seconds) + 16);
  let done = 0;
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  const queue: number[] = []; // due times of requests waiting for a free socket
  const idle: Conn[] = [];

  const dispatch = (c: Conn, due: number) => {
    c.due = due;
    c.socket.write(requests[sent++ % requests.length]!);
  };
  const finished = (c: Conn, status: number) => {
    if (done < lat.length) lat[done] = performance.now() - c.due;
    done++;
    if (status < 200 || status >= 300) non2xx++;
    c.due = Number.NaN;
    const next = queue.shift();
    if (next !== undefined) dispatch(c, next);
    else idle.push(c);
  };
  /** Takes every whole response in b[0, n); keeps a partial one in c.pending. */
  const take = (c: Conn, b: Buffer, n: number) => {
    let at = 0;
    while (at < n) {
      const end = headerEnd(b, at, n);
      if (end < 0) break;
      const total = end - at + contentLength(b, at, end);
      if (n - at < total) break;
      // "HTTP/1.1 200": the status is the three digits at 9.
      finished(c, (b[at + 9]! - 48) * 100 + (b[at + 10]! - 48) * 10 + (b[at + 11]! - 48));
      at += total;
    }
    c.pending = at < n ? Buffer.from(b.subarray(at, n)) : Buffer.alloc(0);
  };
  const open = () =>
    new Promise<Conn>((resolve, reject) => {
      const buffer = Buffer.alloc(READ_BUFFER);
      const c: Conn = { socket: undefined as unknown as net.Socket, due: Number.NaN, pending: Buffer.alloc(0) };
      c.socket = net.connect(
        {
          host: u.hostname,
          port: Number(u.port),
          noDelay: true,
          onread: {
            buffer,
            callback: (n: number, b: Uint8Array) => {
              const buf = b as Buffer;
              if (c.pending.length === 0) take(c, buf, n);
              else {
                const joined = Buffer.concat([c.pending, buf.subarray(0, n)]);
                take(c, joined, joined.length);
              }
              return true;
            },
          },
        },
        () => resolve(c),
      );
      c.socket.on("error", (e) => {
        errors++;
        reject(e);
      });
    });
  const conns = await Promise.all(Array.from({ length: opts.sockets ?? 64 }, open));
  idle.push(...conns);

  const interval = 1000 / opts.rate;
  const start = performance.now();
  const end = start + opts.seconds * 1000;
  let scheduled = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = Math.min(performance.now(), end);
      // Every request due by now leaves now (or waits for a socket); its latency counts from when it was due.
      while (start + scheduled * interval <= now) {
        const due = start + scheduled * interval;
        scheduled++;
        const c = idle.pop();
        if (c) dispatch(c, due);
        else queue.push(due);
      }
      if (now >= end) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  // Let what is in flight finish (bounded: 10 s).
  const deadline = performance.now() + 10_000;
  while (done + errors < scheduled && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  for (const c of conns) c.socket.destroy();
  const elapsed = (performance.now() - start) / 1000;
  const sorted = lat.slice(0, Math.min(done, lat.length)).sort();
  const q = (p: number) => Number((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0).toFixed(2));
  const cpu = process.cpuUsage(cpu0);
  return {
    offeredPerSec: opts.rate,
    sent,
    completed: done,
    reqPerSec: Math.round(done / elapsed),
    p50ms: q(0.5),
    p99ms: q(0.99),
    maxMs: Number((sorted[sorted.length - 1] ?? 0).toFixed(2)),
    non2xx,
    errors,
    clientCpuUsPerRequest: done ? Number(((cpu.user + cpu.system) / done).toFixed(1)) : 0,
  };
}

/**
 * `paced` in a process of its own (see the top of this file); with `warmUpSeconds`, a first run that is not kept.
 * `onMeasuring` is called when the kept run starts.
 */
export async function pacedInChild(
  opts: PacedOptions & { warmUpSeconds?: number },
  onMeasuring?: () => void,
): Promise<PacedResult> {
  const proc = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  let result = "";
  createInterface({ input: proc.stdout }).on("line", (line) => {
    if (line === "measuring") onMeasuring?.();
    else result = line;
  });
  const exited = new Promise<number | null>((r) => proc.once("exit", r));
  proc.stdin.end(JSON.stringify(opts));
  const code = await exited;
  if (code !== 0) throw new Error(`bench/paced.ts exited ${code}`);
  return JSON.parse(result) as PacedResult;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let input = "";
  process.stdin.setEncoding("utf8");
  for await (const s of process.stdin) input += s;
  const opts = JSON.parse(input) as PacedOptions & { warmUpSeconds?: number };
  if (opts.warmUpSeconds) await paced({ ...opts, seconds: opts.warmUpSeconds });
  process.stdout.write("measuring\n");
  process.stdout.write(`${JSON.stringify(await paced(opts))}\n`);
}
