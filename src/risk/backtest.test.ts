import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { backtest, backtestCsvFile, parseCsv, parseTimestamp, readLoginCsv } from "./backtest.ts";
import { type AttackerKind, CSV_HEADER, csvLine, type GeneratedRow, generateLogins, writeCsv } from "./generate.ts";

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function* chunks(s: string, size: number) {
  for (let i = 0; i < s.length; i += size) yield s.slice(i, i + size);
}

async function csvText(rows: GeneratedRow[]): Promise<string> {
  const sink = new PassThrough();
  let text = "";
  sink.on("data", (c: Buffer) => {
    text += c.toString("utf8");
  });
  await writeCsv(rows, sink);
  sink.end();
  return text;
}

describe("CSV", () => {
  it("parses RFC 4180 quoting across chunk boundaries", async () => {
    const text = 'a,b,c\r\n"x, y","say ""hi""","line\nbreak"\n,"",z\nlast,row,no-newline';
    for (const size of [1, 2, 3, 7, 1000]) {
      assert.deepEqual(await collect(parseCsv(chunks(text, size))), [
        ["a", "b", "c"],
        ["x, y", 'say "hi"', "line\nbreak"],
        ["", "", "z"],
        ["last", "row", "no-newline"],
      ]);
    }
  });

  it("reads the data set's timestamp format as UTC", () => {
    assert.equal(parseTimestamp("2020-02-03 12:43:30.772"), Date.UTC(2020, 1, 3, 12, 43, 30, 772));
    assert.equal(parseTimestamp("2020-02-03T12:43:30Z"), Date.UTC(2020, 1, 3, 12, 43, 30));
  });

  it("generator: the data set's header, deterministic for a seed, and a lossless round trip", async () => {
    const a = generateLogins({ users: 60, days: 20, seed: 42, attackedShare: 0.3 });
    const b = generateLogins({ users: 60, days: 20, seed: 42, attackedShare: 0.3 });
    const c = generateLogins({ users: 60, days: 20, seed: 43, attackedShare: 0.3 });
    const text = await csvText(a);
    assert.equal(text, await csvText(b), "same seed, same bytes");
    assert.notEqual(text, await csvText(c));
    assert.equal(text.slice(0, text.indexOf("\n")), CSV_HEADER.join(","));
    assert.match(csvLine(a[0]!), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3},-?\d+,\d+\.\d+\.\d+\.\d+,[A-Z]{2},\d+,/);
    const back = await collect(readLoginCsv(chunks(text, 4096)));
    assert.deepEqual(
      back,
      a.map(({ attacker: _, pool: _pool, ...row }) => row),
    );
    // Habits and attacks are both present, and labels are consistent.
    assert.ok(
      a.some((r) => !r.success && !r.attackIp),
      "legitimate users mistype passwords",
    );
    for (const r of a) {
      assert.equal(r.attackIp, r.attacker !== null);
      if (r.takeover) assert.ok(r.success && r.attackIp);
    }
    for (let i = 1; i < a.length; i++) assert.ok(a[i - 1]!.at <= a[i]!.at, "in time order");
  });
});

