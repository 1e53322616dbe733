import type { NotificationRow } from "./store.ts";

const iso = (ms: number) => new Date(ms).toISOString();

/** The local mailbox as text, for `mamori mail`: one block per message, in the order given (newest first). */
export function formatMailbox(rows: readonly NotificationRow[]): string {
  if (rows.length === 0) return "(no messages)\n";
  return rows.map(formatMessage).join("\n");
}

function formatMessage(r: NotificationRow): string {
  const status = [`${r.status} (attempts ${r.attempts})`];
  if (r.sent_at !== null) status.push(`sent ${iso(r.sent_at)}`);
  else if (r.status === "queued" && r.attempts > 0) status.push(`next attempt ${iso(r.next_attempt_at)}`);
  const head = [
    `=== ${r.id}`,
    `When:    ${iso(r.created_at)}`,
    `Channel: ${r.channel}`,
    `To:      ${r.recipient}`,
    `Status:  ${status.join(", ")}`,
  ];
  if (r.last_error !== null && r.status !== "sent") head.push(`Error:   ${r.last_error}`);
  head.push(`Subject: ${r.subject}`);
  return `${head.join("\n")}\n\n${r.body}\n`;
}

/** One message for `mamori mail --json`: camelCase, times as ISO strings (a script reads codes and links from it). */
export function mailboxJson(r: NotificationRow) {
  const at = (ms: number | null) => (ms === null ? null : iso(Number(ms)));
  return {
    id: r.id,
    accountId: r.account_id,
    channel: r.channel,
    recipient: r.recipient,
    template: r.template,
    language: r.language,
    subject: r.subject,
    body: r.body,
    status: r.status,
    attempts: r.attempts,
    lastError: r.last_error,
    createdAt: at(r.created_at),
    sentAt: at(r.sent_at),
  };
}
