import type { Definition } from "../notify/templates.ts";

/** Notices of the commerce module (ja/en); merged into the one catalog in notify/templates.ts. */
export const commerceTemplates = {} satisfies Record<string, Definition>;
