import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local server speaking the Pwned Passwords range protocol (`GET /range/{5 hex}` → `SUFFIX:COUNT` lines), for
 * tests of the online breach check. It holds the SHA-1s of the passwords it is given, answers with padding lines
 * (count 0) when asked, and can be told to hang, fail or answer nonsense.
 */
export interface RangeServer {
  /** the base URL to configure, e.g. http://127.0.0.1:41234/range */
  url: string;
  /** what it was asked: path and the Add-Padding header */
  requests: { path: string; padding: string | undefined }[];
  mode: "answer" | "hang" | "error" | "garbage";
  close(): Promise<void>;
}

export const sha1Hex = (pw: string) => createHash("sha1").update(pw, "utf8").digest("hex").toUpperCase();

export async function startRangeServer(pwned: Record<string, number>): Promise<RangeServer> {
  const byPrefix = new Map<string, string[]>();
  for (const [pw, count] of Object.entries(pwned)) {
    const h = sha1Hex(pw);
    const lines = byPrefix.get(h.slice(0, 5)) ?? [];
    lines.push(`${h.slice(5)}:${count}`);
    byPrefix.set(h.slice(0, 5), lines);
  }
  const server = http.createServer((req, res) => {
    const path = req.url ?? "";
    const padding = req.headers["add-padding"] as string | undefined;
    s.requests.push({ path, padding });
    if (s.mode === "hang") return; // never answers; the client's timeout must end it
    if (s.mode === "error") {
      res.writeHead(500, { "content-type": "text/plain" }).end("internal error");
      return;
    }
    if (s.mode === "garbage") {
      res.writeHead(200, { "content-type": "text/html" }).end("<html>maintenance</html>");
      return;
    }
    const m = /^\/range\/([0-9A-F]{5})$/i.exec(path);
    if (!m) {
      res.writeHead(400).end();
      return;
    }
    const lines = [...(byPrefix.get(m[1]!.toUpperCase()) ?? [])];
    // Padding: decoy suffixes with count 0, as HIBP sends with Add-Padding: true.
    if (padding === "true") {
      for (let i = 0; i < 20; i++)
        lines.push(`${createHash("sha1").update(`pad${i}`).digest("hex").slice(5).toUpperCase()}:0`);
    }
    res.writeHead(200, { "content-type": "text/plain" }).end(lines.join("\r\n"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const s: RangeServer = {
    url: `http://127.0.0.1:${port}/range`,
    requests: [],
    mode: "answer",
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return s;
}
