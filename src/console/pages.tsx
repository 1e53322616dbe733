import { Type } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { StaffIdentity } from "../admin/service.ts";
import type { Http } from "../api/types.ts";
import type { RouteDeps } from "../route-deps.ts";
import { Actions, Field, Notice, PostForm, Submit } from "../web/form.tsx";
import type { Lang, Msg } from "../web/i18n.ts";
import { registerAccountPages } from "./account-pages.tsx";
import { CT, consoleKit, mamoriCode, s } from "./kit.tsx";
import { registerLockdownPages } from "./lockdown-pages.tsx";
import { PasskeySignIn, registerConsolePasskeyPages } from "./passkey-pages.tsx";
import { registerPolicyPages } from "./policy-pages.tsx";
import { registerReviewPages } from "./review-pages.tsx";

/**
 * The support console (issue 15 item 2): staff sign in with a password and then the code of their authenticator
 * (no way around the second factor: a staff member without one enrols before anything else), over the same staff
 * service as the /v1/admin API — its throttling, audit log and session rules. The session is a cookie scoped to
 * /console; it ends with the staff member's password change, disablement, sign-out or idle time, because every
 * page asks the staff service about it again.
 */

const T = {
  signInTitle: { ja: "スタッフのログイン", en: "Staff sign-in" },
  username: { ja: "ユーザー名", en: "Username" },
  password: { ja: "パスワード", en: "Password" },
  next: { ja: "次へ", en: "Next" },
  signInIntro: {
    ja: "サポート担当者用の画面です。ユーザー名とパスワードのあと、認証アプリのコードを入力します。",
    en: "For support staff. After your username and password you enter the code from your authenticator app.",
  },
  wrong: { ja: "ユーザー名またはパスワードが違います。", en: "The username or password is wrong." },
  codeTitle: { ja: "認証アプリのコード", en: "Authenticator code" },
  codeIntro: {
    ja: "認証アプリに表示されている6桁のコードを入力してください（5分以内、5回まで）。",
    en: "Enter the 6-digit code your authenticator app shows (within 5 minutes, 5 tries).",
  },
  code: { ja: "6桁のコード", en: "6-digit code" },
  signIn: { ja: "ログイン", en: "Sign in" },
  codeWrong: {
    ja: "コードが違うか、すでに使われています。新しいコードを入力してください。",
    en: "The code is wrong or was already used. Enter the new one.",
  },
  challengeGone: {
    ja: "ログインの途中で時間切れになったか、試行回数を超えました。最初からやり直してください。",
    en: "The sign-in timed out or ran out of tries. Start again.",
  },
  signedOut: { ja: "ログアウトしました。", en: "You are signed out." },
  sessionOver: {
    ja: "セッションが終了しました（時間切れ、パスワード変更、または無効化）。もう一度ログインしてください。",
    en: "Your session is over (timed out, password changed or login disabled). Please sign in again.",
  },
  setupTitle: { ja: "はじめての設定", en: "First-time setup" },
  setupPasswordIntro: {
    ja: "管理者が決めたパスワードは使い続けられません。ご自身のパスワードを設定してください。",
    en: "The password an operator chose for you cannot stay. Set one of your own.",
  },
  currentPassword: { ja: "いまのパスワード（管理者から受け取ったもの）", en: "Current password (from the operator)" },
  newPassword: { ja: "新しいパスワード", en: "New password" },
  newPasswordHint: {
    ja: "8文字以上。推測されやすいもの、流出したことのあるものは使えません。",
    en: "At least 8 characters; nothing easy to guess or known from leaks.",
  },
  save: { ja: "保存する", en: "Save" },
  totpIntro: {
    ja: "2段階目の認証は必須です。認証アプリ（Google Authenticator など）に下のキーを登録し、表示された6桁のコードを入力してください。",
    en: "The second step is mandatory. Add the key below to your authenticator app (Google Authenticator, …) and enter the 6-digit code it shows.",
  },
  secret: { ja: "登録するキー", en: "Key to add" },
  uri: { ja: "URI（QRコードを作れるアプリ用）", en: "URI (for apps that take one)" },
  confirm: { ja: "登録を完了する", en: "Finish" },
  enrolled: { ja: "認証アプリを登録しました。", en: "Your authenticator is set up." },
  homeTitle: { ja: "アカウントを探す", en: "Find an account" },
  searchLabel: {
    ja: "メールアドレス・電話番号（過去のものも）、注文番号、ギフトカードのコード、氏名の先頭2文字以上",
    en: "Email or phone (past ones too), order id, gift card code, or the first 2+ characters of a name",
  },
  search: { ja: "検索", en: "Search" },
  staffTitle: { ja: "スタッフ", en: "Staff" },
  disable: { ja: "無効にする", en: "Disable" },
  enable: { ja: "有効にする", en: "Enable" },
  disabled: { ja: "無効", en: "disabled" },
  staffChanged: { ja: "変更しました。", en: "Changed." },
} satisfies Record<string, Msg>;

