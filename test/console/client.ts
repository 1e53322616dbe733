import type { LightMyRequestResponse } from "fastify";
import type { TestApp } from "../../src/testing/app.ts";

/**
 * A browser stand-in for route tests of the console: keeps cookies (honouring Path and Max-Age=0), sends
 * Sec-Fetch-Site like a browser does, follows 303s, and reads the CSRF token out of the last page's forms.
 */
export class ConsoleBrowser {
  cookies = new Map<string, { value: string; path: string; raw: string }>();
  last = "";
  lastStatus = 0;
  constructor(
    private readonly t: TestApp,
    private readonly ip = "203.0.113.50",
  ) {}

  private cookieHeader(url: string): string | undefined {
    const path = url.split("?")[0] ?? "/";
    const pairs = [...this.cookies.entries()]
      .filter(([, c]) => path === c.path || path.startsWith(c.path.endsWith("/") ? c.path : `${c.path}/`))
      .map(([k, c]) => `${k}=${c.value}`);
    return pairs.length ? pairs.join("; ") : undefined;
  }

  private keep(setCookie: string | string[] | undefined) {
    for (const raw of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const [pair = "", ...attrs] = raw.split(";").map((x) => x.trim());
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const path = attrs.find((a) => a.toLowerCase().startsWith("path="))?.slice(5) ?? "/";
      if (/max-age=0/i.test(raw)) this.cookies.delete(name);
      else this.cookies.set(name, { value, path, raw });
    }
  }

  async request(
    method: "GET" | "POST",
    url: string,
    form?: Record<string, string>,
    opts: { site?: string; follow?: boolean } = {},
  ): Promise<LightMyRequestResponse> {
    const headers: Record<string, string> = { "sec-fetch-site": opts.site ?? "same-origin", accept: "text/html" };
    const cookie = this.cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    if (form) headers["content-type"] = "application/x-www-form-urlencoded";
    const r = await this.t.app.http.inject({
      method,
      url,
      headers,
      remoteAddress: this.ip,
      ...(form ? { payload: new URLSearchParams(form).toString() } : {}),
    });
    this.keep(r.headers["set-cookie"]);
    if (r.statusCode === 303 && opts.follow !== false) {
      const next = new URL(String(r.headers.location), `http://mamori.test${url}`);
      return this.request("GET", `${next.pathname}${next.search}`);
    }
    this.last = r.body;
    this.lastStatus = r.statusCode;
    return r;
  }

  get(url: string, opts: { follow?: boolean } = {}) {
    return this.request("GET", url, undefined, opts);
  }

  /** Posts a form of the last page, with its CSRF token (unless the test gives its own). */
  post(url: string, form: Record<string, string>, opts: { site?: string; follow?: boolean } = {}) {
    return this.request("POST", url, { csrf: this.csrf(), ...form }, opts);
  }

  csrf(): string {
    return /name="csrf" value="([^"]+)"/.exec(this.last)?.[1] ?? "";
  }

  hidden(name: string): string {
    return new RegExp(`name="${name}" value="([^"]+)"`).exec(this.last)?.[1] ?? "";
  }

  text(): string {
    return this.last
      .replace(/<[^>]+>/g, " ")
      .replace(/&amp;/g, "&")
      .replace(/\s+/g, " ");
  }
}
