import type { Definition } from "../notify/templates.ts";

/** Notices of the risk module (ja/en); merged into the one catalog in notify/templates.ts. */
export const riskTemplates = {} satisfies Record<string, Definition>;
