import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { makeTestApp, type TestApp } from "../testing/app.ts";
import { createCsrf } from "./csrf.ts";
import { fromAcceptLanguage, pickLang } from "./i18n.ts";
import { Layout } from "./layout.tsx";
import { contentSecurityPolicy, sendPage } from "./render.ts";

describe("web kit: pages escape by construction and run no script", () => {
  let f: FastifyInstance;
  before(async () => {
    f = Fastify();
    f.get("/p", (req, reply) => {
      const evil = (req.query as { v: string }).v;
      return sendPage(
        reply,
        200,
        <Layout
          lang="ja"
          site={{ storeName: evil, supportContact: evil, timeZone: "Asia/Tokyo" }}
          root="./"
          title={evil}
        >
          <p title={evil}>{evil}</p>
        </Layout>,
      );
    });
    await f.ready();
  });
  after(() => f.close());

  it("text and attributes from input never become markup", async () => {
    const v = `"><script>alert(1)</script><img src=x onerror=alert(2)>`;
    const r = await f.inject({ method: "GET", url: `/p?v=${encodeURIComponent(v)}` });
    assert.equal(r.statusCode, 200);
    assert.ok(r.body.startsWith('<!doctype html><html lang="ja">'), r.body.slice(0, 60));
    assert.ok(!r.body.includes("<script"), "no script element");
    assert.ok(!r.body.includes("<img src=x"), "no injected element");
    assert.ok(r.body.includes("&lt;script>alert(1)&lt;/script>"));
    assert.ok(r.body.includes('title="&quot;>&lt;script>'), "attribute quote escaped");
  });

  it("the CSP forbids every script, inline or not, and frames; forms post only to us", async () => {
    const r = await f.inject({ method: "GET", url: "/p?v=x" });
    const csp = String(r.headers["content-security-policy"]);
    assert.match(csp, /(^|; )script-src 'none'(;|$)/);
    assert.match(csp, /(^|; )default-src 'none'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|nonce-|\*/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /form-action 'self'/);
    assert.equal(r.headers["referrer-policy"], "no-referrer");
    assert.equal(r.headers["cache-control"], "no-store");
    assert.equal(r.headers["x-content-type-options"], "nosniff");
  });

  it("the logo is allowed by its exact URL only, and cannot smuggle a directive", () => {
    const csp = contentSecurityPolicy({ imageUrls: ["https://shop.example/img/logo.png?v=1"] });
    assert.match(csp, /img-src 'self' https:\/\/shop\.example\/img\/logo\.png;/);
    const sneaky = contentSecurityPolicy({ imageUrls: ["https://shop.example/a;script-src%20*"] });
    assert.equal(sneaky.split("; ").filter((d) => d.startsWith("script-src")).length, 1);
    assert.match(sneaky, /script-src 'none'/);
  });
});

describe("web kit: language", () => {
  it("an explicit choice, then the account's language, then Accept-Language by quality, then Japanese", () => {
    assert.equal(pickLang({ chosen: "en", account: "ja" }), "en");
    assert.equal(pickLang({ chosen: "fr", account: "en", acceptLanguage: "ja" }), "en");
    assert.equal(pickLang({ acceptLanguage: "en-US,en;q=0.9,ja;q=0.8" }), "en");
    assert.equal(pickLang({ acceptLanguage: "fr-FR, ja;q=0.5, en;q=0.4" }), "ja");
    assert.equal(pickLang({ acceptLanguage: "en;q=0, de" }), "ja");
    assert.equal(pickLang({}), "ja");
    assert.equal(fromAcceptLanguage("JA-jp"), "ja");
    assert.equal(fromAcceptLanguage("en;q=abc, ja;q=0.1"), "ja");
  });
});

