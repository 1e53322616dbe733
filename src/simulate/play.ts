import { type Answer, type Ctx, errorOf, type J, must, type World } from "./harness.ts";
import { SUBJECT, sixDigitCode } from "./mail.ts";

export interface Check {
  label: string;
  ok: boolean;
  /** what Mamori (or the store's record) answered, so a failed line says why */
  detail: string;
}

export interface StoryResult {
  id: string;
  title: string;
  ok: boolean;
  checks: Check[];
  /** values the checks were computed from, for tests and for the printout */
  facts: Record<string, unknown>;
  /** set when a step the story needed got an unexpected answer */
  error?: string;
  ms: number;
}

/** The checklist a story fills from Mamori's answers. */
export class Outcome {
  readonly checks: Check[] = [];
  readonly facts: Record<string, unknown> = {};

  expect(label: string, ok: boolean, detail: string): boolean {
    this.checks.push({ label, ok, detail });
    return ok;
  }
}

/** One end user of the store: the victim, the attacker (with the stolen password), a buyer, a friend. */
export class Person {
  accountId = "";
  session: string | null = null;
  sessionId: string | null = null;

  constructor(
    readonly who: string,
    public email: string,
    public password: string,
    readonly language: "ja" | "en",
    public ctx: Ctx,
  ) {}
}

export const short = (id: string | null | undefined): string => (id ? `…${String(id).slice(-6)}` : "-");
export const yen = (n: number): string => `¥${n.toLocaleString("en-US")}`;
export const where = (c: Ctx): string => `${c.ip}${c.deviceId ? `, device ${c.deviceId}` : ""}`;

/** Sign-up in two steps: the code from the person's own mailbox creates the account, its address verified. */
export async function signUp(w: World, p: Person): Promise<void> {
  const mark = w.mail.mark();
  const r = await w.api.call("POST", "/v1/accounts", {
    body: { email: p.email, password: p.password, language: p.language, context: p.ctx },
  });
  const started = must(r, 202, `createAccount ${p.email}`);
  w.n.act(p.who, `signs up as ${p.email} (${p.language}) from ${where(p.ctx)}`, r, "a code goes to the address");
  const code = sixDigitCode(await w.mail.wait(p.email, SUBJECT.signupCode, { after: mark }));
  const v = await w.api.call("POST", "/v1/accounts/confirm", {
    body: { signupId: started.signupId, code, context: p.ctx },
  });
  const b = must(v, 201, "confirmSignUp");
  p.accountId = b.accountId;
  p.session = b.session.token;
  p.sessionId = b.session.id;
  w.n.act(p.who, "confirms with the code from their mailbox", v, `account ${short(p.accountId)}, address verified`);
}

export interface SignInOutcome {
  answer: Answer;
  /**
   * signed_in: no second step; challenged: Mamori asked for a second factor (and the relayed code completed it);
   * no_code: a challenge for which no code ever came (what a wrong password, or a refused right one, gets);
   * refused: an error
   */
  result: "signed_in" | "challenged" | "no_code" | "refused";
  factors?: string[];
}

/**
 * A password sign-in. When Mamori challenges it and `relay` is given, the person requests the emailed code and
 * completes the challenge with the code read from `relay.mailbox` — the story says why it may (`relay.why`). A
 * challenge whose code never comes (within `relay.waitMs`) is `no_code`: the attacker cannot tell a refused right
 * password from a wrong one, and gives up.
 */
