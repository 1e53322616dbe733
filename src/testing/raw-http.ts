import net from "node:net";

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * One HTTP/1.1 request over a bare socket from a client that reads nothing until it has written its whole request
 * (a blocking client, `curl -T`): the kind that meets a reset socket, and no answer, when a server closes on a body it
 * refused while the body is still coming. Rejects with the socket's error (EPIPE, ECONNRESET) if that happens.
 */
export function rawRequest(
  port: number,
  opts: { method: string; path: string; headers: Record<string, string>; body: Buffer; chunked?: boolean },
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    s.pause();
    const chunks: Buffer[] = [];
    s.on("error", reject);
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      const [statusLine = "", ...lines] = text.slice(0, split).split("\r\n");
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(":");
        headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      let body = text.slice(split + 4);
      if (headers["transfer-encoding"] === "chunked") body = dechunk(body);
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body });
      s.destroy();
    });
    const framing = opts.chunked ? { "transfer-encoding": "chunked" } : { "content-length": String(opts.body.length) };
    const head = Object.entries({ host: "mamori.test", connection: "close", ...opts.headers, ...framing })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
    s.write(`${opts.method} ${opts.path} HTTP/1.1\r\n${head}\r\n`);
    const readAnswer = () => s.resume();
    if (opts.chunked) {
      s.write(`${opts.body.length.toString(16)}\r\n`);
      s.write(opts.body);
      s.write("\r\n0\r\n\r\n", readAnswer);
    } else s.write(opts.body, readAnswer);
  });
}

function dechunk(text: string): string {
  let out = "";
  let rest = text;
  for (;;) {
    const nl = rest.indexOf("\r\n");
    const size = Number.parseInt(rest.slice(0, nl), 16);
    if (!size) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
}
