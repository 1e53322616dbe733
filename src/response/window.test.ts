import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { computeWindow, type SessionFacts } from "./window.ts";

const T = 1_000_000;
const s = (id: string, at: number, device: string, country: string | null, ip = "133.0.0.1"): SessionFacts => ({
  id,
  createdAt: T + at,
  ip,
  country,
  device,
});

// The window decides what a lockdown undoes: too late and the attacker's changes stay; too early and the owner's go.
describe("compromise window rule", () => {
  const history = [s("signup", 0, "id:pc", "JP"), s("own2", 60_000, "id:pc", "JP", "133.0.0.99")];

  it("a new IP alone does not open the window; a new device does", () => {
    const w = computeWindow([...history, s("atk", 120_000, "id:evil", "JP")], T, null, { owner: new Set(["signup"]) });
    assert.equal(w.firstUnfamiliarSessionId, "atk");
    assert.equal(w.since, T + 120_000);
    assert.equal(w.source, "computed");
    assert.match(w.reason, /new device/);
  });

  it("a familiar device from a new country opens it", () => {
    const w = computeWindow([...history, s("trip", 120_000, "id:pc", "US", "8.8.8.8")], T, null, {
      owner: new Set(["signup"]),
    });
    assert.equal(w.firstUnfamiliarSessionId, "trip");
    assert.match(w.reason, /new country US/);
  });

  it("a break-in in the first second after sign-up is still caught (the sign-up session alone is the owner's)", () => {
    const w = computeWindow([s("signup", 0, "id:pc", "JP"), s("atk", 300, "id:evil", "US")], T, null, {
      owner: new Set(["signup"]),
    });
    assert.equal(w.firstUnfamiliarSessionId, "atk");
  });

  it("the reported event caps the window; with nothing unfamiliar, the report alone opens it", () => {
    const w = computeWindow([...history, s("atk", 120_000, "id:evil", "JP")], T, T + 90_000, {
      owner: new Set(["signup"]),
    });
    assert.equal(w.since, T + 90_000);
    assert.equal(w.source, "reported_event");
    const only = computeWindow(history, T, T + 90_000, { owner: new Set(["signup"]) });
    assert.equal(only.since, T + 90_000);
    assert.equal(only.firstUnfamiliarSessionId, null);
  });

  it("nothing unfamiliar and nothing reported: an empty window", () => {
    const w = computeWindow(history, T, null, { owner: new Set(["signup"]) });
    assert.equal(w.since, null);
    assert.equal(w.source, "none");
  });

  it("after a recovery, the owner's sessions stay familiar but the earlier attacker's device never becomes so", () => {
    const sessions = [...history, s("old-atk", 120_000, "id:evil", "US"), s("again", 500_000, "id:evil", "US")];
    const w = computeWindow(sessions, T + 200_000, null, {
      owner: new Set(["signup"]),
      attacker: new Set(["old-atk"]),
    });
    assert.equal(w.firstUnfamiliarSessionId, "again", "the attacker's return opens a new window");
    const home = computeWindow([...history, s("home", 500_000, "id:pc", "JP")], T + 200_000, null, {
      attacker: new Set(["old-atk"]),
    });
    assert.equal(home.since, null);
  });
});
