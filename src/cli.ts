import { parseArgs } from "node:util";
import { isStaffRole } from "./admin/service.ts";
import { STAFF_SETUP_STEPS } from "./admin/setup-steps.ts";
import { buildApp, noticeTemplates } from "./app.ts";
import { loadConfig } from "./config.ts";
import { ASN_TABLE_HELP, asnTableCli } from "./context/hosting.ts";
import { formatMailbox } from "./notify/mailbox.ts";
import { SAMPLE_VARS } from "./notify/templates.ts";
import { formatReport } from "./response/report.ts";
import { RISK_HELP, riskCli } from "./risk/cli.ts";
import { start } from "./server.ts";
import { SIMULATE_HELP, simulateCli } from "./simulate/index.ts";

const HELP = `mamori — account-takeover defense service

  mamori start                      run the service (MAMORI_PORT, default 7300)
  mamori migrate                    apply store migrations
  mamori keys create [name]         create a store API key (printed once)
  mamori keys list | revoke <id>
  mamori admin create <username> [--role agent|lead]   create a support login (a setup password, printed
                                    once; at the first sign-in the staff member sets their own password and enrols
                                    TOTP). An agent views, notes and locks down; a lead also policies, staff, keys
  mamori admin role <username> agent|lead   change a login's role
  mamori admin reset-password <username>   a new setup password; their sessions end
  mamori admin reset-totp <username>       a lost authenticator: they enrol again at the next sign-in
  mamori admin disable | enable <username>   a disabled login signs in nowhere; disabling ends its sessions
  mamori admin list
  mamori admin log [--limit N]      the staff audit log (sign-ins, failures, throttling, changes), newest first
  mamori mail [--to ADDR] [--limit N]   read the local mailbox (notices when no SMTP is set)
  mamori mail preview [TEMPLATE] [--lang ja|en]   a notice as the store's branding renders it (sample values);
                                    without TEMPLATE, the list of templates
  mamori audit verify               check every account's event hash chain and the staff audit log's
  mamori case list [--limit N]      compromise cases, newest first
  mamori case show <id>             a case's verification report (exit 3 if an action is unconfirmed)
  mamori case resume                finish lockdowns a crash interrupted
${RISK_HELP}
${ASN_TABLE_HELP}
${SIMULATE_HELP}

Store: embedded SQLite in MAMORI_DATA_DIR (./mamori-data), or PostgreSQL with MAMORI_DATABASE_URL.`;

