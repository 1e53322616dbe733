/** Tables of the commerce module (conventions in db/schema.ts: ms timestamps, 0/1 booleans, JSON as text). */
// biome-ignore lint/suspicious/noEmptyInterface: filled as the module grows
export interface CommerceTables {}
