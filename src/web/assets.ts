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
