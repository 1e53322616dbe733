import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DAY, HOUR, MINUTE } from "../../src/shared/clock.ts";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";

// Last-seen times are noted on the request path and written later in batches (sessions/last-seen.ts). The attack: a
// phone left in a drawer (or a stolen cookie kept unused) stays signed in past the idle limit because the batched
// write stamped the session with the time of the write, or because a pending note is trusted beyond the request it
// recorded.
const IDLE_DAYS = 2;
const IDLE = IDLE_DAYS * DAY;

describe("idle-session-kept-alive-by-batched-last-seen", () => {
  let t: TestApp;
  before(async () => {
    // An hour between writes: the notes stay pending for the whole test unless it flushes them itself.
    t = await makeTestApp(undefined, undefined, {
      env: { MAMORI_SESSION_IDLE_DAYS: String(IDLE_DAYS), MAMORI_SESSION_LAST_SEEN_FLUSH_MS: String(HOUR) },
    });
  });
  after(() => t.close());

  const active = async (token: string) =>
    (await t.call("POST", "/v1/sessions/introspect", { token })).json().active as boolean;
  const storedLastSeen = async (sessionId: string) =>
    (
      await t.app.database.db
        .selectFrom("sessions")
        .select("last_seen_at")
        .where("id", "=", sessionId)
        .executeTakeFirstOrThrow()
    ).last_seen_at;

  it("a session idle past its limit is refused while its last-seen write is pending, and after it lands", async () => {
    const owner = await t.signUp("drawer@example.jp");
    const sessionId = (await t.app.sessions.lookup(owner.token))!.id;
    const signedInAt = await storedLastSeen(sessionId);

    // Used an hour before the idle limit: live, and this request's time is noted (not yet written).
    t.clock.advance(IDLE - HOUR);
    const usedAt = t.clock.now();
    assert.equal(await active(owner.token), true);
    assert.equal(await storedLastSeen(sessionId), signedInAt, "the write is pending, not on the request path");

    // Past the idle limit counted from sign-in, within it counted from the use: this node knows the use, so live.
    t.clock.advance(HOUR + MINUTE);
    const lastUsedAt = t.clock.now();
    assert.equal(await active(owner.token), true, "the pending note is this node's latest request");

    // Then left unused past the idle limit counted from that last request: refused, with the note still pending.
    t.clock.advance(IDLE + MINUTE);
    assert.equal(await active(owner.token), false, "idle past the limit while the last-seen write is pending");

    // The batch is written long after the requests it records: it writes their time, not its own.
    await t.app.sessions.flushLastSeen();
    const written = await storedLastSeen(sessionId);
    assert.equal(written, lastUsedAt, "the time written is the last request's, not the flush's");
    assert.ok(written > usedAt);
    assert.ok(written + IDLE < t.clock.now(), "the stored row is idle too: another node refuses it as well");
    assert.equal(await active(owner.token), false, "still refused after the write landed");
  });
});
