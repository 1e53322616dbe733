/** The store whose pages these are: its name, logo and contacts, shown on every page (see shared/branding.ts). */
export interface Site {
  storeName: string;
  /** https URL of the store's logo; allowed by exact URL in the pages' CSP */
  logoUrl?: string | undefined;
  /** the store's home or sign-in page */
  storeUrl?: string | undefined;
  /** how to reach the store's support: an email address, an https URL or a line of text */
  supportContact?: string | undefined;
}

export type SupportLink = { kind: "email"; href: string; text: string } | { kind: "url"; href: string; text: string };

/** The support contact as a link when it is an address or a URL; plain text otherwise. */
export function supportLink(contact: string): SupportLink | { kind: "text"; text: string } {
  const c = contact.trim();
  if (/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(c)) return { kind: "email", href: `mailto:${c}`, text: c };
  if (/^https?:\/\/\S+$/i.test(c)) return { kind: "url", href: c, text: c };
  return { kind: "text", text: c };
}
