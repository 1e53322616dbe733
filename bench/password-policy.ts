// The password policy's CPU per check beside its baseline, zxcvbn alone (what sign-up ran before the policy), in the
// same run, in alternating rounds. Prints JSON. `npm run bench:password-policy`; ROUNDS (default 5) × N (default 100).
import { createPasswordPolicy, leakedList } from "../src/identity/password-policy.ts";
import { checkPasswordStrength } from "../src/identity/passwords.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const N = Number(process.env.N ?? 100);
const emails = ["yamada.taro88@example.jp"];
const policy = createPasswordPolicy({ storeName: "Sakura Shoten", storeDomain: "sakura-shoten.co.jp" });
// A fresh install: no store words, so zxcvbn gets the same user inputs as the baseline.
const fresh = createPasswordPolicy();

// Accepted passphrases (each different, as at sign-up), and refused ones of both cheap kinds.
const accepted = (i: number) => `amber lantern drifts past quiet harbors ${i}`;
const listed = (i: number) => `correct horse battery staple ${i % 100}`;
const context = (i: number) => `YamadaTaro${i % 100}!!`;

const startedLoad = performance.now();
leakedList();
const listLoadMs = performance.now() - startedLoad;
// Warm zxcvbn's dictionaries (loaded on first use) out of the measurement.
checkPasswordStrength(accepted(0), emails);

async function perCheck(fn: (i: number) => unknown): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < N; i++) await fn(i);
  return (performance.now() - t) / N;
}

const runs: Record<string, number[]> = {
  baselineZxcvbn: [],
  policyAccepted: [],
  freshPolicyAccepted: [],
  policyListed: [],
  policyContext: [],
};
for (let r = 0; r < ROUNDS; r++) {
  runs.baselineZxcvbn!.push(await perCheck((i) => checkPasswordStrength(accepted(i), ["yamada.taro88"])));
  runs.policyAccepted!.push(await perCheck((i) => policy.evaluate(accepted(i), { emails })));
  runs.freshPolicyAccepted!.push(await perCheck((i) => fresh.evaluate(accepted(i), { emails })));
  runs.policyListed!.push(await perCheck((i) => policy.evaluate(listed(i), { emails })));
  runs.policyContext!.push(await perCheck((i) => policy.evaluate(context(i), { emails })));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const msPerCheck = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, Number(median(v).toFixed(4))]));
console.log(
  JSON.stringify(
    {
      bench: "password-policy",
      rounds: ROUNDS,
      checksPerRound: N,
      listLoadMs: Number(listLoadMs.toFixed(1)),
      msPerCheckMedian: msPerCheck,
      acceptedOverBaseline: Number((msPerCheck.policyAccepted! / msPerCheck.baselineZxcvbn!).toFixed(3)),
      freshAcceptedOverBaseline: Number((msPerCheck.freshPolicyAccepted! / msPerCheck.baselineZxcvbn!).toFixed(3)),
    },
    null,
    2,
  ),
);
