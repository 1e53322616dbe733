import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

/** The one stylesheet, named by its content hash so it can be cached for a year and still change with a release. */
const css = readFileSync(new URL("./style.css", import.meta.url));
const hash = createHash("sha256").update(css).digest("hex").slice(0, 12);

export const STYLESHEET = {
  path: `/assets/mamori-${hash}.css`,
  body: css,
  /** immutable: the name changes whenever the content does */
  cacheControl: "public, max-age=31536000, immutable",
} as const;

/**
 * The one script: the password rules checked as the owner types (length, counted in code points as the server does).
 * The server checks every rule again; the page works without it.
 */
const js = readFileSync(new URL("./password-rules.js", import.meta.url));
const jsHash = createHash("sha256").update(js).digest("hex").slice(0, 12);

export const PASSWORD_SCRIPT = {
  path: `/assets/password-rules-${jsHash}.js`,
  body: js,
  cacheControl: "public, max-age=31536000, immutable",
} as const;
