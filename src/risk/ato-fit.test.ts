import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fitAtoModel, logisticFit } from "./ato-fit.ts";
import { ATO_MODEL } from "./ato-model.ts";
import { generateLogins } from "./generate.ts";

describe("fitting the takeover model", () => {
  it("logistic regression recovers a separating weight", () => {
    const xs = Array.from({ length: 400 }, (_, i) => [i % 2, (i * 7) % 3 === 0 ? 1 : 0]);
    const ys = xs.map(([a], i) => (a === 1 && i % 10 !== 0 ? 1 : 0));
    const [bias, wa, wb] = logisticFit(xs, ys);
    assert.ok(wa! > 3, `weight of the informative input ${wa}`);
    assert.ok(Math.abs(wb!) < 0.5, `weight of the noise input ${wb}`);
    assert.ok(bias! < -2);
  });

  it("the threshold keeps both budgets on the training rows", async () => {
    const m = await fitAtoModel(generateLogins({ users: 400, days: 30, seed: 9, attackedShare: 0.3 }), "test");
    assert.ok(m.training.legitChallengeRate <= 0.02, JSON.stringify(m.training));
    assert.ok(m.training.medianReauth <= 0.005, JSON.stringify(m.training));
    assert.ok(m.training.takeovers > 20);
  });

  it("the shipped ATO_MODEL is what `mamori fit logins` gives on the training seed (101), not numbers set by hand", async () => {
    const rows = generateLogins({ users: 3000, days: 30, seed: 101, attackedShare: 0.15 });
    const m = await fitAtoModel(rows, ATO_MODEL.fittedWith);
    assert.deepEqual(
      { bias: m.bias, weights: m.weights, threshold: m.threshold },
      { bias: ATO_MODEL.bias, weights: ATO_MODEL.weights, threshold: ATO_MODEL.threshold },
    );
  });
});
