import assert from "node:assert/strict";
import type { TestApp } from "../../src/testing/app.ts";

/** The owner's browser on the security center: opened from a one-time URL, cookies kept, forms posted with CSRF. */
export interface PortalBrowser {
  cookie: string;
  get(path?: string): Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>;
  /** A form post from the page itself (same-origin, the page's CSRF token unless `csrf` is given). */
  post(
    path: string,
    form: Record<string, string>,
    opts?: { site?: string; csrf?: string | null },
  ): Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>;
  /** The CSRF token of the last page read. */
  csrf(): string;
}

const cookiesOf = (r: { headers: Record<string, unknown> }) => {
  const raw = r.headers["set-cookie"];
  return (Array.isArray(raw) ? raw : [raw])
    .filter((x): x is string => typeof x === "string")
    .map((c) => c.split(";")[0]!);
};

export async function openPortal(t: TestApp, sessionToken: string): Promise<PortalBrowser> {
  const r = await t.call("POST", "/v1/portal-sessions", undefined, { session: sessionToken });
  assert.equal(r.statusCode, 201, r.body);
  const url = new URL(r.json().url);
  const jar = new Map<string, string>();
  const keep = (res: { headers: Record<string, unknown> }) => {
    for (const c of cookiesOf(res)) {
      const [k, v = ""] = c.split("=");
      if (v === "") jar.delete(k!);
      else jar.set(k!, v);
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  const entered = await t.app.http.inject({ method: "GET", url: `${url.pathname}${url.search}` });
  assert.equal(entered.statusCode, 303, entered.body);
  keep(entered);
  let token = "";
  const remember = (body: string) => {
    const m = body.match(/name="csrf" value="([^"]+)"/);
    if (m) token = m[1]!;
  };
  const b: PortalBrowser = {
    get cookie() {
      return cookie();
    },
    async get(path = "/portal/") {
      const res = await t.app.http.inject({
        method: "GET",
        url: path,
        headers: { accept: "text/html", cookie: cookie() },
      });
      keep(res);
      remember(res.body);
      return res;
    },
    async post(path, form, opts = {}) {
      const csrf = opts.csrf === undefined ? token : opts.csrf;
      const res = await t.app.http.inject({
        method: "POST",
        url: path,
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          accept: "text/html",
          cookie: cookie(),
          "sec-fetch-site": opts.site ?? "same-origin",
        },
        payload: new URLSearchParams(csrf === null ? form : { csrf, ...form }).toString(),
      });
      keep(res);
      remember(res.body);
      return res;
    },
    csrf: () => token,
  };
  return b;
}

/** Text of a page without tags, for matching what a reader sees. */
export const textOf = (html: string) =>
  html
    .replace(/<[^>]+>/g, " ")
    .replace(/&amp;/g, "&")
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/\s+/g, " ");
