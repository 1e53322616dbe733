import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";
import { addPasskey } from "../../src/testing/passkeys.ts";
import { openPortal, textOf } from "./helpers.ts";

/**
 * The security center listed passkeys but could not name them, so an owner with several could not tell her old phone's
 * from an attacker's. Each now has 名前を変える, a plain form (no script) through the API's renamePasskey (its event);
 * a cross-site post or another account's passkey id changes nothing.
 */
describe("passkey-renamed-cross-site", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("she renames her old phone's passkey in the security center; a cross-site post or a foreign id changes nothing", async () => {
    const email = "lost-phone@example.jp";
    const owner = await t.signUp(email, STRONG, undefined, "ja");
    await t.verifyEmail(owner.token, email);
    const old = await addPasskey(t, owner.token, { name: "Passkey 1" });
    assert.equal(old.res.statusCode, 201, old.res.body);
    const b = await openPortal(t, owner.token);
    const list = await b.get("/portal/passkeys");
    assert.equal(list.statusCode, 200);
    const id = /name="id" value="([^"]+)"/.exec(list.body)?.[1] ?? "";
    assert.ok(id);
    assert.match(list.body, /<label for="name-[^"]+">新しい名前<\/label>/);

    // A cross-site post does nothing.
    const forged = await b.post("/portal/passkeys/rename", { id, name: "盗んだ" }, { site: "cross-site" });
    assert.equal(forged.statusCode, 403);
    const renamed = await b.post("/portal/passkeys/rename", { id, name: "古いiPhone" });
    assert.equal(renamed.statusCode, 303, renamed.body);
    assert.equal(renamed.headers.location, "./passkeys?lang=ja&renamed=1");
    assert.match(textOf((await b.get("/portal/passkeys?renamed=1")).body), /名前を変えました。.*古いiPhone/);

    // Someone else's passkey id: a page, nothing changed.
    const other = await t.signUp("someone-else-pk@example.jp", STRONG, undefined, "ja");
    const theirs = await addPasskey(t, other.token);
    const theirId = (await t.call("GET", "/v1/passkeys", undefined, { session: other.token })).json().passkeys[0].id;
    assert.ok(theirs.credential);
    await b.get("/portal/passkeys");
    const foreign = await b.post("/portal/passkeys/rename", { id: theirId, name: "x" });
    assert.equal(foreign.statusCode, 404);
    assert.match(String(foreign.headers["content-type"]), /text\/html/);
  });
});