const PASSWORD_ERRORS: Record<string, Msg> = {
  password_too_short: { ja: "パスワードが短すぎます（8文字以上）。", en: "Too short (8 characters at least)." },
  password_too_long: { ja: "パスワードが長すぎます。", en: "Too long." },
  password_too_weak: { ja: "推測されやすいパスワードです。", en: "Too easy to guess." },
  password_breached: { ja: "流出したことのあるパスワードです。", en: "This password is known from leaks." },
  password_contains_context: {
    ja: "ユーザー名やサービス名を含むパスワードは使えません。",
    en: "It may not contain your username or the service's name.",
  },
  staff_password_unchanged: { ja: "いまのパスワードと同じです。", en: "That is the current password." },
  invalid_credentials: { ja: "いまのパスワードが違います。", en: "The current password is wrong." },
};

const Body = Type.Object(
  {},
  { additionalProperties: Type.String({ maxLength: 2000 }), description: "an HTML form (fields checked by the page)" },
);

type Form = Record<string, string | undefined>;

export function registerConsolePages(app: Http, deps: RouteDeps) {
  const { admin, csrf } = deps;
  const kit = consoleKit(deps);
  const opts = { config: { auth: "public" as const }, schema: { hide: true, body: Body } };
  const getOpts = { config: { auth: "public" as const }, schema: { hide: true } };

  /** The signed-in staff member, or what stands in the way: no session, or setup still owed. */
  async function staffOf(req: FastifyRequest): Promise<StaffIdentity | "setup" | undefined> {
    const token = kit.token(req);
    if (!token) return undefined;
    try {
      return await admin.requireAdmin(token);
    } catch (e) {
      const c = mamoriCode(e)?.code;
      if (c === "staff_password_change_required" || c === "staff_second_factor_required") return "setup";
      if (c === "admin_unauthorized") return undefined;
      throw e;
    }
  }

  function refused(req: FastifyRequest, reply: FastifyReply) {
    const lang = kit.langOf(req);
    return kit.page(req, reply, {
      status: 403,
      lang,
      title: CT.refusedTitle[lang],
      children: [
        <p key="b">{CT.refusedBody[lang]}</p>,
        <p key="a">
          <a href={kit.rootOf(req)}>{CT.back[lang]}</a>
        </p>,
      ],
    });
  }

  function signInPage(
    req: FastifyRequest,
    reply: FastifyReply,
    o: { status?: number; error?: string; notice?: string } = {},
  ) {
    const lang = kit.langOf(req);
    const token = csrf.issue(req, reply);
    return kit.page(req, reply, {
      status: o.status ?? 200,
      lang,
      title: T.signInTitle[lang],
      langSwitch: req.method === "GET",
      passkey: true,
      children: [
        o.notice ? (
          <Notice key="n" tone="info" alert>
            <p>{o.notice}</p>
          </Notice>
        ) : null,
        o.error ? (
          <Notice key="e" tone="error" alert>
            <p>{o.error}</p>
          </Notice>
        ) : null,
        <PasskeySignIn key="pk" lang={lang} root={kit.rootOf(req)} csrf={token} />,
        <p key="i">{T.signInIntro[lang]}</p>,
        <PostForm key="f" action={`${kit.rootOf(req)}sign-in`} hidden={{ csrf: token, lang }}>
          <Field
            name="username"
            label={T.username[lang]}
            type="text"
            autocomplete="username"
            required
            maxLength={100}
          />
          <Field
            name="password"
            label={T.password[lang]}
            type="password"
            autocomplete="current-password"
            required
            maxLength={1024}
          />
          <Actions>
            <Submit>{T.next[lang]}</Submit>
          </Actions>
        </PostForm>,
      ],
    });
  }

  function codePage(req: FastifyRequest, reply: FastifyReply, challengeId: string, error?: string) {
    const lang = kit.langOf(req);
    const token = csrf.issue(req, reply);
    return kit.page(req, reply, {
      status: error ? 401 : 200,
      lang,
      title: T.codeTitle[lang],
      children: [
        error ? (
          <Notice key="e" tone="error" alert>
            <p>{error}</p>
          </Notice>
        ) : null,
        <p key="i">{T.codeIntro[lang]}</p>,
        <PostForm key="f" action={`${kit.rootOf(req)}sign-in/code`} hidden={{ csrf: token, lang, challengeId }}>
          <Field name="code" label={T.code[lang]} type="text" autocomplete="one-time-code" required maxLength={32} />
          <Actions>
            <Submit>{T.signIn[lang]}</Submit>
          </Actions>
        </PostForm>,
      ],
    });
  }

  function busy(req: FastifyRequest, reply: FastifyReply, retryAfterSeconds = 900) {
    const lang = kit.langOf(req);
    return kit.page(req, reply, {
      status: 429,
      lang,
      title: CT.busyTitle[lang],
      children: <p>{s(lang, CT.busyBody, { minutes: Math.max(1, Math.ceil(retryAfterSeconds / 60)) })}</p>,
    });
  }

  const redirect = (reply: FastifyReply, to: string) =>
    reply.header("cache-control", "no-store").header("referrer-policy", "no-referrer").redirect(to, 303);

  app.get("/console", getOpts, (_req, reply) => redirect(reply, "console/"));

  app.get("/console/sign-in", getOpts, (req, reply) => {
    kit.keepLang(req, reply);
    return signInPage(req, reply);
  });

  app.post("/console/sign-in", opts, async (req, reply) => {
    const b = req.body as Form;
    if (!csrf.check(req, b.csrf)) return refused(req, reply);
    const lang = kit.langOf(req);
    const username = (b.username ?? "").slice(0, 100);
    const password = (b.password ?? "").slice(0, 1024);
    if (!username || !password) return signInPage(req, reply, { status: 400, error: T.wrong[lang] });
    try {
      const r = await admin.adminSignIn(username, password, req.ip);
      if (r.status === "totp_required") return codePage(req, reply, r.challengeId);
      // No second factor yet: the setup session can only set a password and enrol one.
      kit.setSession(reply, r.token);
      return redirect(reply, "setup");
    } catch (e) {
      const m = mamoriCode(e);
      if (m?.code === "rate_limited") return busy(req, reply, m.retryAfterSeconds);
      if (m?.code === "invalid_credentials") return signInPage(req, reply, { status: 401, error: T.wrong[lang] });
      throw e;
    }
  });

  app.post("/console/sign-in/code", opts, async (req, reply) => {
    const b = req.body as Form;
    if (!csrf.check(req, b.csrf)) return refused(req, reply);
    const lang = kit.langOf(req);
    const challengeId = (b.challengeId ?? "").slice(0, 200);
    const code = (b.code ?? "").replace(/\s/g, "").slice(0, 32);
    if (!challengeId) return signInPage(req, reply, { status: 400, error: T.challengeGone[lang] });
    if (!code) return codePage(req, reply, challengeId, T.codeWrong[lang]);
    try {
      const r = await admin.adminSignInVerify(challengeId, code, req.ip);
      if (r.status === "totp_required") return codePage(req, reply, r.challengeId);
      kit.setSession(reply, r.token);
      return redirect(reply, r.status === "signed_in" ? "../" : "../setup");
    } catch (e) {
      const m = mamoriCode(e);
      if (m?.code === "rate_limited") return busy(req, reply, m.retryAfterSeconds);
      if (m?.code === "invalid_code") return codePage(req, reply, challengeId, T.codeWrong[lang]);
      if (m?.code === "staff_challenge_invalid") {
        return signInPage(req, reply, { status: 401, error: T.challengeGone[lang] });
      }
      throw e;
    }
  });

  app.post("/console/sign-out", opts, async (req, reply) => {
    const b = req.body as Form;
    if (!csrf.check(req, b.csrf)) return refused(req, reply);
    const token = kit.token(req);
    if (token) {
      const who = await admin.requireAdmin(token, { setup: true }).catch(() => undefined);
      if (who) await admin.adminSignOut(who, req.ip);
    }
    kit.clearSession(reply);
    return signInPage(req, reply, { notice: T.signedOut[kit.langOf(req)] });
  });

  // ——— first-time setup: own password, then the authenticator ———

  async function setupPage(req: FastifyRequest, reply: FastifyReply, error?: string) {
    const lang = kit.langOf(req);
    const token = kit.token(req);
    const who = token ? await admin.requireAdmin(token, { setup: true }).catch(() => undefined) : undefined;
    if (!who) return signInPage(req, reply, { status: 401, notice: T.sessionOver[lang] });
    const st = await admin.staffStatus(who.adminId);
    if (st.required.length === 0) return redirect(reply, kit.rootOf(req));
    const form = csrf.issue(req, reply);
    const errorBox = error ? (
      <Notice key="e" tone="error" alert>
        <p>{error}</p>
      </Notice>
    ) : null;
    if (st.required.includes("password_change")) {
      return kit.page(req, reply, {
        status: error ? 422 : 200,
        lang,
        title: T.setupTitle[lang],
        children: [
          errorBox,
          <p key="i">{T.setupPasswordIntro[lang]}</p>,
          <PostForm key="f" action={`${kit.rootOf(req)}setup/password`} hidden={{ csrf: form, lang }}>
            <Field
              name="currentPassword"
              label={T.currentPassword[lang]}
              type="password"
              autocomplete="current-password"
              required
            />
            <Field
              name="newPassword"
              label={T.newPassword[lang]}
              type="password"
              autocomplete="new-password"
              hint={T.newPasswordHint[lang]}
              required
              minLength={8}
            />
            <Actions>
              <Submit>{T.save[lang]}</Submit>
            </Actions>
          </PostForm>,
        ],
      });
    }
    const { secret, uri } = await admin.setupStaffTotp(who);
    return kit.page(req, reply, {
      status: error ? 401 : 200,
      lang,
      title: T.setupTitle[lang],
      children: [
        errorBox,
        <p key="i">{T.totpIntro[lang]}</p>,
        <dl key="k" class="facts">
          <dt>{T.secret[lang]}</dt>
          <dd class="code secret">{secret.replace(/(.{4})/g, "$1 ").trim()}</dd>
          <dt>{T.uri[lang]}</dt>
          <dd class="code">{uri}</dd>
        </dl>,
        <PostForm key="f" action={`${kit.rootOf(req)}setup/totp`} hidden={{ csrf: form, lang }}>
          <Field name="code" label={T.code[lang]} type="text" autocomplete="one-time-code" required maxLength={32} />
          <Actions>
            <Submit>{T.confirm[lang]}</Submit>
          </Actions>
        </PostForm>,
      ],
    });
  }

  app.get("/console/setup", getOpts, (req, reply) => {
    kit.keepLang(req, reply);
    return setupPage(req, reply);
  });

  app.post("/console/setup/password", opts, async (req, reply) => {
    const b = req.body as Form;
    if (!csrf.check(req, b.csrf)) return refused(req, reply);
    const lang = kit.langOf(req);
    const token = kit.token(req);
    const who = token ? await admin.requireAdmin(token, { setup: true }).catch(() => undefined) : undefined;
    if (!who) return signInPage(req, reply, { status: 401, notice: T.sessionOver[lang] });
    try {
      await admin.changeStaffPassword(
        who,
        {
          currentPassword: (b.currentPassword ?? "").slice(0, 1024),
          newPassword: (b.newPassword ?? "").slice(0, 1024),
        },
        req.ip,
      );
    } catch (e) {
      const m = mamoriCode(e);
      if (m?.code === "rate_limited") return busy(req, reply, m.retryAfterSeconds);
      const text = m ? PASSWORD_ERRORS[m.code] : undefined;
      if (text) return setupPage(req, reply, text[lang]);
      if (m && m.status < 500) return setupPage(req, reply, CT.badTitle[lang]);
      throw e;
    }
    return redirect(reply, "../setup");
  });

  app.post("/console/setup/totp", opts, async (req, reply) => {
    const b = req.body as Form;
    if (!csrf.check(req, b.csrf)) return refused(req, reply);
    const lang = kit.langOf(req);
    const token = kit.token(req);
    const who = token ? await admin.requireAdmin(token, { setup: true }).catch(() => undefined) : undefined;
    if (!who) return signInPage(req, reply, { status: 401, notice: T.sessionOver[lang] });
    try {
      await admin.confirmStaffTotp(who, (b.code ?? "").replace(/\s/g, "").slice(0, 32), req.ip);
    } catch (e) {
      const m = mamoriCode(e);
      if (m?.code === "invalid_code") return setupPage(req, reply, T.codeWrong[lang]);
      if (m?.code === "staff_totp_enrolled" || m?.code === "staff_totp_not_started") return redirect(reply, "../setup");
      throw e;
    }
    return redirect(reply, "../");
  });

  // ——— signed-in pages ———

  /**
   * Every signed-in page: the session is asked about again (an ended one sends the browser to sign in; one that still
   * owes setup to the setup page), and lead-only pages refuse an agent with a page that says why.
   */
  async function signedIn(
    req: FastifyRequest,
    reply: FastifyReply,
    o: { lead?: boolean } = {},
  ): Promise<StaffIdentity | null> {
    const who = await staffOf(req);
    const lang = kit.langOf(req);
    if (who === "setup") {
      await redirect(reply, `${kit.rootOf(req)}setup`);
      return null;
    }
    if (!who) {
      if (req.method === "GET") {
        await redirect(reply, `${kit.rootOf(req)}sign-in`);
      } else {
        kit.clearSession(reply);
        await signInPage(req, reply, { status: 401, notice: T.sessionOver[lang] });
      }
      return null;
    }
    if (o.lead && who.role !== "lead") {
      await deps.admin.audit.record({
        type: "staff.refused",
        staffId: who.adminId,
        username: who.username,
        data: { path: req.url.split("?")[0] ?? "", need: "lead" },
        actor: `staff:${who.adminId}`,
        ip: req.ip,
      });
      await kit.page(req, reply, {
        status: 403,
        lang,
        title: CT.forbiddenTitle[lang],
        staff: who,
        csrf: csrf.issue(req, reply),
        children: [
          <p key="b">{CT.forbiddenBody[lang]}</p>,
          <p key="a">
            <a href={kit.rootOf(req)}>{CT.back[lang]}</a>
          </p>,
        ],
      });
      return null;
    }
    return who;
  }

  app.get("/console/", getOpts, async (req, reply) => {
    kit.keepLang(req, reply);
    const who = await signedIn(req, reply);
    if (!who) return reply;
    const lang = kit.langOf(req);
    const token = csrf.issue(req, reply);
    return kit.page(req, reply, {
      lang,
      title: T.homeTitle[lang],
      staff: who,
      csrf: token,
      langSwitch: true,
      children: [
        <form key="f" method="get" action={`${kit.rootOf(req)}search`} class="search">
          <div class="field">
            <label for="q">{T.searchLabel[lang]}</label>
            <input id="q" name="q" type="search" required minLength={2} maxLength={254} autocomplete="off" />
          </div>
          <Actions>
            <Submit>{T.search[lang]}</Submit>
          </Actions>
        </form>,
      ],
    });
  });

  // ——— staff (lead only) ———

  async function staffPage(req: FastifyRequest, reply: FastifyReply, who: StaffIdentity, notice?: string) {
    const lang = kit.langOf(req);
    const token = csrf.issue(req, reply);
    const list = await admin.listAdminUsers();
    return kit.page(req, reply, {
      lang,
      title: T.staffTitle[lang],
      staff: who,
      csrf: token,
      children: [
        notice ? (
          <Notice key="n" tone="ok" alert>
            <p>{notice}</p>
          </Notice>
        ) : null,
        <table key="t">
          <thead>
            <tr>
              <th scope="col">{T.username[lang]}</th>
              <th scope="col">Role</th>
              <th scope="col">
                <span class="visually-hidden">{T.disable[lang]}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((u) => (
              <tr key={u.id}>
                <td>
                  {u.username}
                  {u.disabledAt ? ` (${T.disabled[lang]})` : ""}
                </td>
                <td>{CT[`role_${u.role}`][lang]}</td>
                <td>
                  {u.id === who.adminId ? null : (
                    <PostForm
                      action={`${kit.rootOf(req)}staff/disable`}
                      hidden={{ csrf: token, lang, username: u.username }}
                    >
                      <input type="hidden" name="disabled" value={u.disabledAt ? "0" : "1"} />
                      <button type="submit" class={u.disabledAt ? "secondary small" : "danger small"}>
                        {u.disabledAt ? T.enable[lang] : T.disable[lang]}
                      </button>
                    </PostForm>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>,
      ],
    });
  }

  app.get("/console/staff", getOpts, async (req, reply) => {
    const who = await signedIn(req, reply, { lead: true });
    if (!who) return reply;
    return staffPage(req, reply, who);
  });

  app.post("/console/staff/disable", opts, async (req, reply) => {
    const b = req.body as Form;
    if (!csrf.check(req, b.csrf)) return refused(req, reply);
    const who = await signedIn(req, reply, { lead: true });
    if (!who) return reply;
    const lang: Lang = kit.langOf(req);
    const username = (b.username ?? "").slice(0, 100);
    if (!username || username === who.username) return staffPage(req, reply, who);
    try {
      await admin.setAdminDisabled(username, b.disabled !== "0", {
        actor: `staff:${who.adminId}`,
        staffId: who.adminId,
        ip: req.ip,
      });
    } catch (e) {
      if (mamoriCode(e)?.code === "admin_not_found") return staffPage(req, reply, who);
      throw e;
    }
    return staffPage(req, reply, who, T.staffChanged[lang]);
  });

  registerAccountPages(app, deps, { kit, signedIn, refused });
  registerLockdownPages(app, deps, { kit, signedIn, refused });
  registerReviewPages(app, deps, { kit, signedIn, refused });
  registerPolicyPages(app, deps, { kit, signedIn, refused });
  registerConsolePasskeyPages(app, deps, { kit, signedIn, refused });
}
