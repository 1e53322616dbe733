import type { FastifyReply, FastifyRequest } from "fastify";
import type { ComponentChildren } from "preact";
import type { StaffIdentity } from "../admin/service.ts";
import { formatTime } from "../notify/templates.ts";
import type { RouteDeps } from "../route-deps.ts";
import { MamoriError } from "../shared/errors.ts";
import { STYLESHEET } from "../web/assets.ts";
import { readCookie } from "../web/cookies.ts";
import { fmt, isLang, type Lang, type Msg, pickLang } from "../web/i18n.ts";
import { passkeyScriptPaths } from "../web/passkey-assets.ts";
import { sendPage } from "../web/render.ts";
import { rootFrom } from "../web/site.ts";

/**
 * The support console's frame: its own header (who is signed in, their role, sign out) on the pages' stylesheet and
 * renderer — strict CSP, no script (but the passkey pages' own files), Japanese first. Every form posts with the CSRF token; the staff session is a
 * cookie scoped to the console's path.
 */

export const CT = {
  console: { ja: "Mamori サポートコンソール", en: "Mamori support console" },
  skip: { ja: "本文へ移動", en: "Skip to content" },
  signOut: { ja: "ログアウト", en: "Sign out" },
  home: { ja: "検索", en: "Search" },
  staff: { ja: "スタッフ", en: "Staff" },
  review: { ja: "審査待ち", en: "Review queue" },
  policies: { ja: "ポリシー", en: "Policies" },
  passkeys: { ja: "パスキー", en: "Passkeys" },
  role_agent: { ja: "担当者", en: "agent" },
  role_lead: { ja: "リーダー", en: "lead" },
  otherLang: { ja: "English", en: "日本語" },
  otherLangLabel: { ja: "Show the console in English", en: "コンソールを日本語で表示" },
  refusedTitle: { ja: "もう一度お試しください", en: "Please try again" },
  refusedBody: {
    ja: "このフォームはコンソールの画面から送信されたものではないため、受け付けませんでした。画面を開き直してから、もう一度操作してください。",
    en: "This form did not come from a console page, so it was refused. Open the page again, then try once more.",
  },
  forbiddenTitle: { ja: "この操作はリーダーのみ行えます", en: "Only a lead may do this" },
  forbiddenBody: {
    ja: "担当者（agent）の権限では、アカウントの閲覧・メモ・ロックダウンができます。ポリシー、スタッフ、APIキーの変更はリーダーに依頼してください。",
    en: "An agent may view accounts, write notes and start lockdowns. Ask a lead to change policies, staff or keys.",
  },
  back: { ja: "コンソールのトップへ", en: "Back to the console" },
  notFoundTitle: { ja: "見つかりません", en: "Not found" },
  notFoundBody: {
    ja: "指定されたアカウントまたはケースは見つかりませんでした。検索からやり直してください。",
    en: "No such account or case. Start again from the search.",
  },
  badTitle: { ja: "入力内容を確認してください", en: "Please check what you entered" },
  busyTitle: { ja: "しばらくお待ちください", en: "Please wait a moment" },
  busyBody: {
    ja: "短い時間に失敗が続いたため、一時的に受け付けを止めています。{minutes}分ほど待ってから、もう一度お試しください。",
    en: "Too many failed attempts in a short time. Wait about {minutes} minutes, then try again.",
  },
  unknown: { ja: "不明", en: "unknown" },
} satisfies Record<string, Msg>;

export type ConsoleKit = ReturnType<typeof consoleKit>;

