import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

/** One message as the recipient's mail client would show it. */
export interface Mail {
  seq: number;
  to: string[];
  subject: string;
  body: string;
  at: number;
}

/**
 * Everyone's mailbox: an in-process SMTP server that Mamori's MAMORI_SMTP_URL points at. A person "reads their mail" by
 * looking up messages to their address here; an attacker who reads the owner's mailbox (seed 004) does the same.
 */
export class MailSink {
  readonly messages: Mail[] = [];
  private server: SMTPServer | null = null;
  private waiters = new Set<() => void>();
  port = 0;

  async start(port = 0): Promise<void> {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          const m = parseMessage(Buffer.concat(chunks).toString("latin1"));
          this.messages.push({
            seq: this.messages.length + 1,
            to: session.envelope.rcptTo.map((a) => a.address.toLowerCase()),
            subject: m.subject,
            body: m.body,
            at: Date.now(),
          });
          for (const w of this.waiters) w();
          callback();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    this.port = (server.server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** The sequence number of the newest message: pass it as `after` to wait only for mail sent from now on. */
  mark(): number {
    return this.messages.length;
  }

  find(to: string, subject: RegExp, after = 0): Mail[] {
    const addr = to.toLowerCase();
    return this.messages.filter((m) => m.seq > after && m.to.includes(addr) && subject.test(withoutStore(m.subject)));
  }

  /** The first message to `to` with a matching subject (without the store's 【name】 or [name] in front) after `after`; waits for the dispatcher (bounded). */
  async wait(to: string, subject: RegExp, opts: { after?: number; timeoutMs?: number } = {}): Promise<Mail> {
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    for (;;) {
      const hit = this.find(to, subject, opts.after ?? 0)[0];
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no mail to ${to} matching ${subject} within ${opts.timeoutMs ?? 15_000} ms`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 250));
        this.waiters.add(done);
      });
    }
  }
}

/** Subjects of the notices the stories read, in both languages Mamori writes. */
export const SUBJECT = {
  verifyCode: /^(メールアドレスの確認コード|Your email verification code)$/,
  signupCode: /^(アカウント登録の確認コード|Your sign-up code)$/,
  emailChangeCode: /^(メールアドレス変更の確認コード|Confirm your new email address)$/,
  emailChanged: /^(メールアドレスが変更されました|The email address of your account was changed)$/,
  passwordChanged: /^(パスワードが変更されました|Your password was changed)$/,
  newDevice: /^(新しい端末からのログインがありました|New sign-in to your account)$/,
  signinCode: /^(ログインの確認コード|Your sign-in code)$/,
  lockedDown: /^(アカウントを保護しました|We have secured your account)$/,
  recoveryCode: /^(アカウント復旧の確認コード|Your account recovery code)$/,
  giftCard: /^(ギフトカードが届きました|You have received a gift card)$/,
  fraudulentListing: /^(ご注文の出品は不正な出品でした|The listing you bought from was fraudulent)/,
  addressAdded: /^(お届け先住所が追加されました|A shipping address was added to your account)$/,
  cardAdded: /^(お支払い方法が追加されました|A payment method was added to your account)$/,
} as const;

export function sixDigitCode(m: Mail): string {
  const c = m.body.match(/\b(\d{6})\b/)?.[1];
  if (!c) throw new Error(`no 6-digit code in "${m.subject}"`);
  return c;
}

export function giftCode(m: Mail): string {
  const c = m.body.match(/\b[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}\b/)?.[0];
  if (!c) throw new Error(`no gift card code in "${m.subject}"`);
  return c;
}

/** The single-use token of a link in a notice, e.g. path "/links/not-me". */
export function linkToken(m: Mail, path: string): string {
  const re = new RegExp(`${path.replace(/\//g, "\\/")}\\?t=([^\\s"<>]+)`);
  const t = m.body.match(re)?.[1];
  if (!t) throw new Error(`no ${path} link in "${m.subject}"`);
  return decodeURIComponent(t);
}

/** Just enough MIME for nodemailer's text mails: unfolded headers, RFC 2047 words, QP/base64 bodies. */
function parseMessage(raw: string): { subject: string; body: string } {
  const split = raw.indexOf("\r\n\r\n");
  const headers = new Map<string, string>();
  for (const line of raw
    .slice(0, split)
    .replace(/\r\n[ \t]/g, " ")
    .split("\r\n")) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).toLowerCase(), decodeWords(line.slice(colon + 1).trim()));
  }
  const bodyRaw = raw.slice(split + 4);
  const cte = headers.get("content-transfer-encoding")?.toLowerCase();
  let bytes: Buffer;
  if (cte === "base64") bytes = Buffer.from(bodyRaw.replace(/\s+/g, ""), "base64");
  else if (cte === "quoted-printable") bytes = qp(bodyRaw.replace(/=\r\n/g, ""));
  else bytes = Buffer.from(bodyRaw, "latin1");
  return { subject: headers.get("subject") ?? "", body: bytes.toString("utf8").replace(/\r\n/g, "\n") };
}

function qp(s: string): Buffer {
  return Buffer.from(
    s.replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
    "latin1",
  );
}

function decodeWords(v: string): string {
  // a header without encoded words may arrive as raw UTF-8 bytes, read here as latin1
  if (!/=\?utf-8\?/i.test(v)) return /[\u0080-\u00ff]/.test(v) ? Buffer.from(v, "latin1").toString("utf8") : v;
  // adjacent encoded words are joined by their bytes: a character may be split across two words
  return v.replace(/(?:=\?utf-8\?[bq]\?[^?]*\?=\s*)+/gi, (run) => {
    const parts = [...run.matchAll(/=\?utf-8\?([bq])\?([^?]*)\?=/gi)].map(([, enc, text]) =>
      enc!.toLowerCase() === "b" ? Buffer.from(text!, "base64") : qp(text!.replace(/_/g, " ")),
    );
    return Buffer.concat(parts).toString("utf8");
  });
}

/** A subject as Mamori wrote it, without the store's name the registry puts in front: "【店】件名", "[Shop] Subject". */
function withoutStore(subject: string): string {
  return subject.replace(/^(【[^】]*】|\[[^\]]*\] )/, "");
}
