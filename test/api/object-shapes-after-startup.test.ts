import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import v8 from "node:v8";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";

// V8's own view of object shapes: the intrinsic is parsed only where the flag is on, so it is turned on for this file.
v8.setFlagsFromString("--allow-natives-syntax");
const haveSameMap = new Function("a", "b", "return %HaveSameMap(a, b)") as (a: object, b: object) => boolean;
/** Two plain objects given the same property, as Fastify builds each reply's headers and Node each nextTick entry. */
const twoShapes = (name: string) => {
  const a: Record<string, number> = {};
  a[name] = 1;
  const b: Record<string, number> = {};
  b[name] = 1;
  return haveSameMap(a, b);
};

/**
 * Compiling every route's schemas filled the plain object's root map with transitions (V8 keeps at most 1,536); from
 * then on every `{}` given a property got a map of its own, on every request (each reply's headers, each nextTick),
 * and the request path ran megamorphic: ~25 % of a session check's CPU on the bench. Nothing but a full collection
 * drops them, and a server under steady load runs none, so the app runs one when it is ready (api/http.ts).
 */
describe("object-shapes-after-startup", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("plain objects built alike share one shape once the server is ready, and while it serves", async () => {
    await t.app.http.ready();
    assert.equal(twoShapes("shapeProbeWhenReady"), true);
    const { token } = await t.signUp("shapes@example.jp");
    const r = await t.call("POST", "/v1/sessions/introspect", { token });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(twoShapes("shapeProbeAfterServing"), true);
  });
});
