/**
 * Languages of the pages: Japanese first, English too. A text is written once per language, side by side, so a page
 * cannot show one language's sentence with the other's missing.
 */
export type Lang = "ja" | "en";
export const LANGS: readonly Lang[] = ["ja", "en"];

export type Msg = Readonly<Record<Lang, string>>;

export function isLang(v: unknown): v is Lang {
  return v === "ja" || v === "en";
}

/**
 * The page's language: an explicit choice (`?lang=`, the page's language link) first, then the account's language
 * when the page belongs to one, then the browser's Accept-Language, then Japanese.
 */
export function pickLang(input: {
  chosen?: unknown;
  account?: string | null;
  acceptLanguage?: string | undefined;
}): Lang {
  if (isLang(input.chosen)) return input.chosen;
  if (isLang(input.account)) return input.account;
  return fromAcceptLanguage(input.acceptLanguage) ?? "ja";
}

/** The first of ja/en in the header by quality (RFC 9110 §12.5.4), or undefined. */
export function fromAcceptLanguage(header: string | undefined): Lang | undefined {
  if (!header) return undefined;
  let best: { lang: Lang; q: number; i: number } | undefined;
  header
    .split(",")
    .slice(0, 20)
    .forEach((part, i) => {
      const [tag = "", ...params] = part.trim().split(";");
      const primary = tag.trim().toLowerCase().split("-")[0];
      if (!isLang(primary)) return;
      const qp = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
      const q = qp ? Number(qp.slice(2)) : 1;
      if (!Number.isFinite(q) || q <= 0) return;
      if (!best || q > best.q || (q === best.q && i < best.i)) best = { lang: primary, q, i };
    });
  return best?.lang;
}

/** Fills `{name}` in a message; values are text (the renderer escapes them). */
export function fmt(text: string, vars: Record<string, string | number>): string {
  return text.replace(/\{(\w+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m));
}