export async function signIn(
  w: World,
  p: Person,
  opts: { email?: string; password?: string; relay?: { mailbox: string; why: string; waitMs?: number } } = {},
): Promise<SignInOutcome> {
  const email = opts.email ?? p.email;
  const r = await w.api.call("POST", "/v1/sign-in", {
    body: { email, password: opts.password ?? p.password, context: p.ctx },
  });
  const status = r.body?.status;
  if (r.status === 200 && status === "signed_in") {
    p.accountId = r.body.accountId;
    p.session = r.body.session.token;
    p.sessionId = r.body.session.id;
    w.n.act(p.who, `signs in as ${email} from ${where(p.ctx)}`, r, `signed_in (session ${short(p.sessionId)})`);
    return { answer: r, result: "signed_in" };
  }
  if (r.status === 200 && status === "challenge") {
    const factors = (r.body.factors ?? []) as string[];
    w.n.act(p.who, `signs in as ${email} from ${where(p.ctx)}`, r, `challenge (factors: ${factors.join(", ")})`);
    if (!opts.relay) return { answer: r, result: "challenged", factors };
    if (!factors.includes("email_code")) throw new Error(`challenged without an emailed-code factor: ${factors}`);
    const mark = w.mail.mark();
    const send = await w.api.call("POST", "/v1/sign-in/challenge/code", {
      body: { challengeToken: r.body.challengeToken },
    });
    must(send, 200, "sendSignInChallengeCode");
    w.n.act(p.who, "asks Mamori to email a sign-in code", send, `sent to ${send.body.sentTo} address(es)`);
    let mail: Awaited<ReturnType<typeof w.mail.wait>>;
    try {
      mail = await w.mail.wait(opts.relay.mailbox, SUBJECT.signinCode, {
        after: mark,
        timeoutMs: opts.relay.waitMs ?? 15_000,
      });
    } catch {
      w.n.note(
        "no code ever arrives: Mamori's challenge here is one nothing can complete (the answer a wrong password gets too)",
      );
      return { answer: r, result: "no_code", factors };
    }
    const code = sixDigitCode(mail);
    w.n.note(opts.relay.why);
    const done = await w.api.call("POST", "/v1/sign-in/challenge", {
      body: { challengeToken: r.body.challengeToken, factor: "email_code", code, context: p.ctx },
    });
    const b = must(done, 200, "completeSignInChallenge");
    p.accountId = b.accountId;
    p.session = b.session.token;
    p.sessionId = b.session.id;
    w.n.act(p.who, "completes the challenge with that code", done, `signed_in (session ${short(p.sessionId)})`);
    return { answer: done, result: "challenged", factors };
  }
  w.n.act(p.who, `signs in as ${email} from ${where(p.ctx)}`, r);
  return { answer: r, result: "refused" };
}

export async function addCard(w: World, p: Person, token: string, billingCountry?: string): Promise<J> {
  const r = await w.api.call("POST", "/v1/commerce/payment-instruments", {
    body: { token, ...(billingCountry ? { billingCountry } : {}) },
    session: p.session!,
  });
  const b = must(r, 201, `addPaymentInstrument ${token}`);
  w.n.act(p.who, `saves a card (gateway token ${token})`, r, `${b.brand} ****${b.last4} ${short(b.id)}`);
  return b;
}

export async function addAddress(w: World, p: Person, address: Record<string, string>): Promise<J> {
  const r = await w.api.call("POST", "/v1/commerce/addresses", { body: address, session: p.session! });
  const b = must(r, 201, "addAddress");
  w.n.act(p.who, `adds a shipping address: ${address.name}, ${address.city}`, r, `address ${short(b.id)}`);
  return b;
}

export async function placeOrder(w: World, p: Person, what: string, body: Record<string, unknown>): Promise<J> {
  const r = await w.api.call("POST", "/v1/commerce/orders", { body, session: p.session! });
  const b = must(r, 201, `placeOrder (${what})`);
  const pay = b.payments?.[0];
  w.n.act(
    p.who,
    `orders ${what}`,
    r,
    `${b.status}, ${yen(b.total)}${pay ? `, payment ${pay.status}${pay.declineCode ? ` (${pay.declineCode})` : ""}` : ""}`,
  );
  return b;
}

export async function getOrder(w: World, p: Person, id: string): Promise<J> {
  return must(await w.api.call("GET", `/v1/commerce/orders/${id}`, { session: p.session! }), 200, "getOrder");
}

/** Support: sign in, find the account, lock it down with a reason; answers the verification report. */
export async function lockdown(w: World, admin: string, accountId: string, reason: string, since?: number): Promise<J> {
  const r = await w.api.call("POST", `/v1/admin/accounts/${accountId}/lockdown`, {
    admin,
    body: { reason, ...(since !== undefined ? { since: new Date(since).toISOString() } : {}) },
  });
  const rep = must(r, 200, "lockdownAccount");
  w.n.act(
    "support",
    `runs lockdownAccount ("${reason}")`,
    r,
    `case ${short(rep.id)} ${rep.status}; window since ${rep.since} (${rep.sinceSource}); ${rep.objects.length} objects`,
  );
  return rep;
}

export async function getCase(w: World, admin: string, caseId: string): Promise<J> {
  return must(await w.api.call("GET", `/v1/admin/cases/${caseId}`, { admin }), 200, "getCase");
}