describe("web kit: CSRF for forms without a single-use token", () => {
  const csrf = createCsrf({ key: Buffer.alloc(32, 7), publicUrl: "https://mamori.example" });
  let f: FastifyInstance;
  before(async () => {
    f = Fastify();
    f.get("/form", (req, reply) => reply.send({ token: csrf.issue(req, reply) }));
    f.post("/form", (req, reply) => reply.send({ ok: csrf.check(req, (req.body as { csrf?: string }).csrf) }));
    await f.ready();
  });
  after(() => f.close());

  it("accepts our own form from the same browser; refuses a cross-site post, a missing cookie or another's token", async () => {
    const g = await f.inject({ method: "GET", url: "/form" });
    const cookie = String(g.headers["set-cookie"]);
    assert.match(cookie, /^__Host-mamori_csrf=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
    const pair = cookie.split(";")[0]!;
    const token = g.json().token as string;
    const post = (headers: Record<string, string>, body: Record<string, string>) =>
      f.inject({ method: "POST", url: "/form", headers, payload: body }).then((r) => r.json().ok as boolean);
    assert.equal(await post({ cookie: pair, "sec-fetch-site": "same-origin" }, { csrf: token }), true);
    assert.equal(await post({ cookie: pair, origin: "https://mamori.example" }, { csrf: token }), true);
    assert.equal(await post({ cookie: pair, "sec-fetch-site": "cross-site" }, { csrf: token }), false);
    assert.equal(await post({ cookie: pair, origin: "https://evil.example" }, { csrf: token }), false);
    assert.equal(await post({ "sec-fetch-site": "same-origin" }, { csrf: token }), false);
    assert.equal(await post({ cookie: pair, "sec-fetch-site": "same-origin" }, { csrf: `${token}x` }), false);
    const other = await f.inject({ method: "GET", url: "/form" });
    assert.equal(await post({ cookie: pair, "sec-fetch-site": "same-origin" }, { csrf: other.json().token }), false);
    // A browser that has the cookie keeps it: the token is stable across forms.
    const again = await f.inject({ method: "GET", url: "/form", headers: { cookie: pair } });
    assert.equal(again.headers["set-cookie"], undefined);
    assert.equal(again.json().token, token);
  });
});

describe("web kit in Mamori: a browser never gets JSON, a program never gets a page", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("404s under /links/ and for a browser elsewhere are pages; the API's stay JSON", async () => {
    const get = (url: string, accept?: string) =>
      t.app.http.inject({ method: "GET", url, headers: accept ? { accept } : {} });
    for (const [url, accept] of [
      ["/links/nope", undefined],
      ["/", "text/html,application/xhtml+xml"],
      ["/admin", "text/html"],
    ] as const) {
      const r = await get(url, accept);
      assert.equal(r.statusCode, 404, url);
      assert.match(String(r.headers["content-type"]), /^text\/html/, url);
      assert.match(r.body, /<html lang="ja">/);
      assert.match(r.body, /ページが見つかりません/);
      assert.match(String(r.headers["content-security-policy"]), /script-src 'none'/);
    }
    const en = await t.app.http.inject({ method: "GET", url: "/links/nope", headers: { "accept-language": "en-GB" } });
    assert.match(en.body, /<html lang="en">/);
    assert.match(en.body, /Page not found/);
    const api = await get("/v1/nope", "text/html");
    assert.equal(api.json().error.code, "not_found");
    assert.equal((await get("/nope")).json().error.code, "not_found");
  });

  it("a bad request under /links/ is a page with a way back, not a code", async () => {
    const r = await t.app.http.inject({ method: "GET", url: "/links/nope?x=%00" });
    assert.equal(r.statusCode, 400);
    assert.match(String(r.headers["content-type"]), /^text\/html/);
    assert.doesNotMatch(r.body, /invalid_request|"error"/);
  });

  it("the stylesheet is served with a year's cache under a name that changes with its content", async () => {
    const page = await t.app.http.inject({ method: "GET", url: "/links/nope" });
    const href = /<link rel="stylesheet" href="([^"]+)"/.exec(page.body)?.[1];
    // relative, so pages also work under a path of the store's domain
    assert.match(href ?? "", /^\.\.\/assets\/mamori-[0-9a-f]{12}\.css$/);
    const css = await t.app.http.inject({ method: "GET", url: href!.slice(2) });
    assert.equal(css.statusCode, 200);
    assert.match(String(css.headers["content-type"]), /^text\/css/);
    assert.equal(css.headers["cache-control"], "public, max-age=31536000, immutable");
  });
});
