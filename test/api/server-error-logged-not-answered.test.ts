import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { fastTestHasher, type PasswordHasher } from "../../src/identity/passwords.ts";
import { makeTestApp, requestCount, type TestApp, TOKYO } from "../../src/testing/app.ts";

/**
 * A failure inside the server (here the password hasher) answers 500 `internal_error` with nothing of its cause, and the
 * cause goes to the server's log with the request's id — on the server's own logger: Fastify is given none (a child
 * logger per request and a listener on every response cost the request path, api/http.ts). The request is counted in
 * the metrics as it is answered, status 500, once.
 */
describe("server-error-logged-not-answered", () => {
  const SECRET = "argon2 worker pool exhausted at 0x7f3a (internal detail)";
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split("\n")) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  let failing = false;
  const inner = fastTestHasher();
  const hasher: PasswordHasher = {
    hash: (pw) => inner.hash(pw),
    verify: async (h, pw) => {
      if (failing) throw new Error(SECRET);
      return inner.verify(h, pw);
    },
    needsRehash: (h) => inner.needsRehash(h),
  };
  let t: TestApp;
  before(async () => {
    t = await makeTestApp(undefined, undefined, { hasher, logger: pino({ level: "info" }, sink) });
  });
  after(() => t.close());

  const count = (operation: string, status: number) => requestCount(t, operation, status);

  it("500 internal_error without the cause; the cause in the log with the request id; counted once", async () => {
    const email = "logged-not-answered@example.jp";
    const password = "amber lantern drifts past quiet harbors 47";
    await t.signUp(email, password);
    const before500 = await count("signIn", 500);
    failing = true;
    const r = await t.call("POST", "/v1/sign-in", { email, password, context: TOKYO });
    failing = false;
    assert.equal(r.statusCode, 500, r.body);
    assert.equal(r.json().error.code, "internal_error");
    assert.ok(!r.body.includes("argon2") && !r.body.includes("0x7f3a"), r.body);
    const logged = lines.filter((l) => l.msg === "request failed");
    assert.equal(logged.length, 1, JSON.stringify(lines));
    const entry = logged[0]!;
    assert.equal(entry.level, 50, "logged as an error");
    assert.match(String((entry.err as { message?: string }).message), /0x7f3a/);
    assert.equal(typeof entry.reqId, "string");
    assert.equal(await count("signIn", 500), before500 + 1);
  });
});
