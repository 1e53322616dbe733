import type { Definition } from "../notify/templates.ts";

/** Notices of the response module (ja/en); merged into the one catalog in notify/templates.ts. */
export const responseTemplates = {} satisfies Record<string, Definition>;