/** Polls the verification report (bounded) until `done` holds; answers the last report either way. */
export async function pollCase(
  w: World,
  admin: string,
  caseId: string,
  done: (report: J) => boolean,
  timeoutMs: number,
): Promise<{ report: J; met: boolean; waitedMs: number }> {
  const start = Date.now();
  for (;;) {
    const report = await getCase(w, admin, caseId);
    if (done(report)) return { report, met: true, waitedMs: Date.now() - start };
    if (Date.now() - start > timeoutMs) return { report, met: false, waitedMs: Date.now() - start };
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Every action on a store object that Mamori sent as a webhook. */
export const storeObjects = (report: J): J[] =>
  (report.objects as J[]).filter((o) => o.storeConfirmation !== "mamori_only");

/** Waits until the store confirmed every webhook of the case (its receiver answers {"status":"applied"}). */
export async function waitForStore(w: World, admin: string, caseId: string): Promise<J> {
  const { report, met, waitedMs } = await pollCase(
    w,
    admin,
    caseId,
    (r) => r.flagged === 0 && storeObjects(r).length > 0,
    w.waits.deliveryMs,
  );
  w.n.act(
    "support",
    "reads the verification report (getCase)",
    { status: 200, body: report },
    met
      ? `${storeObjects(report).length} store actions, all confirmed by the store after ${waitedMs} ms`
      : `${report.flagged} actions still unconfirmed after ${waitedMs} ms`,
  );
  return report;
}

/** The report as a table: every object, its state before, the action, its state after, the store's confirmation. */
export function printReport(w: World, report: J): void {
  w.n.note(`verification report of case ${short(report.id)} (${report.objects.length} objects):`);
  for (const o of report.objects as J[]) {
    const flag = o.flagged ? "  ⚑ FLAGGED" : "";
    w.n.out(
      `              ${String(o.objectType).padEnd(18)} ${short(o.objectId).padEnd(8)} ${String(o.action).padEnd(9)} ${state(o.before)} → ${state(o.after)}  store: ${o.storeConfirmation}${flag}${o.note ? `  (${o.note})` : ""}`,
    );
  }
}

function state(v: J): string {
  if (v === null || v === undefined) return "-";
  if (typeof v !== "object") return String(v);
  for (const k of ["status", "active", "value", "balance", "price"]) if (k in v) return `${k}=${JSON.stringify(v[k])}`;
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}…` : s;
}

/**
 * The owner's way back after a lockdown: a code to an address verified before the window, a new password (Mamori
 * refuses the ones the attacker knew, tried first when given), the device review, and the unfreeze.
 */
export async function recover(
  w: World,
  p: Person,
  identifier: string,
  newPassword: string,
  opts: { tryFirst?: string[] } = {},
): Promise<{ devices: J[]; refused: string[] }> {
  const mark = w.mail.mark();
  const start = await w.api.call("POST", "/v1/recovery/start", { body: { identifier, context: p.ctx } });
  must(start, 202, "startRecovery");
  w.n.act(p.who, `starts recovery with ${identifier}`, start, "code sent (if the address may recover)");
  const code = sixDigitCode(await w.mail.wait(identifier, SUBJECT.recoveryCode, { after: mark }));
  const v = await w.api.call("POST", "/v1/recovery/verify", {
    body: { recoveryId: start.body.recoveryId, code, context: p.ctx },
  });
  const vb = must(v, 200, "verifyRecovery");
  const devices = vb.devices as J[];
  w.n.act(
    p.who,
    "enters the recovery code from their mailbox",
    v,
    `devices to review: ${devices.map((d) => `${d.ip} ${d.country ?? "?"} ${d.role}`).join("; ")}`,
  );
  const refused: string[] = [];
  for (const pw of opts.tryFirst ?? []) {
    const r = await w.api.call("POST", "/v1/recovery/password", {
      body: { recoveryToken: vb.recoveryToken, newPassword: pw, context: p.ctx },
    });
    w.n.act(p.who, "tries a password the attacker knew", r);
    if (r.status >= 400) refused.push(errorOf(r) ?? String(r.status));
  }
  const steps: [string, string, Record<string, unknown>][] = [
    ["sets a new password", "/v1/recovery/password", { newPassword }],
    ["reviews devices: none in the window was theirs", "/v1/recovery/devices", { claimed: [] }],
    ["completes recovery", "/v1/recovery/complete", {}],
  ];
  for (const [what, url, extra] of steps) {
    const r = await w.api.call("POST", url, { body: { recoveryToken: vb.recoveryToken, ...extra, context: p.ctx } });
    must(r, 200, url);
    w.n.act(p.who, what, r, "ok");
  }
  p.password = newPassword;
  return { devices, refused };
}

/** The attacker's next request with the session they still hold (the seed 000 failure, if it goes through). */
export async function attackerNextRequest(w: World, atk: Person, what: string, body?: J): Promise<Answer> {
  const r = body
    ? await w.api.call("POST", "/v1/commerce/orders", { body, session: atk.session! })
    : await w.api.call("GET", "/v1/account", { session: atk.session! });
  w.n.act(atk.who, `${what} with the session still in their browser`, r);
  return r;
}

export const rejected = (a: Answer): boolean => a.status === 401 || a.status === 403 || a.status === 423;
