import type { FastifyReply, FastifyRequest } from "fastify";
import { Actions, LinkButton } from "./form.tsx";
import { type Lang, type Msg, pickLang } from "./i18n.ts";
import { Layout } from "./layout.tsx";
import { sendPage } from "./render.ts";
import { rootFrom, type Site } from "./site.ts";

interface ErrorText {
  title: Msg;
  body: Msg;
}

const TEXTS: Record<"400" | "404" | "413" | "429" | "500" | "503", ErrorText> = {
  "400": {
    title: { ja: "ページを表示できません", en: "This page cannot be shown" },
    body: {
      ja: "送信された内容またはリンクの形式が正しくありません。メールに記載されたリンクを、もう一度そのまま開いてください。",
      en: "What was sent, or the link, is not in the right form. Open the link from the email again, exactly as it is.",
    },
  },
  "404": {
    title: { ja: "ページが見つかりません", en: "Page not found" },
    body: {
      ja: "お探しのページは見つかりませんでした。メールに記載されたリンクを、途中で切れていないか確かめてから開いてください。",
      en: "We could not find this page. Check that the link from the email is complete, then open it again.",
    },
  },
  "413": {
    title: { ja: "送信内容が大きすぎます", en: "Too much was sent" },
    body: { ja: "入力内容を短くして、もう一度お試しください。", en: "Please shorten what you entered and try again." },
  },
  "429": {
    title: { ja: "しばらくお待ちください", en: "Please wait a moment" },
    body: {
      ja: "短い時間に操作が繰り返されたため、一時的に受け付けを止めています。数分待ってから、もう一度お試しください。",
      en: "There were too many attempts in a short time. Please wait a few minutes, then try again.",
    },
  },
  "500": {
    title: { ja: "エラーが発生しました", en: "Something went wrong" },
    body: {
      ja: "申し訳ありません。処理中にエラーが発生しました。時間をおいて、もう一度お試しください。解決しない場合はお問い合わせください。",
      en: "Sorry, something went wrong on our side. Please try again later, and contact us if it keeps happening.",
    },
  },
  "503": {
    title: { ja: "ただいま混み合っています", en: "Temporarily unavailable" },
    body: {
      ja: "現在このページをご利用いただけません。時間をおいて、もう一度お試しください。",
      en: "This page is unavailable right now. Please try again later.",
    },
  },
};

const BACK: Msg = { ja: "ストアに戻る", en: "Back to the store" };

function textFor(status: number): ErrorText {
  if (status === 404 || status === 405) return TEXTS["404"];
  if (status === 413) return TEXTS["413"];
  if (status === 429) return TEXTS["429"];
  if (status === 503) return TEXTS["503"];
  if (status >= 500) return TEXTS["500"];
  return TEXTS["400"];
}

/** A page for an HTTP error: what happened in plain words and a way back; never a code, a stack or JSON. */
export function ErrorPage(props: { status: number; lang: Lang; site: Site; root: string }) {
  const t = textFor(props.status);
  return (
    <Layout lang={props.lang} site={props.site} root={props.root} title={t.title[props.lang]}>
      <p>{t.body[props.lang]}</p>
      {props.site.storeUrl ? (
        <Actions>
          <LinkButton href={props.site.storeUrl}>{BACK[props.lang]}</LinkButton>
        </Actions>
      ) : null}
    </Layout>
  );
}

/** The language of a request that has no account behind it: ?lang=, then Accept-Language, then Japanese. */
export function requestLang(req: FastifyRequest): Lang {
  const q = req.query as Record<string, unknown> | undefined;
  const b = req.body as Record<string, unknown> | undefined;
  return pickLang({
    chosen: (q && typeof q === "object" ? q.lang : undefined) ?? (b && typeof b === "object" ? b.lang : undefined),
    acceptLanguage: req.headers["accept-language"],
  });
}

export function sendErrorPage(req: FastifyRequest, reply: FastifyReply, status: number, site: Site) {
  const s = status === 405 ? 404 : status;
  return sendPage(reply, s, <ErrorPage status={s} lang={requestLang(req)} site={site} root={rootFrom(req.url)} />, {
    imageUrls: site.logoUrl ? [site.logoUrl] : [],
  });
}
