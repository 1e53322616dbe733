import nodemailer from "nodemailer";

export interface OutgoingNotice {
  channel: "email" | "sms";
  to: string;
  subject: string;
  body: string;
  /** the notification row id */
  id: string;
}

export interface Transport {
  readonly name: string;
  /** Resolves once the notice is accepted for delivery; rejects to have it retried. */
  send(msg: OutgoingNotice): Promise<void>;
}

const SECOND = 1000;

export interface Sender {
  name: string;
  address: string;
}

export function createSmtpTransport(url: string, from: Sender): Transport {
  const mailer = nodemailer.createTransport(
    {
      url,
      // short timeouts: a hung SMTP server must fail the attempt (and back off) well within the dispatcher's lease
      connectionTimeout: 5 * SECOND,
      greetingTimeout: 5 * SECOND,
      socketTimeout: 15 * SECOND,
      dnsTimeout: 5 * SECOND,
    },
    { from },
  );
  const domain = from.address.split("@")[1] ?? "mamori.invalid";
  return {
    name: "smtp",
    async send(msg) {
      if (msg.channel !== "email") throw new Error(`SMTP transport cannot send ${msg.channel} notices`);
      await mailer.sendMail({
        to: msg.to,
        subject: msg.subject,
        text: msg.body,
        // the same Message-ID on every retry lets mail systems drop the duplicate of an at-least-once resend
        messageId: `<${msg.id}@${domain}>`,
        headers: { "X-Mamori-Notification": msg.id },
      });
    },
  };
}

/** The notifications table is the mailbox (read with `mamori mail`): nothing to send, the row is the delivery. */
export const localMailboxTransport: Transport = {
  name: "local-mailbox",
  async send() {},
};

/** Email goes by SMTP when configured; SMS (no provider yet) and everything without SMTP stay in the local mailbox. */
export function createTransportRouter(opts: { smtpUrl?: string | undefined; from: Sender }): Transport {
  const smtp = opts.smtpUrl ? createSmtpTransport(opts.smtpUrl, opts.from) : null;
  return {
    name: smtp ? "smtp+local-mailbox" : "local-mailbox",
    send(msg) {
      return smtp && msg.channel === "email" ? smtp.send(msg) : localMailboxTransport.send(msg);
    },
  };
}
