import assert from "node:assert/strict";
import type { StaffRole } from "../../src/admin/service.ts";
import { totpCodeAt } from "../../src/identity/totp.ts";
import type { TestApp } from "../../src/testing/app.ts";
import { ConsoleBrowser } from "./client.ts";

export interface ConsoleStaff {
  username: string;
  password: string;
  secret: string;
  role: StaffRole;
}

/**
 * A new staff login, first signed in through the console's own pages as the staff member would: the operator's setup
 * password, their own password, the authenticator enrolled from the key on the page.
 */
export async function enrolStaff(t: TestApp, username: string, role: StaffRole, ip?: string) {
  const setup = `setup-${username}-from-the-operator`;
  const password = `${username} paints quiet harbors at dawn 58`;
  await t.app.admin.createAdminUser(username, setup, "cli", role);
  const b = new ConsoleBrowser(t, ip);
  await b.get("/console/sign-in");
  await b.post("/console/sign-in", { username, password: setup });
  assert.match(b.text(), /はじめての設定/);
  await b.post("/console/setup/password", { currentPassword: setup, newPassword: password });
  const secret = /class="code secret">([^<]+)</.exec(b.last)?.[1]?.replace(/\s/g, "") ?? "";
  assert.ok(secret.length >= 16, "the key to add is on the page");
  await b.post("/console/setup/totp", { code: totpCodeAt(secret, t.clock.now()) });
  assert.equal(b.lastStatus, 200);
  assert.match(b.text(), /アカウントを探す/);
  t.clock.advance(30_000); // the next code is a fresh step
  return { browser: b, staff: { username, password, secret, role } satisfies ConsoleStaff };
}

/** Password, then the authenticator's code, through the pages. */
export async function consoleSignIn(t: TestApp, staff: ConsoleStaff, ip?: string): Promise<ConsoleBrowser> {
  const b = new ConsoleBrowser(t, ip);
  await b.get("/console/sign-in");
  await b.post("/console/sign-in", { username: staff.username, password: staff.password });
  await b.post("/console/sign-in/code", {
    challengeId: b.hidden("challengeId"),
    code: totpCodeAt(staff.secret, t.clock.now()),
  });
  assert.equal(b.lastStatus, 200, b.text().slice(0, 300));
  t.clock.advance(30_000);
  return b;
}
