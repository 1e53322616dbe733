import type { ComponentChildren } from "preact";
import { STYLESHEET } from "./assets.ts";
import type { Lang, Msg } from "./i18n.ts";
import { type Site, supportLink } from "./site.ts";

const T = {
  skip: { ja: "本文へ移動", en: "Skip to content" },
  otherLang: { ja: "English", en: "日本語" },
  otherLangLabel: { ja: "Read this page in English", en: "このページを日本語で表示" },
  support: { ja: "お問い合わせ", en: "Contact" },
  by: {
    ja: "{store}のアカウントを守るためのページです。",
    en: "A page that protects your {store} account.",
  },
} satisfies Record<string, Msg>;

export interface LayoutProps {
  lang: Lang;
  site: Site;
  /** relative way to the site's root (see rootFrom) */
  root: string;
  /** the page's heading, also the document title */
  title: string;
  /** the same page in the other language (GET pages only: a result page cannot be fetched again) */
  otherLangHref?: string | undefined;
  children: ComponentChildren;
}

/** The frame of every page: the store's name (and logo), one h1, the content, the store's contact. */
export function Layout({ lang, site, root, title, otherLangHref, children }: LayoutProps) {
  const other: Lang = lang === "ja" ? "en" : "ja";
  const contact = site.supportContact ? supportLink(site.supportContact) : undefined;
  const storeMark = (
    <>
      {site.logoUrl ? <img src={site.logoUrl} alt="" height={32} /> : null}
      <span>{site.storeName}</span>
    </>
  );
  return (
    <html lang={lang}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex, nofollow" />
        <meta name="referrer" content="no-referrer" />
        <title>{`${title} | ${site.storeName}`}</title>
        <link rel="stylesheet" href={`${root}${STYLESHEET.path.slice(1)}`} />
      </head>
      <body>
        <a class="skip" href="#main">
          {T.skip[lang]}
        </a>
        <header class="site">
          <div class="bar">
            {site.storeUrl ? (
              <a class="store" href={site.storeUrl}>
                {storeMark}
              </a>
            ) : (
              <span class="store">{storeMark}</span>
            )}
            {otherLangHref ? (
              <a href={otherLangHref} hrefLang={other} lang={other} aria-label={T.otherLangLabel[lang]}>
                {T.otherLang[lang]}
              </a>
            ) : null}
          </div>
        </header>
        <main id="main">
          <h1>{title}</h1>
          {children}
        </main>
        <footer class="site">
          <div class="bar">
            <p>{T.by[lang].replace("{store}", site.storeName)}</p>
            {contact ? (
              <p>
                {T.support[lang]}: {contact.kind === "text" ? contact.text : <a href={contact.href}>{contact.text}</a>}
              </p>
            ) : null}
          </div>
        </footer>
      </body>
    </html>
  );
}