export function consoleKit(deps: RouteDeps) {
  const secure = deps.publicUrl.startsWith("https:");
  // Scoped to the console: the cookie goes nowhere else on the origin. (__Host- would demand Path=/; __Secure- keeps
  // the browser from accepting it over plain http or from a non-secure page.)
  const cookieName = secure ? "__Secure-mamori_console" : "mamori_console";
  const basePath = `${new URL(deps.publicUrl).pathname.replace(/\/$/, "")}/console`;
  const langCookie = "mamori_console_lang";

  const langOf = (req: FastifyRequest): Lang => {
    const q = (req.query ?? {}) as { lang?: unknown };
    const b = (req.body ?? {}) as { lang?: unknown };
    return pickLang({
      chosen: q.lang ?? b.lang ?? readCookie(req, langCookie, /^(ja|en)$/),
      acceptLanguage: req.headers["accept-language"],
    });
  };

  return {
    cookieName,
    basePath,
    langOf,
    /** Remembers a language chosen with ?lang= for the console's other pages. */
    keepLang(req: FastifyRequest, reply: FastifyReply) {
      const q = (req.query ?? {}) as { lang?: unknown };
      if (isLang(q.lang)) {
        void reply.header(
          "set-cookie",
          `${langCookie}=${q.lang}; Path=${basePath}; SameSite=Strict; Max-Age=31536000${secure ? "; Secure" : ""}`,
        );
      }
    },
    token: (req: FastifyRequest) => readCookie(req, cookieName, /^mad_[A-Za-z0-9_-]{20,80}$/),
    setSession(reply: FastifyReply, token: string) {
      void reply.header(
        "set-cookie",
        `${cookieName}=${token}; Path=${basePath}; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`,
      );
    },
    clearSession(reply: FastifyReply) {
      void reply.header(
        "set-cookie",
        `${cookieName}=; Path=${basePath}; HttpOnly; SameSite=Strict; Max-Age=0${secure ? "; Secure" : ""}`,
      );
    },
    /** The relative way from this request's page to the console's root ("../" from /console/accounts/x → /console/). */
    rootOf(req: FastifyRequest): string {
      const r = rootFrom(req.url);
      return `${r}console/`;
    },
    when(ms: number | string | null, lang: Lang): string {
      if (ms === null) return "—";
      return formatTime(new Date(ms), lang, "Asia/Tokyo");
    },
    /** A country's name in the page's language. */
    country(code: string | null, lang: Lang): string {
      if (!code) return CT.unknown[lang];
      try {
        return new Intl.DisplayNames([lang], { type: "region" }).of(code) ?? code;
      } catch {
        return code;
      }
    },
    network(ip: string | null, asn: number | null, lang: Lang): string {
      const org = ip ? deps.networkOf(ip) : null;
      if (org) return asn !== null ? `${org} (AS${asn})` : org;
      return asn !== null ? `AS${asn}` : CT.unknown[lang];
    },
    page(
      req: FastifyRequest,
      reply: FastifyReply,
      p: {
        status?: number;
        lang: Lang;
        title: string;
        staff?: StaffIdentity | undefined;
        csrf?: string | undefined;
        /** the same GET page in the other language */
        langSwitch?: boolean;
        wide?: boolean;
        /** loads the passkey script (web/passkey-assets.ts): script-src and connect-src 'self', nothing inline */
        passkey?: boolean;
        children: ComponentChildren;
      },
    ) {
      const root = this.rootOf(req);
      const other: Lang = p.lang === "ja" ? "en" : "ja";
      const path = req.url.split("?")[0] ?? "";
      const params = new URLSearchParams((req.url.split("?")[1] ?? "").replace(/\+/g, "%20"));
      params.set("lang", other);
      const last = path.slice(path.lastIndexOf("/") + 1);
      return sendPage(
        reply,
        p.status ?? 200,
        <html lang={p.lang}>
          <head>
            <meta charset="utf-8" />
            <meta name="viewport" content="width=device-width, initial-scale=1" />
            <meta name="robots" content="noindex, nofollow" />
            <meta name="referrer" content="no-referrer" />
            <title>{`${p.title} | ${CT.console[p.lang]}`}</title>
            <link rel="stylesheet" href={`${rootFrom(req.url)}${STYLESHEET.path.slice(1)}`} />
          </head>
          <body class="console">
            <a class="skip" href="#main">
              {CT.skip[p.lang]}
            </a>
            <header class="site">
              <div class="bar">
                <a class="store" href={root}>
                  {CT.console[p.lang]}
                </a>
                <nav class="staff-nav" aria-label={CT.console[p.lang]}>
                  {p.staff ? (
                    <>
                      <span class="who">
                        {p.staff.username}（{CT[`role_${p.staff.role}`][p.lang]}）
                      </span>
                      <a href={`${root}review`}>{CT.review[p.lang]}</a>
                      {p.staff.role === "lead" ? <a href={`${root}policies`}>{CT.policies[p.lang]}</a> : null}
                      {p.staff.role === "lead" ? <a href={`${root}staff`}>{CT.staff[p.lang]}</a> : null}
                      <a href={`${root}passkeys`}>{CT.passkeys[p.lang]}</a>
                    </>
                  ) : null}
                  {p.langSwitch ? (
                    <a
                      href={`${last || "./"}?${params.toString()}`}
                      hrefLang={other}
                      lang={other}
                      aria-label={CT.otherLangLabel[p.lang]}
                    >
                      {CT.otherLang[p.lang]}
                    </a>
                  ) : null}
                  {p.staff && p.csrf ? (
                    <form method="post" action={`${root}sign-out`} class="inline">
                      <input type="hidden" name="csrf" value={p.csrf} />
                      <button type="submit" class="secondary small">
                        {CT.signOut[p.lang]}
                      </button>
                    </form>
                  ) : null}
                </nav>
              </div>
            </header>
            <main id="main" class={p.wide ? "wide" : undefined}>
              <h1>{p.title}</h1>
              {p.children}
            </main>
            {p.passkey
              ? passkeyScriptPaths(rootFrom(req.url)).map((src) => <script key={src} src={src} defer />)
              : null}
          </body>
        </html>,
        { ownScript: p.passkey === true, connectSelf: p.passkey === true },
      );
    },
  };
}

/** The catalogued error behind a refusal, or undefined for anything else (which is a bug: let it be a 500 page). */
export function mamoriCode(e: unknown): { code: string; status: number; retryAfterSeconds?: number } | undefined {
  if (!(e instanceof MamoriError)) return undefined;
  const r = e.details?.retryAfterSeconds;
  return { code: e.code, status: e.httpStatus, ...(typeof r === "number" ? { retryAfterSeconds: r } : {}) };
}

export const s = (lang: Lang, m: Msg, vars: Record<string, string | number> = {}) => fmt(m[lang], vars);

/** The staff member behind a console request, or null once the refusal page was sent (pages.tsx makes it). */
export type SignedIn = (
  req: FastifyRequest,
  reply: FastifyReply,
  o?: { lead?: boolean },
) => Promise<StaffIdentity | null>;
