import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fitAtoModel, logisticFit } from "./ato-fit.ts";
import {
  ATO_MODEL,
  ATO_MODEL_NO_DEVICE,
  ATO_SIGNALS,
  type AtoVector,
  SHIPPED_ATO_MODELS,
  scoreAto,
} from "./ato-model.ts";
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

  it("the shipped models are what `mamori fit logins` gives on the training seed (101), not numbers set by hand", async () => {
    const rows = generateLogins({ users: 3000, days: 30, seed: 101, attackedShare: 0.15 });
    const m = await fitAtoModel(rows, ATO_MODEL.fittedWith);
    assert.deepEqual(
      { bias: m.bias, weights: m.weights, threshold: m.threshold },
      { bias: ATO_MODEL.bias, weights: ATO_MODEL.weights, threshold: ATO_MODEL.threshold },
    );
    const n = await fitAtoModel(rows, ATO_MODEL_NO_DEVICE.fittedWith, { withoutDeviceIds: true });
    assert.deepEqual(
      { bias: n.bias, weights: n.weights, threshold: n.threshold },
      {
        bias: ATO_MODEL_NO_DEVICE.bias,
        weights: ATO_MODEL_NO_DEVICE.weights,
        threshold: ATO_MODEL_NO_DEVICE.threshold,
      },
    );
  });

  it("the model for accounts without device ids decides as fitted, on the shared threshold", () => {
    const { bound, unbound } = SHIPPED_ATO_MODELS;
    assert.equal(unbound.threshold, bound.threshold);
    // Every login decides the same under the aligned model as under the fitted one at its own threshold.
    for (let mask = 0; mask < 1 << 8; mask++) {
      const x = Object.fromEntries(ATO_SIGNALS.map((s, i) => [s, (mask >> (i % 8)) & 1])) as AtoVector;
      const fitted = scoreAto(x, ATO_MODEL_NO_DEVICE).score >= ATO_MODEL_NO_DEVICE.threshold;
      assert.equal(scoreAto(x, unbound).score >= unbound.threshold, fitted);
    }
  });
});
