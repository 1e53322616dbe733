import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SyncStatement } from "../db/database.ts";
import { createKeptRows } from "./kept-rows.ts";
import type { SessionWithAccount } from "./store.ts";

// The kept rows over a fake store: a feed the test writes to, a change counter it moves, and a feed read it can make
// fail. The real store's triggers and statements are tested in test/attacks/kept-session-survives-account-change.

function fakeStore() {
  const feed: { seq: number; token_hash: string }[] = [];
  const state = { counter: 0, failFeedReads: 0 };
  const statement = (all: (...p: unknown[]) => Record<string, unknown>[]): SyncStatement => ({
    all,
    rows: () => [][Symbol.iterator](),
  });
  const readSync = (text: string): SyncStatement => {
    if (text === "since")
      return statement((cursor) => {
        if (state.failFeedReads > 0) {
          state.failFeedReads--;
          throw new Error("SQLITE_IOERR");
        }
        return feed.filter((r) => r.seq > Number(cursor));
      });
    if (text === "max") return statement(() => [{ seq: feed.at(-1)?.seq ?? 0 }]);
    return statement(() => []);
  };
  const kept = (maxRows?: number) =>
    createKeptRows(
      {
        readSync,
        changeCounter: () => state.counter,
        pageSql: "page",
        feedSql: () => ({ since: "since", max: "max" }),
        now: () => 0,
      },
      maxRows === undefined ? {} : { maxRows },
    );
  /** A commit naming this token hash in the feed. */
  const commit = (hash: string) => {
    feed.push({ seq: (feed.at(-1)?.seq ?? 0) + 1, token_hash: hash });
    state.counter++;
  };
  return { state, kept, commit };
}

const row = (id: string): SessionWithAccount => ({
  id,
  account_id: `a-${id}`,
  channel: "web",
  epoch: 1,
  factor: "password",
  auth_time: 1,
  second_factor_at: null,
  second_factor_kind: null,
  created_at: 1,
  last_seen_at: 1,
  expires_at: 2,
  revoked_at: null,
  account_epoch: 1,
  account_status: "active",
});

describe("session kept rows", () => {
  it("a feed read that fails is retried by the next check, not skipped: the revoked session's row is not trusted", () => {
    const f = fakeStore();
    const k = f.kept();
    k.keep("h1", row("s1"), k.current());
    assert.ok(k.get("h1"));
    f.commit("h1"); // the session was revoked
    f.state.failFeedReads = 1;
    assert.throws(() => k.current(), /SQLITE_IOERR/);
    k.current();
    assert.equal(k.get("h1"), undefined, "forgotten once the feed could be read");
  });

  it("a row read before a commit is not kept after it", () => {
    const f = fakeStore();
    const k = f.kept();
    const v = k.current();
    f.commit("h2"); // committed while the row was being read
    k.keep("h2", row("s2"), v);
    k.current();
    assert.equal(k.get("h2"), undefined);
  });

  it("when full, the row kept longest makes room for a new one", () => {
    const f = fakeStore();
    const k = f.kept(2);
    for (const i of [1, 2, 3]) k.keep(`h${i}`, row(`s${i}`), k.current());
    assert.equal(k.size(), 2);
    assert.equal(k.get("h1"), undefined, "the oldest went");
    assert.equal(k.get("h3")?.id, "s3", "the newest is kept");
  });
});
