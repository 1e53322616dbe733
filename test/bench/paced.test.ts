// The benchmark's open-loop client (bench/paced.ts) reads responses itself, from one buffer per socket: a response
// split across reads, a status other than 2xx, or a body with a blank line in it must still count as one response.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, test } from "node:test";
import { paced, pacedInChild } from "../../bench/paced.ts";

let server: net.Server;
let url = "";
let requests = 0;

before(async () => {
  // One request at a time per socket (as the client sends). Every third answer is a 503; every other answer leaves in
  // three writes (part of the header, the rest of it, then the body) a millisecond apart.
  server = net.createServer((socket) => {
    let buf = "";
    socket.setNoDelay(true);
    // The client destroys its sockets when its run ends.
    socket.on("error", () => {});
    socket.on("data", (d) => {
      buf += d.toString("latin1");
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const len = Number(/content-length: *(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        buf = buf.slice(end + 4 + len);
        const n = ++requests;
        const body = n % 3 === 0 ? '{"error":"busy"}' : '{"ok":true,\r\n\r\n"n":1}';
        const status = n % 3 === 0 ? "503 Service Unavailable" : "200 OK";
        const head = `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
        if (n % 2 === 0) socket.write(head + body);
        else {
          // Chained: two timers of different lengths may fire in either order when both are due.
          socket.write(head.slice(0, 20));
          setTimeout(() => {
            socket.write(head.slice(20));
            setTimeout(() => socket.write(body), 1);
          }, 1);
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/x`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

test("paced counts every response once, split or whole, and the non-2xx ones", async () => {
  requests = 0;
  const r = await paced({
    url,
    headers: { "content-type": "application/json" },
    bodies: ["{}"],
    rate: 400,
    seconds: 1,
  });
  assert.equal(r.errors, 0);
  assert.equal(r.completed, r.sent);
  assert.equal(r.completed, requests);
  assert.ok(r.sent >= 390 && r.sent <= 410, `sent ${r.sent}`);
  assert.equal(r.non2xx, Math.floor(requests / 3));
  assert.ok(r.p50ms > 0 && r.p99ms >= r.p50ms && r.maxMs >= r.p99ms);
  assert.ok(r.clientCpuUsPerRequest > 0);
});

test("pacedInChild runs the same client in a process of its own and says when the kept run starts", async () => {
  requests = 0;
  let measuring = -1;
  const r = await pacedInChild({ url, headers: {}, bodies: ["{}"], rate: 200, seconds: 1, warmUpSeconds: 0.5 }, () => {
    measuring = requests;
  });
  // The warm-up's requests were answered before the kept run began, and are not in its figures.
  assert.ok(measuring >= 90, `requests before the kept run: ${measuring}`);
  assert.equal(r.completed, r.sent);
  assert.ok(r.sent >= 190 && r.sent <= 210, `sent ${r.sent}`);
  assert.equal(r.errors, 0);
});
