/**
 * The backtest must not read the answer it is graded on. Before, `mamori backtest --csv` kept rows labelled as
 * takeovers out of the history by default: the model never learned the attacker's context, which no deployment can
 * do (it does not know the label when the sign-in happens), so its figures were inflated. Now the history is built
 * from the observable columns only; `--oracle-history` keeps the old behaviour and says so in its output.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backtest, formatSummary, type RowScores } from "../../src/risk/backtest.ts";
import { generateLogins, type LoginRow } from "../../src/risk/generate.ts";

async function scoresOf(rows: LoginRow[], oracleHistory = false): Promise<RowScores[]> {
  const out: RowScores[] = [];
  await backtest(rows, { oracleHistory, onRow: (_r, s) => void out.push(s) });
  return out;
}

describe("backtest reads the label", () => {
  const rows = generateLogins({ users: 200, days: 30, seed: 21, attackedShare: 0.4, stuffingAttempts: 300 });
  const takeovers = rows.filter((r) => r.takeover).length;

  it("the generated data has takeovers", () => {
    assert.ok(takeovers >= 20, `${takeovers} takeovers`);
  });

  it("by default, flipping every label (takeover and attack IP) changes no score", async () => {
    const flipped = rows.map((r) => ({ ...r, takeover: !r.takeover, attackIp: !r.attackIp }));
    const cleared = rows.map((r) => ({ ...r, takeover: false, attackIp: false }));
    const a = await scoresOf(rows);
    assert.deepEqual(await scoresOf(flipped), a);
    assert.deepEqual(await scoresOf(cleared), a);
  });

  it("the default history holds the takeovers' effects: a takeover row's context counts as seen afterwards", async () => {
    // The same attacker row replayed a second time right after: with an honest history the first one joined it,
    // so the second is no longer a new address for the account.
    const i = rows.findIndex((r) => r.takeover);
    const again = { ...rows[i]!, at: rows[i]!.at + 1 };
    const replay = [...rows.slice(0, i + 1), again];
    const honest = await scoresOf(replay);
    const oracle = await scoresOf(replay, true);
    assert.equal(honest[i + 1]!.vector!.newIp, 0, "honest: the takeover's address joined the history");
    assert.equal(oracle[i + 1]!.vector!.newIp, 1, "oracle: the label kept it out");
  });

  it("--oracle-history reads the label (scores change when labels flip) and is named in the output", async () => {
    const flipped = rows.map((r) => ({ ...r, takeover: false }));
    const oracle = await scoresOf(rows, true);
    assert.notDeepEqual(await scoresOf(flipped, true), oracle);
    const s = await backtest(rows, { oracleHistory: true });
    assert.equal(s.oracleHistory, true);
    assert.match(formatSummary(s), /^history: ORACLE \(--oracle-history\)/);
    assert.match(formatSummary(await backtest(rows)), /^history: every observed row/);
  });
});
