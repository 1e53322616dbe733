/** The store whose pages these are: its name, logo and contacts, shown on every page (see shared/branding.ts). */
export interface Site {
  storeName: string;
  /** https URL of the store's logo; allowed by exact URL in the pages' CSP */
  logoUrl?: string | undefined;
  /** the store's home or sign-in page */
  storeUrl?: string | undefined;
  /** how to reach the store's support: an email address, an https URL or a line of text */
  supportContact?: string | undefined;
  /** IANA zone the pages show times in, named (MAMORI_TIME_ZONE) */
  timeZone: string;
  /** the store's own account recovery page, when it has one (linked from the lockdown pages) */
  recoveryUrl?: string | undefined;
}

/**
 * The way from a page back to the site's root as a relative URL ("../" from /links/not-me), so pages, forms and the
 * stylesheet also work when Mamori sits under a path of the store's domain (MAMORI_PUBLIC_URL with a path).
 */
export function rootFrom(url: string): string {
  const path = url.split("?")[0] ?? "/";
  const depth = path.split("/").length - 2;
  return depth > 0 ? "../".repeat(depth) : "./";
}

export type SupportLink = { kind: "email"; href: string; text: string } | { kind: "url"; href: string; text: string };

/** The support contact as a link when it is an address or a URL; plain text otherwise. */
export function supportLink(contact: string): SupportLink | { kind: "text"; text: string } {
  const c = contact.trim();
  if (/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(c)) return { kind: "email", href: `mailto:${c}`, text: c };
  if (/^https?:\/\/\S+$/i.test(c)) return { kind: "url", href: c, text: c };
  return { kind: "text", text: c };
}
