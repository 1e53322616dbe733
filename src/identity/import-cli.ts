import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { createInterface } from "node:readline";
import type { AccountImport, RowOutcome } from "./import.ts";

export const IMPORT_HELP = `  mamori import <file.ndjson|-> [--refused FILE] [--batch N] [--json]
                                    bulk import of existing users, one JSON object per line (docs/import.md);
                                    idempotent per externalId, so re-running a file resumes it; refused rows
                                    go to FILE (default <file>.refused.ndjson) with their line and reason`;

export interface ImportSummary {
  lines: number;
  imported: number;
  skipped: number;
  refused: number;
  reasons: Record<string, number>;
  refusedFile: string | null;
  seconds: number;
  rowsPerSecond: number;
}

/**
 * Streams an NDJSON file through the import in batches (one transaction each), with a progress line on stderr. Memory
 * stays flat whatever the file's size: one batch is held at a time.
 */
export async function runImport(
  accountImport: AccountImport,
  opts: {
    file: string;
    refusedFile?: string | null;
    batch?: number;
    progress?: (s: string) => void;
  },
): Promise<ImportSummary> {
  const started = performance.now();
  const input = opts.file === "-" ? process.stdin : createReadStream(opts.file);
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  const size = Math.max(1, Math.min(opts.batch ?? 500, 5000));
  const refusedPath =
    opts.refusedFile === undefined ? (opts.file === "-" ? null : `${opts.file}.refused.ndjson`) : opts.refusedFile;
  let refusedOut: WriteStream | null = null;
  const sum: ImportSummary = {
    lines: 0,
    imported: 0,
    skipped: 0,
    refused: 0,
    reasons: {},
    refusedFile: null,
    seconds: 0,
    rowsPerSecond: 0,
  };
  const refuse = (line: number, externalId: string | null, reason: string) => {
    sum.refused++;
    sum.reasons[reason] = (sum.reasons[reason] ?? 0) + 1;
    if (!refusedPath) return;
    if (!refusedOut) {
      refusedOut = createWriteStream(refusedPath);
      sum.refusedFile = refusedPath;
    }
    refusedOut.write(`${JSON.stringify({ line, externalId, reason })}\n`);
  };
  let pending: { line: number; row: unknown }[] = [];
  let lastProgress = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    const out: RowOutcome[] = await accountImport.importBatch(pending.map((p) => p.row));
    out.forEach((o, i) => {
      if (o.status === "imported") sum.imported++;
      else if (o.status === "skipped") sum.skipped++;
      else refuse(pending[i]!.line, o.externalId, o.reason);
    });
    pending = [];
    const now = performance.now();
    if (opts.progress && now - lastProgress > 1000) {
      lastProgress = now;
      const rate = Math.round((sum.lines / (now - started)) * 1000);
      opts.progress(
        `${sum.lines.toLocaleString("en")} lines: ${sum.imported} imported, ${sum.skipped} skipped, ${sum.refused} refused (${rate}/s)`,
      );
    }
  };
  for await (const text of lines) {
    sum.lines++;
    if (text.trim() === "") continue;
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch {
      refuse(sum.lines, null, "line_not_json");
      continue;
    }
    pending.push({ line: sum.lines, row });
    if (pending.length >= size) await flush();
  }
  await flush();
  const w = refusedOut as WriteStream | null;
  if (w) await new Promise<void>((resolve) => w.end(resolve));
  sum.seconds = Math.round((performance.now() - started) / 10) / 100;
  sum.rowsPerSecond = sum.seconds > 0 ? Math.round(sum.lines / sum.seconds) : sum.lines;
  return sum;
}

export function formatSummary(s: ImportSummary): string {
  const reasons = Object.entries(s.reasons)
    .sort((a, b) => b[1] - a[1])
    .map(([r, n]) => `  ${r}: ${n}`)
    .join("\n");
  return [
    `${s.lines} lines in ${s.seconds} s (${s.rowsPerSecond}/s): ${s.imported} imported, ${s.skipped} already imported, ${s.refused} refused`,
    ...(s.refused ? [reasons, s.refusedFile ? `refused rows: ${s.refusedFile}` : ""] : []),
  ]
    .filter(Boolean)
    .join("\n");
}
