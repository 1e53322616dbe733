import { Type } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ComponentChildren } from "preact";
import type { Http } from "../api/types.ts";
import { formatTime } from "../notify/templates.ts";
import type { RouteDeps } from "../route-deps.ts";
import { MamoriError } from "../shared/errors.ts";
import { readCookie } from "../web/cookies.ts";
import { Actions, LinkButton, Notice, PostForm } from "../web/form.tsx";
import { fmt, type Lang, pickLang } from "../web/i18n.ts";
import { Layout } from "../web/layout.tsx";
import { passkeyScriptPaths } from "../web/passkey-assets.ts";
import { sendPage } from "../web/render.ts";
import { PasskeyCeremony } from "../web/step-up.tsx";
import type { PortalPage } from "./service.ts";
import { PortalStepUp, stepUpHow, stepUpWays } from "./step-up.tsx";

/**
 * The security center's passkey section (/portal/passkeys) and the hosted "sign in with a passkey" page
 * (/portal/passkey-sign-in), kept apart from pages.tsx. WebAuthn is a browser API, so these pages run script: Mamori's
 * own file and @simplewebauthn/browser's, both from Mamori's origin (script-src 'self', connect-src 'self'), never
 * inline. Without script they say so; the list of passkeys needs none.
 */

const T = {
  title: { ja: "パスキー", en: "Passkeys" },
  intro: {
    ja: "パスキーがあれば、パスワードを入力せずに、この端末の指紋・顔認証・画面ロックでログインできます。偽のサイトでは使えません。",
    en: "With a passkey you sign in with this device's fingerprint, face or screen lock instead of a password. It does not work on a fake site.",
  },
  none: { ja: "パスキーはまだありません。", en: "No passkeys yet." },
  added: { ja: "追加", en: "Added" },
  lastUsed: { ja: "最終利用", en: "Last used" },
  never: { ja: "未使用", en: "never" },
  name: { ja: "パスキーの名前（例: 私のiPhone）", en: "Name for the passkey (e.g. My iPhone)" },
  add: { ja: "この端末にパスキーを追加", en: "Add a passkey on this device" },
  working: { ja: "端末の確認を待っています…", en: "Waiting for your device…" },
  failed: { ja: "パスキーを追加できませんでした。", en: "The passkey could not be added." },
  needsScript: {
    ja: "パスキーの追加とログインには、ブラウザのJavaScriptが必要です。",
    en: "Adding and using passkeys needs JavaScript in your browser.",
  },
  back: { ja: "セキュリティセンターに戻る", en: "Back to the security center" },
  newName: { ja: "新しい名前", en: "New name" },
  rename: { ja: "名前を変える", en: "Rename" },
  renamed: { ja: "名前を変えました。", en: "Renamed." },
  unnamed: { ja: "新しい名前を入力してください。", en: "Enter a new name." },
  remove: { ja: "削除…", en: "Remove…" },
  removeLabel: { ja: "{name}を削除", en: "Remove {name}" },
  removed: { ja: "パスキーを削除しました。", en: "The passkey was removed." },
  removeTitle: { ja: "パスキーの削除", en: "Remove a passkey" },
  removeIntro: {
    ja: "「{name}」を削除します。削除したパスキーではログインできなくなります。なくした端末のパスキーは、ここで削除してください。",
    en: "This removes “{name}”. It will no longer sign you in. Remove here the passkey of a device you lost.",
  },
  removeNeed: { ja: "削除する前に、ご本人の確認が必要です。", en: "Before removing it, confirm it is you." },
  addNeed: {
    ja: "パスキーを追加する前に、ご本人の確認が必要です。",
    en: "Before adding a passkey, confirm it is you.",
  },
  stepUpDone: {
    ja: "確認できました。10分以内に削除してください。",
    en: "Confirmed. Remove it within 10 minutes.",
  },
  stepUpDoneAdd: {
    ja: "確認できました。10分以内に追加してください。",
    en: "Confirmed. Add it within 10 minutes.",
  },
  confirm: { ja: "確認する", en: "Confirm" },
  wrongPassword: { ja: "パスワードが違います。", en: "The password is not right." },
  wrongCode: { ja: "コードが違うか、使用済みです。", en: "The code is wrong or was used already." },
  removeButton: { ja: "このパスキーを削除する", en: "Remove this passkey" },
  cancel: { ja: "やめる", en: "Cancel" },
  signInTitle: { ja: "パスキーでログイン", en: "Sign in with a passkey" },
  signInIntro: {
    ja: "メールアドレスもパスワードも不要です。ボタンを押して、端末の画面ロックで確認してください。",
    en: "No email or password needed. Press the button and confirm with your device's screen lock.",
  },
  signIn: { ja: "パスキーでログイン", en: "Sign in with a passkey" },
  signInWorking: { ja: "端末の確認を待っています…", en: "Waiting for your device…" },
  signInFailed: { ja: "ログインできませんでした。", en: "Could not sign in." },
  goneTitle: { ja: "このページを開き直してください", en: "Please open this page again" },
  goneBody: {
    ja: "セキュリティセンターのページの有効期限が切れたか、ログアウトしました。",
    en: "This security center page has expired, or you signed out.",
  },
} satisfies Record<string, Record<Lang, string>>;

