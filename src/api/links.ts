import { Type } from "@sinclair/typebox";
import type { FastifyReply } from "fastify";
import { toHttpError } from "./errors.ts";
import type { Http, RouteDeps } from "./types.ts";

// The pages behind the links in notices. GET only shows a confirmation button (mail scanners prefetch links);
// the action happens on POST. No script, no external resources, strict CSP.
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(reply: FastifyReply, status: number, title: string, inner: string) {
  return reply
    .status(status)
    .header("content-type", "text/html; charset=utf-8")
    .header(
      "content-security-policy",
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    )
    .header("referrer-policy", "no-referrer")
    .header("cache-control", "no-store")
    .send(
      `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${esc(title)}</title>` +
        `<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}button{font-size:1rem;padding:.6rem 1.2rem}</style>` +
        `</head><body><h1>${esc(title)}</h1>${inner}</body></html>`,
    );
}

function form(action: string, token: string, button: string, extra = "") {
  return `<form method="post" action="${esc(action)}"><input type="hidden" name="t" value="${esc(token)}">${extra}<p><button type="submit">${esc(button)}</button></p></form>`;
}

export function registerLinkPages(app: Http, deps: RouteDeps) {
  const { identity } = deps;
  const Q = Type.Object({ t: Type.String({ maxLength: 256 }) });
  const B = Type.Object({
    t: Type.String({ maxLength: 256 }),
    password: Type.Optional(Type.String({ maxLength: 1024 })),
  });
  const hide = { hide: true };

  async function act(reply: FastifyReply, fn: () => Promise<unknown>, done: string) {
    try {
      await fn();
      return page(reply, 200, "Done / 完了しました", `<p>${esc(done)}</p>`);
    } catch (e) {
      const { status, body } = toHttpError(e);
      return page(
        reply,
        status,
        "Not done / 完了できませんでした",
        `<p>${esc(body.error.message)}</p><p><code>${esc(body.error.code)}</code></p>`,
      );
    }
  }

  app.get("/links/not-me", { config: { auth: "public" }, schema: { ...hide, querystring: Q } }, (req, reply) =>
    page(
      reply,
      200,
      "This wasn't me / 身に覚えがありません",
      `<p>We will sign out every session on your account and ask for a new password.<br>アカウントのすべてのセッションをサインアウトし、パスワードの再設定をお願いします。</p>${form("./not-me", req.query.t, "Secure my account / アカウントを保護する")}`,
    ),
  );
  app.post("/links/not-me", { config: { auth: "public" }, schema: { ...hide, body: B } }, (req, reply) =>
    act(
      reply,
      () => identity.reportNotMe({ token: req.body.t }),
      "Every session was signed out. Check your email for a link to set a new password. / すべてのセッションをサインアウトしました。メールのリンクから新しいパスワードを設定してください。",
    ),
  );

  app.get("/links/email-revert", { config: { auth: "public" }, schema: { ...hide, querystring: Q } }, (req, reply) =>
    page(
      reply,
      200,
      "Undo the email change / メールアドレスの変更を取り消す",
      `<p>Your previous address will be restored, every session ended and the account locked until you set a new password.<br>以前のアドレスに戻し、すべてのセッションを終了して、新しいパスワードを設定するまでアカウントをロックします。</p>${form("./email-revert", req.query.t, "Undo and lock / 取り消してロックする")}`,
    ),
  );
  app.post("/links/email-revert", { config: { auth: "public" }, schema: { ...hide, body: B } }, (req, reply) =>
    act(
      reply,
      () => identity.revertEmailChange({ token: req.body.t }),
      "Your address is restored and the account locked. Check that address for a link to set a new password. / アドレスを元に戻し、アカウントをロックしました。そのアドレスに届くリンクから新しいパスワードを設定してください。",
    ),
  );

  app.get("/links/reset-password", { config: { auth: "public" }, schema: { ...hide, querystring: Q } }, (req, reply) =>
    page(
      reply,
      200,
      "Set a new password / 新しいパスワードの設定",
      form(
        "./reset-password",
        req.query.t,
        "Save / 保存",
        `<p><label>New password / 新しいパスワード<br><input type="password" name="password" autocomplete="new-password" minlength="8" required></label></p>`,
      ),
    ),
  );
  app.post("/links/reset-password", { config: { auth: "public" }, schema: { ...hide, body: B } }, (req, reply) =>
    act(
      reply,
      () => identity.resetPassword({ token: req.body.t, newPassword: req.body.password ?? "" }),
      "Your password is set; every other session was signed out. / パスワードを設定しました。他のセッションはすべてサインアウトされました。",
    ),
  );
}