export async function main(argv: string[]): Promise<number> {
  // Risk commands have their own flags: the generator and the CSV backtest need no store; `backtest --policy` opens
  // the store itself (read only, no engine, no migration).
  if (argv[0] === "gen" || argv[0] === "backtest" || argv[0] === "fit") {
    try {
      return await riskCli(argv, (s) => process.stdout.write(`${s}\n`));
    } catch (e) {
      process.stderr.write(`mamori ${argv[0]}: ${(e as Error).message}\n`);
      return 1;
    }
  }
  if (argv[0] === "asn-table") {
    try {
      return asnTableCli(argv.slice(1), (s) => process.stdout.write(`${s}\n`));
    } catch (e) {
      process.stderr.write(`mamori asn-table: ${(e as Error).message}\n`);
      return 1;
    }
  }
  // The simulator is a client of a Mamori over HTTP (or starts its own): it opens no store here.
  if (argv[0] === "simulate") return simulateCli(argv.slice(1), (s) => process.stdout.write(`${s}\n`));
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      to: { type: "string" },
      limit: { type: "string" },
      lang: { type: "string" },
      role: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [cmd, sub, arg] = positionals;
  if (!cmd || values.help || cmd === "help") {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (e) {
    process.stderr.write(`mamori: ${(e as Error).message}\n`);
    return 1;
  }
  // The preview needs no store: it checks the branding and renders with sample values.
  if (cmd === "mail" && sub === "preview") {
    const out = (x: string) => process.stdout.write(`${x}\n`);
    try {
      const templates = noticeTemplates(config);
      if (!arg) {
        out(templates.names.join("\n"));
        return 0;
      }
      if (!templates.names.includes(arg)) {
        process.stderr.write(`mamori mail preview: no template ${arg} (mamori mail preview lists them)\n`);
        return 2;
      }
      const lang = values.lang ?? "ja";
      if (lang !== "ja" && lang !== "en") {
        process.stderr.write("mamori mail preview: --lang is ja or en\n");
        return 2;
      }
      const vars = Object.fromEntries(templates.vars(arg).map((v) => [v, SAMPLE_VARS[v] ?? `‹${v}›`]));
      const m = templates.render(arg, lang, vars);
      const from = config.branding.mailFrom;
      out(`From:    ${from.name} <${from.address}>\nSubject: ${m.subject}\n\n${m.body}`);
      return 0;
    } catch (e) {
      process.stderr.write(`mamori mail preview: ${(e as Error).message}\n`);
      return 1;
    }
  }
  if (cmd === "start") {
    const app = await start(config);
    const stop = async () => {
      await app.close();
      process.exit(0);
    };
    process.once("SIGINT", () => void stop());
    process.once("SIGTERM", () => void stop());
    return -1;
  }
  const app = await buildApp({ ...config, dispatcher: false });
  const out = (s: string) => process.stdout.write(`${s}\n`);
  try {
    switch (cmd) {
      case "migrate": {
        const rewrapped = await app.identity.upgradeStoredSecrets();
        out(`migrated (${app.database.dialect})${rewrapped ? `; ${rewrapped} stored secrets rewrapped` : ""}`);
        return 0;
      }
      case "keys":
        if (sub === "create") {
          const k = await app.admin.createApiKey(arg ?? "store");
          out(`id:  ${k.id}\nkey: ${k.key}\n(shown once)`);
        } else if (sub === "list") {
          for (const k of await app.admin.listApiKeys()) {
            out(
              `${k.id}  ${k.name}  created ${k.createdAt}  last used ${k.lastUsedAt ?? "never"}${k.revokedAt ? `  REVOKED ${k.revokedAt}` : ""}`,
            );
          }
        } else if (sub === "revoke" && arg) {
          await app.admin.revokeApiKey(arg);
          out(`revoked ${arg}`);
        } else {
          out(HELP);
          return 2;
        }
        return 0;
      case "admin":
        if (sub === "create" && arg) {
          const role = values.role ?? "agent";
          if (!isStaffRole(role)) {
            process.stderr.write("mamori admin create: --role is agent or lead\n");
            return 2;
          }
          const u = await app.admin.createAdminUser(arg, undefined, "cli", role);
          out(`admin ${u.username} created; setup password: ${u.password} (shown once); role: ${u.role}`);
          out(STAFF_SETUP_STEPS);
        } else if (sub === "role" && arg && isStaffRole(positionals[3])) {
          await app.admin.setAdminRole(arg, positionals[3]);
          out(`admin ${arg} is now ${positionals[3]}`);
        } else if (sub === "reset-password" && arg) {
          out(
            `new setup password for ${arg}: ${await app.admin.setAdminPassword(arg)} (shown once; their sessions ended)`,
          );
          out("At the next sign-in they must set a password of their own before any other admin call.");
        } else if ((sub === "disable" || sub === "enable") && arg) {
          await app.admin.setAdminDisabled(arg, sub === "disable");
          out(sub === "disable" ? `admin ${arg} disabled; their sessions ended` : `admin ${arg} enabled`);
        } else if (sub === "reset-totp" && arg) {
          await app.admin.resetAdminTotp(arg);
          out(`authenticator of ${arg} removed; their sessions ended. They enrol a new one at the next sign-in.`);
        } else if (sub === "list") {
          for (const u of await app.admin.listAdminUsers()) {
            const owes = [u.passwordChangeRequired ? "password change" : "", u.totpEnrolled ? "" : "TOTP enrolment"]
              .filter(Boolean)
              .join(", ");
            out(
              `${u.id}  ${u.username}  ${u.role}  created ${u.createdAt}${owes ? `  owes: ${owes}` : ""}${u.disabledAt ? "  DISABLED" : ""}`,
            );
          }
        } else if (sub === "log") {
          const limit = values.limit ? Number(values.limit) : 50;
          const events = await app.staffAudit.list({ limit: Number.isFinite(limit) ? limit : 50 });
          if (events.length === 0) out("(the staff log is empty)");
          for (const e of events) {
            const who = e.username ?? e.staffId ?? "—";
            const data = Object.keys(e.data).length ? `  ${JSON.stringify(e.data)}` : "";
            out(
              `${String(e.seq).padStart(6)}  ${new Date(e.at).toISOString()}  ${e.type.padEnd(30)} ${who}  ${e.ip ?? "-"}${data}`,
            );
          }
        } else {
          out(HELP);
          return 2;
        }
        return 0;
      case "mail": {
        const limit = values.limit ? Number(values.limit) : 20;
        const rows = await app.outbox.listMailbox({ recipient: values.to, limit: Number.isFinite(limit) ? limit : 20 });
        out(rows.length ? formatMailbox(rows) : "(the mailbox is empty)");
        return 0;
      }
      case "audit":
        if (sub !== "verify") {
          out(HELP);
          return 2;
        }
        {
          const r = await app.events.verify();
          if (r.firstBreak) {
            out(`BROKEN: account ${r.firstBreak.accountId}, event ${r.firstBreak.seq}: ${r.firstBreak.reason}`);
            out(`(checked ${r.events} events on ${r.accounts} accounts up to the break)`);
            return 1;
          }
          const staff = await app.staffAudit.verify();
          if (staff.firstBreak) {
            out(`BROKEN: staff log, event ${staff.firstBreak.seq}: ${staff.firstBreak.reason}`);
            out(`(accounts ok: ${r.events} events on ${r.accounts} accounts)`);
            return 1;
          }
          out(
            `ok: ${r.events} events on ${r.accounts} accounts, every chain intact; staff log: ${staff.events} events, intact`,
          );
          return 0;
        }
      case "case":
        if (sub === "show" && arg) {
          const r = await app.response.getCase(arg);
          out(formatReport(r));
          return r.flagged > 0 ? 3 : 0;
        }
        if (sub === "list") {
          const limit = values.limit ? Number(values.limit) : 50;
          for (const c of await app.response.listCases({ limit: Number.isFinite(limit) ? limit : 50 })) {
            out(`${c.id}  ${c.status.padEnd(11)}  ${c.accountId}  since ${c.since ?? "—"}  ${c.reason}`);
          }
          return 0;
        }
        if (sub === "resume") {
          const ids = await app.response.resumeAll();
          out(ids.length ? `resumed ${ids.join(", ")}` : "nothing to resume");
          return 0;
        }
        out(HELP);
        return 2;
      default:
        out(HELP);
        return 2;
    }
  } catch (e) {
    process.stderr.write(`mamori ${cmd}: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await app.close();
  }
}
