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
import net from "node:net";

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
}

interface Conn {
  socket: net.Socket;
  /** When the request on this socket was due; NaN while idle. */
  due: number;
  buf: Buffer;
}

const HEADER_END = Buffer.from("\r\n\r\n");

export async function paced(opts: {
  url: string;
  headers: Record<string, string>;
  bodies: string[];
  rate: number;
  seconds: number;
  sockets?: number;
}): Promise<PacedResult> {
  const u = new URL(opts.url);
  const head = Object.entries({ host: u.host, connection: "keep-alive", ...opts.headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  const requests = opts.bodies.map((b) =>
    Buffer.from(`POST ${u.pathname} HTTP/1.1\r\n${head}content-length: ${Buffer.byteLength(b)}\r\n\r\n${b}`),
  );
  const lat: number[] = [];
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
    lat.push(performance.now() - c.due);
    if (status < 200 || status >= 300) non2xx++;
    c.due = Number.NaN;
    const next = queue.shift();
    if (next !== undefined) dispatch(c, next);
    else idle.push(c);
  };
  const open = () =>
    new Promise<Conn>((resolve, reject) => {
      const socket = net.connect({ host: u.hostname, port: Number(u.port), noDelay: true }, () => resolve(c));
      const c: Conn = { socket, due: Number.NaN, buf: Buffer.alloc(0) };
      socket.on("error", (e) => {
        errors++;
        reject(e);
      });
      socket.on("data", (chunk: Buffer) => {
        c.buf = c.buf.length ? Buffer.concat([c.buf, chunk]) : chunk;
        for (;;) {
          const end = c.buf.indexOf(HEADER_END);
          if (end < 0) return;
          const header = c.buf.toString("latin1", 0, end);
          const m = /\r\ncontent-length: *(\d+)/i.exec(header);
          const total = end + 4 + (m ? Number(m[1]) : 0);
          if (c.buf.length < total) return;
          c.buf = c.buf.subarray(total);
          finished(c, Number(header.slice(9, 12)));
        }
      });
    });
  const conns = await Promise.all(Array.from({ length: opts.sockets ?? 64 }, open));
  idle.push(...conns);

  const interval = 1000 / opts.rate;
  const start = performance.now();
  const end = start + opts.seconds * 1000;
  let scheduled = 0;
  await new Promise<void>((done) => {
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
      if (now >= end) done();
      else setTimeout(tick, 1);
    };
    tick();
  });
  // Let what is in flight finish (bounded: 10 s).
  const deadline = performance.now() + 10_000;
  while (lat.length + errors < scheduled && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  for (const c of conns) c.socket.destroy();
  const elapsed = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => Number((lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0).toFixed(2));
  return {
    offeredPerSec: opts.rate,
    sent,
    completed: lat.length,
    reqPerSec: Math.round(lat.length / elapsed),
    p50ms: q(0.5),
    p99ms: q(0.99),
    maxMs: Number((lat[lat.length - 1] ?? 0).toFixed(2)),
    non2xx,
    errors,
  };
}