const ROOT = "../";

const strict = { additionalProperties: false } as const;
const Json = Type.Object({ csrf: Type.Optional(Type.String({ maxLength: 200 })) }, strict);
/** The removal's forms (no script): the passkey, and the password step's fields. */
const RemoveForm = Type.Object({
  csrf: Type.Optional(Type.String({ maxLength: 200 })),
  lang: Type.Optional(Type.String({ maxLength: 8 })),
  id: Type.Optional(Type.String({ maxLength: 64 })),
  password: Type.Optional(Type.String({ maxLength: 1024 })),
  code: Type.Optional(Type.String({ maxLength: 32 })),
});
const RemoveQuery = Type.Object({
  id: Type.Optional(Type.String({ maxLength: 64 })),
  lang: Type.Optional(Type.String({ maxLength: 8 })),
  confirmed: Type.Optional(Type.String({ maxLength: 1 })),
});
const Answer = Type.Object(
  {
    csrf: Type.Optional(Type.String({ maxLength: 200 })),
    response: Type.Object({}, { additionalProperties: true }),
    name: Type.Optional(Type.String({ maxLength: 64 })),
  },
  strict,
);

export function registerPasskeyPages(app: Http, deps: RouteDeps) {
  const { identity, portal, site, csrf } = deps;
  const secure = deps.publicUrl.startsWith("https:");
  // The security center's cookie (portal/pages.tsx): the same name, read the same way.
  const cookieName = secure ? "__Host-mamori_portal" : "mamori_portal";
  const hidden = { config: { auth: "public" as const } };
  const current = (req: FastifyRequest) => portal.current(readCookie(req, cookieName, /^mps_[A-Za-z0-9_-]{20,80}$/));
  const langOf = (req: FastifyRequest, account?: string) =>
    pickLang({
      chosen: ((req.query ?? {}) as { lang?: unknown }).lang,
      account: account ?? null,
      acceptLanguage: req.headers["accept-language"],
    });
  const when = (iso: string | null, lang: Lang) =>
    iso ? formatTime(new Date(iso), lang, site.timeZone) : T.never[lang];

  function page(reply: FastifyReply, status: number, lang: Lang, title: string, children: ComponentChildren) {
    return sendPage(
      reply,
      status,
      <Layout lang={lang} site={site} root={ROOT} title={title}>
        {children}
        {passkeyScriptPaths(ROOT).map((src) => (
          <script key={src} src={src} defer />
        ))}
      </Layout>,
      { imageUrls: site.logoUrl ? [site.logoUrl] : [], ownScript: true, connectSelf: true },
    );
  }

  /** JSON errors for the script: a stable code and a message, never a stack. */
  async function json(reply: FastifyReply, run: () => Promise<unknown>) {
    try {
      return reply.header("cache-control", "no-store").send(await run());
    } catch (e) {
      if (e instanceof MamoriError) {
        return reply.status(e.httpStatus).send({ error: { code: e.code, message: e.message } });
      }
      throw e;
    }
  }
  const refused = (reply: FastifyReply) =>
    reply.status(403).send({ error: { code: "csrf_failed", message: "Reload the page and try again." } });

  /**
   * The step-up a passkey change needs when the gate would refuse (stepUp below): another passkey, or without script
   * the password with the authenticator's code, or the password alone while nothing as strong is enrolled. It comes
   * back to the removal of `id`, or to the list (an add) when there is none.
   */
  async function stepUpFor(p: PortalPage, token: string, lang: Lang, need: string, id?: string) {
    const ways = stepUpWays(await portal.stepUps(p));
    const back = `lang=${lang}${id ? `&id=${encodeURIComponent(id)}` : ""}`;
    return (
      <PortalStepUp
        key="step-up"
        ways={ways}
        lang={lang}
        csrf={token}
        need={`${need}${lang === "ja" ? "" : " "}${stepUpHow(ways, lang)}`}
        ceremony={{ options: "./passkey-remove/options", finish: `./passkey-remove/step-up?${back}` }}
        form={{ action: "./passkey-remove/confirm", hidden: { csrf: token, lang, id }, submit: T.confirm[lang] }}
      />
    );
  }

  async function listPage(
    req: FastifyRequest,
    reply: FastifyReply,
    p: PortalPage,
    lang: Lang,
    status = 200,
    error?: string,
  ) {
    const token = csrf.issue(req, reply);
    const [list, fresh] = await Promise.all([
      identity.passkeys.list(p.session),
      identity.passkeys.mayChange(p.session),
    ]);
    const q = (req.query ?? {}) as Record<string, unknown>;
    const said = (["renamed", "unnamed", "removed"] as const).find((k) => q[k] === "1");
    return page(reply, status, lang, T.title[lang], [
      error ? (
        <Notice key="e" tone="error" alert>
          <p>{error}</p>
        </Notice>
      ) : null,
      said ? (
        <Notice key="said" tone={said === "unnamed" ? "error" : "ok"} alert>
          <p>{T[said][lang]}</p>
        </Notice>
      ) : null,
      fresh && q.confirmed === "1" ? (
        <Notice key="ok" tone="ok" alert>
          <p>{T.stepUpDoneAdd[lang]}</p>
        </Notice>
      ) : null,
      <p key="intro">{T.intro[lang]}</p>,
      list.length === 0 ? (
        <p key="none">{T.none[lang]}</p>
      ) : (
        <ul key="list" class="cards">
          {list.map((k) => (
            <li key={k.id} class="card">
              <p class="card-title">{k.name}</p>
              <dl class="facts">
                <dt>{T.added[lang]}</dt>
                <dd>{when(k.createdAt, lang)}</dd>
                <dt>{T.lastUsed[lang]}</dt>
                <dd>{when(k.lastUsedAt, lang)}</dd>
              </dl>
              <PostForm action="./passkeys/rename" hidden={{ csrf: token, lang, id: k.id }}>
                <div class="field">
                  <label for={`name-${k.id}`}>{T.newName[lang]}</label>
                  <input id={`name-${k.id}`} name="name" type="text" maxLength={64} required />
                </div>
                <Actions>
                  <button type="submit" class="secondary small">
                    {T.rename[lang]}
                  </button>
                </Actions>
              </PostForm>
              <p>
                <a
                  href={`./passkey-remove?id=${encodeURIComponent(k.id)}&lang=${lang}`}
                  aria-label={fmt(T.removeLabel[lang], { name: k.name })}
                >
                  {T.remove[lang]}
                </a>
              </p>
            </li>
          ))}
        </ul>
      ),
      // Adding is a sensitive change too (the API's gate): the step-up first when it would refuse.
      fresh ? (
        <PasskeyCeremony
          key="add"
          id="passkey-add"
          csrf={token}
          options="./passkeys/options"
          finish="./passkeys/add"
          button={T.add[lang]}
          working={T.working[lang]}
          failed={T.failed[lang]}
          needsScript={T.needsScript[lang]}
          nameLabel={T.name[lang]}
        />
      ) : (
        await stepUpFor(p, token, lang, T.addNeed[lang])
      ),
      <p key="back">
        <a href="./">{T.back[lang]}</a>
      </p>,
    ]);
  }

  app.get("/portal/passkeys", { ...hidden, schema: { hide: true } }, async (req, reply) => {
    const p = await current(req);
    if (!p) {
      const lang = langOf(req);
      return page(reply, 401, lang, T.goneTitle[lang], <p>{T.goneBody[lang]}</p>);
    }
    return listPage(req, reply, p, langOf(req, (await identity.getAccount(p.session.account_id)).language));
  });

  app.post("/portal/passkeys/options", { ...hidden, schema: { hide: true, body: Json } }, async (req, reply) => {
    if (!csrf.check(req, (req.body as { csrf?: string }).csrf)) return refused(reply);
    const p = await current(req);
    if (!p) return reply.status(401).send({ error: { code: "session_invalid", message: T.goneBody.en } });
    return json(reply, () => identity.passkeys.startRegistration(p.session));
  });

  app.post("/portal/passkeys/add", { ...hidden, schema: { hide: true, body: Answer } }, async (req, reply) => {
    const body = req.body as { csrf?: string; response: unknown; name?: string };
    if (!csrf.check(req, body.csrf)) return refused(reply);
    const p = await current(req);
    if (!p) return reply.status(401).send({ error: { code: "session_invalid", message: T.goneBody.en } });
    return json(reply, () =>
      identity.passkeys.finishRegistration(p.session, { response: body.response as never, name: body.name }, req.ip),
    );
  });

  // ── Removing a passkey (a lost phone's): a sensitive change, the API's removePasskey and its gate unchanged ──
  // The confirm page asks for a step-up only when the gate would refuse: another passkey (an assertion bound to this
  // session, the API's reauthenticate with a passkey), or — without script — the password and the authenticator's
  // code when one is enrolled. A password alone never meets it: the account's strongest factor is a passkey.

  const idOf = (v: unknown) => (typeof v === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(v) ? v : "");
  const removeUrl = (id: string, lang: Lang, confirmed = false) =>
    `./passkey-remove?id=${encodeURIComponent(id)}&lang=${lang}${confirmed ? "&confirmed=1" : ""}`;
  /** Where a step-up goes back to: the removal of `id`, or the list (an add). */
  const afterStepUp = (id: string, lang: Lang) =>
    id ? removeUrl(id, lang, true) : `./passkeys?lang=${lang}&confirmed=1`;
  /** The language of a post: the form's, else the account's. */
  const postLang = (req: FastifyRequest, account: string) =>
    pickLang({
      chosen: (req.body as { lang?: unknown }).lang,
      account,
      acceptLanguage: req.headers["accept-language"],
    });

  async function removePage(
    req: FastifyRequest,
    reply: FastifyReply,
    p: PortalPage,
    id: string,
    lang: Lang,
    status = 200,
    error?: string,
  ) {
    const k = (await identity.passkeys.list(p.session)).find((x) => x.id === id);
    if (!k) return reply.redirect(`./passkeys?lang=${lang}`, 303);
    const token = csrf.issue(req, reply);
    const fresh = await identity.passkeys.mayChange(p.session);
    const confirmed = ((req.query ?? {}) as { confirmed?: unknown }).confirmed === "1";
    const cancel = (
      <p key="cancel">
        <a href={`./passkeys?lang=${lang}`}>{T.cancel[lang]}</a>
      </p>
    );
    const intro = <p key="intro">{fmt(T.removeIntro[lang], { name: k.name })}</p>;
    const said = error ? (
      <Notice key="e" tone="error" alert>
        <p>{error}</p>
      </Notice>
    ) : null;
    if (fresh) {
      return page(reply, status, lang, T.removeTitle[lang], [
        said,
        confirmed ? (
          <Notice key="ok" tone="ok" alert>
            <p>{T.stepUpDone[lang]}</p>
          </Notice>
        ) : null,
        intro,
        <PostForm key="f" action="./passkey-remove" hidden={{ csrf: token, lang, id: k.id }}>
          <Actions>
            <button type="submit" id="passkey-remove" class="danger">
              {T.removeButton[lang]}
            </button>
          </Actions>
        </PostForm>,
        cancel,
      ]);
    }
    return page(reply, status, lang, T.removeTitle[lang], [
      said,
      intro,
      await stepUpFor(p, token, lang, T.removeNeed[lang], k.id),
      cancel,
    ]);
  }

  /** A form post refused (no CSRF token, or the portal session ended): a page to start again from. */
  const formGone = (req: FastifyRequest, reply: FastifyReply, status: number) => {
    const lang = langOf(req);
    return page(reply, status, lang, T.goneTitle[lang], [
      <p key="b">{T.goneBody[lang]}</p>,
      <Actions key="a">
        <LinkButton href={`./passkeys?lang=${lang}`}>{T.title[lang]}</LinkButton>
      </Actions>,
    ]);
  };

  app.get(
    "/portal/passkey-remove",
    { ...hidden, schema: { hide: true, querystring: RemoveQuery } },
    async (req, reply) => {
      const p = await current(req);
      if (!p) return formGone(req, reply, 401);
      const lang = langOf(req, (await identity.getAccount(p.session.account_id)).language);
      return removePage(req, reply, p, idOf((req.query as { id?: string }).id), lang);
    },
  );

  app.post("/portal/passkey-remove", { ...hidden, schema: { hide: true, body: RemoveForm } }, async (req, reply) => {
    const body = req.body as { csrf?: string; id?: string };
    if (!csrf.check(req, body.csrf)) return formGone(req, reply, 403);
    const p = await current(req);
    if (!p) return formGone(req, reply, 401);
    const lang = postLang(req, (await identity.getAccount(p.session.account_id)).language);
    const id = idOf(body.id);
    try {
      await identity.passkeys.remove(p.session, id, req.ip);
    } catch (e) {
      if (!(e instanceof MamoriError)) throw e;
      // Not fresh (the confirmation lapsed, or the form was posted without one): the confirm page with its step-up.
      if (e.code === "reauthentication_required" || e.code === "second_factor_required") {
        return removePage(req, reply, p, id, lang, 403);
      }
      if (e.code === "passkey_not_found") return reply.redirect(`./passkeys?lang=${lang}`, 303);
      throw e;
    }
    return reply.redirect(`./passkeys?lang=${lang}&removed=1`, 303);
  });

  app.post("/portal/passkey-remove/options", { ...hidden, schema: { hide: true, body: Json } }, async (req, reply) => {
    if (!csrf.check(req, (req.body as { csrf?: string }).csrf)) return refused(reply);
    const p = await current(req);
    if (!p) return reply.status(401).send({ error: { code: "session_invalid", message: T.goneBody.en } });
    return json(reply, () => identity.startPasskeySignIn({ purpose: "step_up", session: p.session }));
  });

  // The passkey step-up: the API's reauthenticate with a passkey (this session's own challenge), then back to the
  // confirm page, where the removal's button now shows.
  app.post(
    "/portal/passkey-remove/step-up",
    { ...hidden, schema: { hide: true, body: Answer, querystring: RemoveQuery } },
    async (req, reply) => {
      const body = req.body as { csrf?: string; response: unknown };
      if (!csrf.check(req, body.csrf)) return refused(reply);
      const p = await current(req);
      if (!p) return reply.status(401).send({ error: { code: "session_invalid", message: T.goneBody.en } });
      const q = req.query as { id?: string };
      const lang = langOf(req, (await identity.getAccount(p.session.account_id)).language);
      return json(reply, async () => {
        await identity.reauthenticate(p.session, { passkey: body.response as never }, req.ip);
        return { url: afterStepUp(idOf(q.id), lang) };
      });
    },
  );

  // Without script: the password and the authenticator's code (or a recovery code), as the API's reauthenticate.
  app.post(
    "/portal/passkey-remove/confirm",
    { ...hidden, schema: { hide: true, body: RemoveForm } },
    async (req, reply) => {
      const body = req.body as { csrf?: string; id?: string; password?: string; code?: string };
      if (!csrf.check(req, body.csrf)) return formGone(req, reply, 403);
      const p = await current(req);
      if (!p) return formGone(req, reply, 401);
      const lang = postLang(req, (await identity.getAccount(p.session.account_id)).language);
      const id = idOf(body.id);
      const again = (error: string) =>
        id ? removePage(req, reply, p, id, lang, 422, error) : listPage(req, reply, p, lang, 422, error);
      try {
        await portal.reauthenticate(p, { password: body.password ?? "", code: body.code ?? "" }, req.ip);
      } catch (e) {
        if (e instanceof MamoriError && e.code === "invalid_credentials") return again(T.wrongPassword[lang]);
        if (e instanceof MamoriError && ["code_invalid", "code_replayed", "factor_unavailable"].includes(e.code)) {
          return again(T.wrongCode[lang]);
        }
        throw e;
      }
      return reply.redirect(afterStepUp(id, lang), 303);
    },
  );

  app.get("/portal/passkey-sign-in", { ...hidden, schema: { hide: true } }, async (req, reply) => {
    const lang = langOf(req);
    const token = csrf.issue(req, reply);
    return page(reply, 200, lang, T.signInTitle[lang], [
      <p key="intro">{T.signInIntro[lang]}</p>,
      <PasskeyCeremony
        key="signin"
        id="passkey-signin"
        csrf={token}
        options="./passkey-sign-in/options"
        finish="./passkey-sign-in"
        button={T.signIn[lang]}
        working={T.signInWorking[lang]}
        failed={T.signInFailed[lang]}
        needsScript={T.needsScript[lang]}
      />,
    ]);
  });

  app.post("/portal/passkey-sign-in/options", { ...hidden, schema: { hide: true, body: Json } }, async (req, reply) => {
    if (!csrf.check(req, (req.body as { csrf?: string }).csrf)) return refused(reply);
    return json(reply, () => identity.startPasskeySignIn({ purpose: "signin" }));
  });

  // A passkey sign-in from Mamori's own page: a normal session (login history, risk engine), then the security center
  // opened for it through the same one-time link a store would get.
  app.post("/portal/passkey-sign-in", { ...hidden, schema: { hide: true, body: Answer } }, async (req, reply) => {
    const body = req.body as { csrf?: string; response: unknown };
    if (!csrf.check(req, body.csrf)) return refused(reply);
    return json(reply, async () => {
      const r = await identity.signInWithPasskey({
        response: body.response as never,
        context: { ip: req.ip, userAgent: String(req.headers["user-agent"] ?? "").slice(0, 512), channel: "web" },
      });
      const link = await portal.createPortalSession(r.session.token);
      return { url: link.url };
    });
  });
}
