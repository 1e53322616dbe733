import type { ResponseService } from "./service.ts";

type Report = Awaited<ReturnType<ResponseService["getCase"]>>;

const short = (v: unknown) => (v === null || v === undefined ? "—" : JSON.stringify(v));
const store = (c: string) => (c === "never_told" ? "never told (no webhook endpoint)" : c);

/** The verification report as text for `mamori case show`: flagged lines first, so the 000 failure cannot hide. */
export function formatReport(r: Report): string {
  const lines = [
    `case ${r.id}  account ${r.accountId}`,
    `status ${r.status}  reason: ${r.reason}  opened by ${r.openedBy} at ${r.createdAt}`,
    `window since ${r.since ?? "—"} (${r.sinceSource ?? "not fixed"})${r.lockedDownAt ? `  locked down ${r.lockedDownAt}` : ""}${r.recoveredAt ? `  recovered ${r.recoveredAt}` : ""}`,
    "",
    "steps:",
    ...r.steps.map(
      (s) => `  ${s.status === "done" ? "✔" : "…"} ${s.step.padEnd(14)} attempts ${s.attempts}  ${short(s.result)}`,
    ),
    "",
  ];
  if (r.flagged > 0) {
    lines.push(`FLAGGED: ${r.flagged} action(s) the store has not confirmed:`);
    for (const o of r.objects.filter((x) => x.flagged)) {
      lines.push(`  ! ${o.objectType} ${o.objectId}: ${o.action} — store ${store(o.storeConfirmation)}`);
    }
    lines.push("");
  }
  lines.push(`objects (${r.objects.length}):`);
  for (const o of r.objects) {
    lines.push(
      `  ${o.flagged ? "!" : " "} ${o.objectType.padEnd(18)} ${o.objectId.padEnd(38)} ${o.action.padEnd(10)} store: ${store(o.storeConfirmation)}`,
      `      before ${short(o.before)}`,
      `      after  ${short(o.after)}${o.note ? `\n      note   ${o.note}` : ""}`,
    );
  }
  if (r.sessions.length) {
    lines.push("", "sessions in the window:");
    for (const s of r.sessions) lines.push(`  ${s.sessionId}  ${s.role}`);
  }
  if (r.notes.length) {
    lines.push("", "notes:");
    for (const n of r.notes) lines.push(`  ${String(n.at)} ${n.author}: ${n.body}`);
  }
  return lines.join("\n");
}