describe("backtest on generated logins", () => {
  it("separates attackers: naive ones almost always challenged, targeted ones much less (Freeman)", async () => {
    const rows = generateLogins({ users: 500, days: 45, seed: 11, attackedShare: 0.3, stuffingAttempts: 500 });
    const byKind = new Map<AttackerKind, number[]>();
    const summary = await backtest(rows, {
      onRow: (_row, scores, i) => {
        const kind = rows[i]!.attacker;
        if (kind && Number.isFinite(scores.freeman)) byKind.set(kind, [...(byKind.get(kind) ?? []), scores.freeman]);
      },
    });
    assert.equal(summary.rows, rows.length);
    assert.equal(summary.outOfOrder, 0);
    const at5 = summary.freeman.operatingPoints.find((p) => p.targetFpr === 0.05)!;
    assert.ok(at5.fpr <= 0.05, `FPR ${at5.fpr}`);
    const tpr = (k: AttackerKind) => {
      const xs = byKind.get(k) ?? [];
      assert.ok(xs.length >= 20, `${k}: ${xs.length} scored attempts`);
      return xs.filter((s) => s > at5.threshold).length / xs.length;
    };
    const naive = tpr("naive");
    const vpn = tpr("vpn");
    const targeted = tpr("targeted");
    assert.ok(naive >= 0.9, `naive TPR at 5 % FPR ${naive}`);
    assert.ok(vpn >= 0.6, `vpn TPR ${vpn}`);
    assert.ok(naive - targeted >= 0.25, `naive ${naive} vs targeted ${targeted}`);
    assert.ok(summary.freeman.auc > 0.85, `AUC ${summary.freeman.auc}`);
    assert.ok(at5.medianReauthRate < 0.1, `median re-auth ${at5.medianReauthRate}`);
    // The operating points are ordered: a looser FPR never catches fewer takeovers.
    for (const m of [summary.freeman, summary.ato]) {
      const tprs = m.operatingPoints.map((p) => p.tpr);
      assert.deepEqual(
        tprs,
        [...tprs].sort((x, y) => x - y),
      );
    }
  });

  it("the takeover model catches more than Freeman at the same legitimate challenge rate, per kind with labels", async () => {
    // Seed 7 was not used to fit the model (seed 101 was).
    const rows = generateLogins({ users: 600, days: 30, seed: 7, attackedShare: 0.3, stuffingAttempts: 1500 });
    const summary = await backtest(rows, { labels: rows.map((r) => r.attacker) });
    const shipped = summary.ato.shipped;
    assert.ok(shipped.medianReauthRate <= 0.01, `median re-auth ${shipped.medianReauthRate}`);
    assert.ok(shipped.fpr < 0.05, `legitimate challenge rate ${shipped.fpr}`);
    assert.ok(shipped.tpr > summary.freemanAtAtoFpr.tpr, `${shipped.tpr} vs Freeman ${summary.freemanAtAtoFpr.tpr}`);
    assert.ok(summary.ato.auc > summary.freeman.auc);
    const kinds = shipped.byKind!;
    assert.deepEqual(Object.keys(kinds).sort(), ["naive", "stuffing", "targeted", "vpn"]);
    for (const k of ["naive", "vpn"]) {
      assert.ok(kinds[k]!.takeovers >= 10, `${k}: ${kinds[k]!.takeovers}`);
      assert.ok(kinds[k]!.caught / kinds[k]!.takeovers >= 0.9, `${k}: ${JSON.stringify(kinds[k])}`);
    }
  });

  it("CLI path: streams a CSV file and writes the scores and decisions per row", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mamori-backtest-"));
    try {
      const rows = generateLogins({ users: 80, days: 20, seed: 5, attackedShare: 0.3, stuffingAttempts: 100 });
      const csv = path.join(dir, "logins.csv");
      fs.writeFileSync(csv, await csvText(rows));
      const out = path.join(dir, "scores.csv");
      const summary = await backtestCsvFile(csv, out, { fprs: [0.01, 0.1] });
      const lines = fs.readFileSync(out, "utf8").trimEnd().split("\n");
      assert.equal(
        lines[0],
        "row,timestamp,user_id,login_successful,is_attack_ip,is_account_takeover,freeman_score,ato_score,ato_decision,freeman_decision_fpr_0.01,freeman_decision_fpr_0.1",
      );
      assert.equal(lines.length, rows.length + 1);
      assert.equal(summary.rows, rows.length);
      const first = lines[1]!.split(",");
      assert.deepEqual(first.slice(6, 8), ["Infinity", "Infinity"], "the first login of a user has no history");
      assert.deepEqual(first.slice(8), ["challenge", "challenge", "challenge"]);
      assert.ok(!fs.existsSync(`${out}.partial`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
