import { createHash } from "node:crypto";
import type { Clock } from "../shared/clock.ts";

/**
 * What an online breach check found. `not_checked` (endpoint slow, down, or answering nonsense) never refuses a
 * password: the bundled list and the other rules still apply, and a sign-up must not wait on a third party.
 */
export type RangeResult = "pwned" | "clean" | "not_checked";

export interface PwnedRangeCheck {
  check(password: string): Promise<RangeResult>;
}

export interface PwnedRangeOptions {
  /** the range endpoint without the prefix, e.g. https://api.pwnedpasswords.com/range; `/{PREFIX}` is appended */
  url: string;
  clock: Clock;
  /** per request, connection to last body byte (default 1500 ms) */
  timeoutMs?: number;
  /** how long an answer for a prefix is reused (default 5 min) */
  cacheMs?: number;
  /** after a failure, the endpoint is not asked again for this long (default 30 s), so a hung endpoint slows one sign-up, not all */
  backoffMs?: number;
  onError?: (err: unknown) => void;
  fetch?: typeof fetch;
}

const PREFIX_LENGTH = 5;
// A real answer is ~40 KB with padding (about 800–1,000 lines of 40 bytes); more is not a range answer.
const MAX_BODY = 512 * 1024;
const MAX_CACHED_PREFIXES = 128;

/**
 * The k-anonymity range check of Have I Been Pwned's Pwned Passwords API (and of any server speaking its protocol):
 * only the first 5 hex digits of the password's SHA-1 leave the process; the endpoint answers every suffix it holds
 * under that prefix as `SUFFIX:COUNT` lines, and the match happens here. `Add-Padding: true` asks for decoy lines
 * (count 0) so the answer's size does not tell an observer which prefix was asked.
 */
export function createPwnedRangeCheck(opts: PwnedRangeOptions): PwnedRangeCheck {
  const base = opts.url.replace(/\/+$/, "");
  const timeoutMs = opts.timeoutMs ?? 1500;
  const cacheMs = opts.cacheMs ?? 5 * 60_000;
  const backoffMs = opts.backoffMs ?? 30_000;
  const doFetch = opts.fetch ?? fetch;
  // prefix → the answer's body; a Map iterates in insertion order, so the first key is the oldest.
  const cache = new Map<string, { until: number; body: string }>();
  let downUntil = 0;

  /** The endpoint's answer for a prefix, from the cache while fresh; only answers that parsed are cached. */
  async function lookup(prefix: string, suffix: string): Promise<number> {
    const hit = cache.get(prefix);
    if (hit && hit.until > opts.clock.now()) return countFor(hit.body, suffix);
    const res = await doFetch(`${base}/${prefix}`, {
      headers: { "Add-Padding": "true", "User-Agent": "mamori-password-policy" },
      redirect: "error",
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`range endpoint answered HTTP ${res.status}`);
    }
    const body = await readCapped(res);
    const count = countFor(body, suffix);
    cache.delete(prefix);
    cache.set(prefix, { until: opts.clock.now() + cacheMs, body });
    while (cache.size > MAX_CACHED_PREFIXES) cache.delete(cache.keys().next().value!);
    return count;
  }

  return {
    async check(password) {
      if (opts.clock.now() < downUntil) return "not_checked";
      const sha1 = createHash("sha1").update(password, "utf8").digest("hex").toUpperCase();
      try {
        const count = await lookup(sha1.slice(0, PREFIX_LENGTH), sha1.slice(PREFIX_LENGTH));
        return count > 0 ? "pwned" : "clean";
      } catch (e) {
        downUntil = opts.clock.now() + backoffMs;
        opts.onError?.(e);
        return "not_checked";
      }
    },
  };
}

/**
 * The count on the suffix's line; 0 when absent or a padding line. Throws on a body that is not a range answer (an
 * HTML error page with status 200 must read as "not checked", not as "clean"). An empty body is a valid answer.
 */
function countFor(body: string, suffix: string): number {
  for (const raw of body.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    const m = /^([0-9A-Fa-f]{35}):(\d+)$/.exec(line);
    if (!m) throw new Error("range endpoint answered something that is not SUFFIX:COUNT lines");
    if (m[1]!.toUpperCase() === suffix) return Number(m[2]);
  }
  return 0;
}

async function readCapped(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY) {
      await reader.cancel();
      throw new Error(`range answer over ${MAX_BODY} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
