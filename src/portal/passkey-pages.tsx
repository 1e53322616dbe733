import { Type } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ComponentChildren } from "preact";
import type { Http } from "../api/types.ts";
import { formatTime } from "../notify/templates.ts";
import type { RouteDeps } from "../route-deps.ts";
import { MamoriError } from "../shared/errors.ts";
import { readCookie } from "../web/cookies.ts";
import { Actions, Field, Notice, PostForm } from "../web/form.tsx";
import { type Lang, pickLang } from "../web/i18n.ts";
import { Layout } from "../web/layout.tsx";
import { passkeyButton, passkeyScriptPaths } from "../web/passkey-assets.ts";
import { sendPage } from "../web/render.ts";

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

  app.get("/portal/passkeys", { ...hidden, schema: { hide: true } }, async (req, reply) => {
    const p = await current(req);
    if (!p) {
      const lang = langOf(req);
      return page(reply, 401, lang, T.goneTitle[lang], <p>{T.goneBody[lang]}</p>);
    }
    const lang = langOf(req, (await identity.getAccount(p.session.account_id)).language);
    const token = csrf.issue(req, reply);
    const list = await identity.passkeys.list(p.session);
    const q = (req.query ?? {}) as Record<string, unknown>;
    const said = (["renamed", "unnamed"] as const).find((k) => q[k] === "1");
    return page(reply, 200, lang, T.title[lang], [
      said ? (
        <Notice key="said" tone={said === "unnamed" ? "error" : "ok"} alert>
          <p>{T[said][lang]}</p>
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
            </li>
          ))}
        </ul>
      ),
      <div key="js" id="passkey-js" hidden>
        <Field name="passkey-name" label={T.name[lang]} type="text" maxLength={64} />
        <div class="actions">
          <button
            id="passkey-add"
            {...passkeyButton({
              csrf: token,
              options: "./passkeys/options",
              finish: "./passkeys/add",
              working: T.working[lang],
              failed: T.failed[lang],
            })}
          >
            {T.add[lang]}
          </button>
        </div>
        <p id="passkey-status" role="status" aria-live="polite" />
      </div>,
      <div key="nojs" id="passkey-nojs">
        <Notice>
          <p>{T.needsScript[lang]}</p>
        </Notice>
      </div>,
      <p key="back">
        <a href="./">{T.back[lang]}</a>
      </p>,
    ]);
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

  app.get("/portal/passkey-sign-in", { ...hidden, schema: { hide: true } }, async (req, reply) => {
    const lang = langOf(req);
    const token = csrf.issue(req, reply);
    return page(reply, 200, lang, T.signInTitle[lang], [
      <p key="intro">{T.signInIntro[lang]}</p>,
      <div key="js" id="passkey-js" hidden>
        <div class="actions">
          <button
            id="passkey-signin"
            {...passkeyButton({
              csrf: token,
              options: "./passkey-sign-in/options",
              finish: "./passkey-sign-in",
              working: T.signInWorking[lang],
              failed: T.signInFailed[lang],
            })}
          >
            {T.signIn[lang]}
          </button>
        </div>
        <p id="passkey-status" role="status" aria-live="polite" />
      </div>,
      <div key="nojs" id="passkey-nojs">
        <Notice>
          <p>{T.needsScript[lang]}</p>
        </Notice>
      </div>,
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
