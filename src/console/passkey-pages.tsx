import { Type } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { StaffIdentity } from "../admin/service.ts";
import type { Http } from "../api/types.ts";
import type { RouteDeps } from "../route-deps.ts";
import { Notice, PostForm } from "../web/form.tsx";
import type { Lang, Msg } from "../web/i18n.ts";
import { PasskeyCeremony } from "../web/step-up.tsx";
import { type ConsoleKit, mamoriCode, type SignedIn } from "./kit.tsx";

/**
 * Staff passkeys in the console (issue 17 item 3): /console/passkeys lists the signed-in staff member's own, adds one
 * (the sign-in must be under 10 minutes old: admin service) and removes one; the sign-in page offers パスキーでログイン
 * before the password. WebAuthn needs script: these pages load Mamori's own two files (web/passkey-assets.ts) under
 * script-src 'self' and connect-src 'self', and post JSON to the endpoints below with the page's CSRF token. The
 * list and removal need no script; without it the page says so.
 */

export const PT = {
  title: { ja: "パスキー", en: "Passkeys" },
  intro: {
    ja: "パスキーがあれば、パスワードと認証アプリのコードを入力せずに、この端末の指紋・顔認証・画面ロック（またはセキュリティキー）でコンソールにログインできます。偽のサイトでは使えません。",
    en: "With a passkey you sign in to the console with this device's fingerprint, face or screen lock (or a security key) instead of the password and authenticator code. It does not work on a fake site.",
  },
  none: { ja: "パスキーはまだありません。", en: "No passkeys yet." },
  added: { ja: "追加", en: "Added" },
  lastUsed: { ja: "最終利用", en: "Last used" },
  never: { ja: "未使用", en: "never" },
  remove: { ja: "削除する", en: "Remove" },
  removed: { ja: "パスキーを削除しました。", en: "The passkey was removed." },
  notFound: { ja: "そのパスキーは見つかりませんでした。", en: "No such passkey." },
  name: { ja: "パスキーの名前（例: 業務用PC）", en: "Name for the passkey (e.g. Work laptop)" },
  add: { ja: "この端末にパスキーを追加", en: "Add a passkey on this device" },
  working: { ja: "端末の確認を待っています…", en: "Waiting for your device…" },
  failed: { ja: "パスキーを追加できませんでした。", en: "The passkey could not be added." },
  stale: {
    ja: "パスキーを追加するには、10分以内にログインしている必要があります。いったんログアウトし、もう一度ログインしてから追加してください。",
    en: "Adding a passkey needs a sign-in less than 10 minutes old. Sign out, sign in again, then add it.",
  },
  needsScript: {
    ja: "パスキーの追加とログインには、ブラウザのJavaScriptが必要です。",
    en: "Adding and using passkeys needs JavaScript in your browser.",
  },
  signInWith: { ja: "パスキーでログイン", en: "Sign in with a passkey" },
  signInIntro: {
    ja: "パスキーを登録済みの場合は、ユーザー名・パスワード・認証アプリのコードは不要です。",
    en: "With a registered passkey, no username, password or authenticator code is needed.",
  },
  signInFailed: { ja: "ログインできませんでした。", en: "Could not sign in." },
  orPassword: { ja: "パスワードでログイン", en: "Sign in with a password" },
} satisfies Record<string, Msg>;

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
const Form = Type.Object({}, { additionalProperties: Type.String({ maxLength: 2000 }) });

/** The sign-in page's passkey block (pages.tsx puts it above the password form). */
export function PasskeySignIn(p: { lang: Lang; root: string; csrf: string }) {
  return (
    <section aria-labelledby="passkey-h">
      <h2 id="passkey-h">{PT.signInWith[p.lang]}</h2>
      <PasskeyCeremony
        id="passkey-signin"
        csrf={p.csrf}
        options={`${p.root}sign-in/passkey/options`}
        finish={`${p.root}sign-in/passkey`}
        button={PT.signInWith[p.lang]}
        working={PT.working[p.lang]}
        failed={PT.signInFailed[p.lang]}
        needsScript={PT.needsScript[p.lang]}
        intro={<p>{PT.signInIntro[p.lang]}</p>}
        plainNote
      />
      <h2>{PT.orPassword[p.lang]}</h2>
    </section>
  );
}

