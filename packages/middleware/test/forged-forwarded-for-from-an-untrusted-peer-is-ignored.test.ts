import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { MamoriClient } from "@mamori/client";
import { STRONG, type TestApp } from "../../../src/testing/app.ts";
import { FRAMEWORKS, PEER, startMamori, unique } from "./harness.ts";

// Anyone can send X-Forwarded-For. An attacker who reaches the store directly and claims a victim's usual address
// must not have Mamori's risk model see that address: the header is read only when the immediate peer is one of the
// store's configured proxies, and then right to left, so a value the client put in front of the proxy's is not used.
const UA =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15";

describe("forged X-Forwarded-For from an untrusted peer is ignored", () => {
  let t: TestApp;
  let mamori: MamoriClient;
  before(async () => {
    ({ t, mamori } = await startMamori());
  });
  after(() => t.close());

  for (const fw of FRAMEWORKS) {
    it(`${fw.name}: an untrusted peer's header is ignored, in the context and in the session Mamori records`, async () => {
      const store = await fw.build(mamori, { trustedProxies: ["10.0.0.0/8"] });
      try {
        const email = `${unique("xff")}@example.jp`;
        await t.signUp(email);
        const headers = { "x-forwarded-for": "203.0.113.9", "user-agent": UA, cookie: "mamori_device=dev-laptop-1" };
        const login = await store.request("POST", "/login", { headers, body: { email, password: STRONG } });
        assert.equal(login.status, 200, JSON.stringify(login.json));
        const token = login.json.token as string;
        assert.match(login.header("set-cookie") ?? "", /^mamori_session=/);

        const me = await store.request("GET", "/me", {
          headers: { ...headers, cookie: `mamori_session=${token}; mamori_device=dev-laptop-1` },
        });
        assert.equal(me.status, 200);
        assert.deepEqual(me.json.context, { ip: PEER, userAgent: UA, deviceId: "dev-laptop-1", channel: "web" });

        // the sign-in forwarded the same context: Mamori recorded the socket's address, not the forged one
        const list = await mamori.GET("/v1/sessions", { params: { header: { "x-mamori-session": token } } });
        const mine = list.data?.sessions.find((s) => s.id === me.json.sessionId);
        assert.equal(mine?.ip, PEER);
      } finally {
        await store.close();
      }
    });

    it(`${fw.name}: behind a trusted proxy, the address that proxy saw is the client's`, async () => {
      const store = await fw.build(mamori, { trustedProxies: [PEER, "10.0.0.0/8"] });
      try {
        const email = `${unique("xff-proxy")}@example.jp`;
        const { token } = await t.signUp(email);
        const cookie = `mamori_session=${token}`;
        // client → 10.0.0.5 (inner proxy) → 127.0.0.1 (outer): both trusted, the client is 198.51.100.7
        const behind = await store.request("GET", "/me", {
          headers: { cookie, "x-forwarded-for": "198.51.100.7, 10.0.0.5" },
        });
        assert.equal(behind.json.context.ip, "198.51.100.7");
        // the client forged a first entry; the proxy appended what it saw: the forged one is not used
        const forged = await store.request("GET", "/me", {
          headers: { cookie, "x-forwarded-for": "133.0.0.10, 198.51.100.7" },
        });
        assert.equal(forged.json.context.ip, "198.51.100.7");
        // garbage in the header stops the walk at the last address a trusted proxy vouched for
        const garbage = await store.request("GET", "/me", {
          headers: { cookie, "x-forwarded-for": "not-an-ip, 10.0.0.5" },
        });
        assert.equal(garbage.json.context.ip, "10.0.0.5");
        // no header: the peer itself
        const direct = await store.request("GET", "/me", { headers: { cookie } });
        assert.equal(direct.json.context.ip, PEER);
      } finally {
        await store.close();
      }
    });
  }
});