export function registerConsolePasskeyPages(
  app: Http,
  deps: RouteDeps,
  ctx: { kit: ConsoleKit; signedIn: SignedIn; refused: (req: FastifyRequest, reply: FastifyReply) => unknown },
) {
  const { admin, csrf } = deps;
  const { kit, signedIn } = ctx;
  const hidden = { config: { auth: "public" as const } };

  /** JSON for the script: a stable code and a message, never a stack; no-store. */
  async function json(reply: FastifyReply, run: () => Promise<unknown>) {
    void reply.header("cache-control", "no-store");
    try {
      return reply.send(await run());
    } catch (e) {
      const m = mamoriCode(e);
      if (m) return reply.status(m.status).send({ error: { code: m.code, message: (e as Error).message } });
      throw e;
    }
  }
  const csrfFailed = (reply: FastifyReply) =>
    reply.status(403).send({ error: { code: "csrf_failed", message: "Reload the page and try again." } });
  /** The staff member behind a JSON call; setup sessions and ended ones get 401 (the page reloads to sign in). */
  const staffOrNull = (req: FastifyRequest) =>
    admin.requireAdmin(kit.token(req)).then(
      (s) => s,
      () => null,
    );
  const unauthorized = (reply: FastifyReply) =>
    reply.status(401).send({ error: { code: "admin_unauthorized", message: "Sign in again." } });

  async function listPage(req: FastifyRequest, reply: FastifyReply, who: StaffIdentity, notice?: string) {
    const lang = kit.langOf(req);
    const token = csrf.issue(req, reply);
    const list = await admin.listStaffPasskeys(who);
    const fresh = await admin.canAddStaffPasskey(who);
    return kit.page(req, reply, {
      lang,
      title: PT.title[lang],
      staff: who,
      csrf: token,
      langSwitch: req.method === "GET",
      passkey: true,
      children: [
        notice ? (
          <Notice key="n" tone="ok" alert>
            <p>{notice}</p>
          </Notice>
        ) : null,
        <p key="i">{PT.intro[lang]}</p>,
        list.length === 0 ? (
          <p key="none">{PT.none[lang]}</p>
        ) : (
          <ul key="l" class="cards">
            {list.map((k) => (
              <li key={k.id} class="card">
                <p class="card-title">{k.name}</p>
                <dl class="facts">
                  <dt>{PT.added[lang]}</dt>
                  <dd>{kit.when(k.createdAt, lang)}</dd>
                  <dt>{PT.lastUsed[lang]}</dt>
                  <dd>{k.lastUsedAt ? kit.when(k.lastUsedAt, lang) : PT.never[lang]}</dd>
                </dl>
                <PostForm action={`${kit.rootOf(req)}passkeys/remove`} hidden={{ csrf: token, lang, id: k.id }}>
                  <button type="submit" class="danger small" aria-label={`${PT.remove[lang]}: ${k.name}`}>
                    {PT.remove[lang]}
                  </button>
                </PostForm>
              </li>
            ))}
          </ul>
        ),
        fresh ? (
          <PasskeyCeremony
            key="add"
            id="passkey-add"
            csrf={token}
            options={`${kit.rootOf(req)}passkeys/options`}
            finish={`${kit.rootOf(req)}passkeys/add`}
            button={PT.add[lang]}
            working={PT.working[lang]}
            failed={PT.failed[lang]}
            needsScript={PT.needsScript[lang]}
            nameLabel={PT.name[lang]}
          />
        ) : (
          <Notice key="stale">
            <p>{PT.stale[lang]}</p>
          </Notice>
        ),
      ],
    });
  }

  app.get("/console/passkeys", { ...hidden, schema: { hide: true } }, async (req, reply) => {
    kit.keepLang(req, reply);
    const who = await signedIn(req, reply);
    if (!who) return reply;
    return listPage(req, reply, who);
  });

  app.post("/console/passkeys/remove", { ...hidden, schema: { hide: true, body: Form } }, async (req, reply) => {
    const b = req.body as Record<string, string | undefined>;
    if (!csrf.check(req, b.csrf)) return ctx.refused(req, reply);
    const who = await signedIn(req, reply);
    if (!who) return reply;
    const lang = kit.langOf(req);
    try {
      await admin.removeStaffPasskey(who, (b.id ?? "").slice(0, 64), req.ip);
    } catch (e) {
      if (mamoriCode(e)?.code === "passkey_not_found") return listPage(req, reply, who, PT.notFound[lang]);
      throw e;
    }
    return listPage(req, reply, who, PT.removed[lang]);
  });

  app.post("/console/passkeys/options", { ...hidden, schema: { hide: true, body: Json } }, async (req, reply) => {
    if (!csrf.check(req, (req.body as { csrf?: string }).csrf)) return csrfFailed(reply);
    const who = await staffOrNull(req);
    if (!who) return unauthorized(reply);
    return json(reply, () => admin.startStaffPasskeyRegistration(who));
  });

  app.post("/console/passkeys/add", { ...hidden, schema: { hide: true, body: Answer } }, async (req, reply) => {
    const b = req.body as { csrf?: string; response: unknown; name?: string };
    if (!csrf.check(req, b.csrf)) return csrfFailed(reply);
    const who = await staffOrNull(req);
    if (!who) return unauthorized(reply);
    return json(reply, () =>
      admin.finishStaffPasskeyRegistration(who, { response: b.response as never, name: b.name }, req.ip),
    );
  });

  app.post("/console/sign-in/passkey/options", { ...hidden, schema: { hide: true, body: Json } }, (req, reply) => {
    if (!csrf.check(req, (req.body as { csrf?: string }).csrf)) return csrfFailed(reply);
    return json(reply, () => admin.startStaffPasskeySignIn());
  });

  // The staff service's passkey sign-in (its audit log, its session rules), then the console's cookie; the script
  // follows `url` to the console (or to the setup a session still owes).
  app.post("/console/sign-in/passkey", { ...hidden, schema: { hide: true, body: Answer } }, (req, reply) => {
    const b = req.body as { csrf?: string; response: unknown };
    if (!csrf.check(req, b.csrf)) return csrfFailed(reply);
    return json(reply, async () => {
      const r = await admin.staffPasskeySignIn(b.response as never, req.ip);
      if (r.status === "totp_required") throw new Error("a passkey sign-in never asks for a TOTP code");
      kit.setSession(reply, r.token);
      return { url: r.status === "signed_in" ? `${kit.basePath}/` : `${kit.basePath}/setup` };
    });
  });
}
