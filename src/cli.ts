import { parseArgs } from "node:util";
import { ASN_TABLE_HELP } from "./context/hosting-help.ts";
import { RISK_HELP } from "./risk/help.ts";
import { SIMULATE_HELP } from "./simulate/help.ts";

// Every command's code is imported when it runs (await import below), not here: `mamori --help` and
// `mamori <command> --help` load this file and three help strings, so they start about as fast as Node itself
// (bench/cli-start.ts).

const STORE_LINE = "Store: embedded SQLite in MAMORI_DATA_DIR (./mamori-data), or PostgreSQL with MAMORI_DATABASE_URL.";

/** Each command's lines of the help; `mamori <command> --help` prints its own, `mamori --help` all. */
const COMMAND_HELP: Record<string, string> = {
  start: "  mamori start                      run the service (MAMORI_PORT, default 7300)",
  migrate: "  mamori migrate                    apply store migrations",
  keys: `  mamori keys create [name]         create a store API key (printed once)
  mamori keys list | revoke <id>`,
  admin: `  mamori admin create <username> [--role agent|lead]   create a support login (a setup password, printed
                                    once; at the first sign-in the staff member sets their own password and enrols
                                    TOTP). An agent views, notes and locks down; a lead also policies, staff, keys
  mamori admin role <username> agent|lead   change a login's role
  mamori admin reset-password <username>   a new setup password; their sessions end
  mamori admin reset-totp <username>       a lost authenticator: they enrol again at the next sign-in
  mamori admin disable | enable <username>   a disabled login signs in nowhere; disabling ends its sessions
  mamori admin list
  mamori admin log [--limit N]      the staff audit log (sign-ins, failures, throttling, changes), newest first`,
  mail: `  mamori mail [--to ADDR] [--limit N] [--json]   read the local mailbox (notices when no SMTP is set)
  mamori mail preview [TEMPLATE] [--lang ja|en]   a notice as the store's branding renders it (sample values);
                                    without TEMPLATE, the list of templates`,
  audit: `  mamori audit verify [--json]      check every account's event hash chain and the staff audit log's
                                    (exit 1 at a break)`,
  case: `  mamori case list [--limit N]      compromise cases, newest first
  mamori case show <id> [--json]    a case's verification report (exit 3 if an action is unconfirmed)
  mamori case resume                finish lockdowns a crash interrupted`,
  import: `  mamori import <file.ndjson|-> [--refused FILE] [--batch N] [--json]
                                    bulk import of existing users, one JSON object per line (docs/import.md);
                                    idempotent per externalId, so running a file again resumes it; refused rows
                                    go to FILE (default <file>.refused.ndjson) with their line and reason (exit 3)`,
  risk: RISK_HELP,
  "asn-table": ASN_TABLE_HELP,
  simulate: SIMULATE_HELP,
};
const HELP_OF: Record<string, string> = { gen: "risk", backtest: "risk", fit: "risk" };
const NO_STORE = new Set(["risk", "asn-table", "simulate"]);

const HELP = `mamori — account-takeover defense service

${Object.values(COMMAND_HELP).join("\n")}

${STORE_LINE}
  --help after any command prints its part of this help.`;

function commandHelp(cmd: string): string | undefined {
  const key = HELP_OF[cmd] ?? cmd;
  const text = COMMAND_HELP[key];
  if (text === undefined) return undefined;
  return NO_STORE.has(key) ? text : `${text}\n\n${STORE_LINE}`;
}

export async function main(argv: string[]): Promise<number> {
  // `--help` anywhere: the command's help (the whole help for an unknown one), before anything is loaded or opened.
  if (argv.includes("--help") || argv.includes("-h") || argv[0] === "help" || argv.length === 0) {
    const cmd = argv[0] === "help" ? argv[1] : argv.find((a) => !a.startsWith("-"));
    process.stdout.write(`${(cmd !== undefined && commandHelp(cmd)) || HELP}\n`);
    return 0;
  }
  // Risk commands have their own flags: the generator and the CSV backtest need no store; `backtest --policy` opens
  // the store itself (read only, no engine, no migration).
  if (argv[0] === "gen" || argv[0] === "backtest" || argv[0] === "fit") {
    try {
      const { riskCli } = await import("./risk/cli.ts");
      return await riskCli(argv, (s) => process.stdout.write(`${s}\n`));
    } catch (e) {
      process.stderr.write(`mamori ${argv[0]}: ${(e as Error).message}\n`);
      return 1;
    }
  }
  if (argv[0] === "asn-table") {
    try {
      const { asnTableCli } = await import("./context/hosting.ts");
      return asnTableCli(argv.slice(1), (s) => process.stdout.write(`${s}\n`));
    } catch (e) {
      process.stderr.write(`mamori asn-table: ${(e as Error).message}\n`);
      return 1;
    }
  }
  // The simulator is a client of a Mamori over HTTP (or starts its own): it opens no store here.
  if (argv[0] === "simulate") {
    const { simulateCli } = await import("./simulate/index.ts");
    return simulateCli(argv.slice(1), (s) => process.stdout.write(`${s}\n`));
  }
  let parsed: ReturnType<typeof parseStoreArgs>;
  try {
    parsed = parseStoreArgs(argv);
  } catch (e) {
    process.stderr.write(`mamori: ${(e as Error).message}\n${HELP}\n`);
    return 2;
  }
  const { positionals, values } = parsed;
  const [cmd, sub, arg] = positionals;
  if (!cmd) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const { loadConfig } = await import("./config.ts");
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
      const { noticeTemplates } = await import("./app.ts");
      const { SAMPLE_VARS } = await import("./notify/templates.ts");
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
    const { start } = await import("./server.ts");
    const app = await start(config);
    const stop = async () => {
      await app.close();
      process.exit(0);
    };
    process.once("SIGINT", () => void stop());
    process.once("SIGTERM", () => void stop());
    return -1;
  }
  const { buildApp } = await import("./app.ts");
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
      case "admin": {
        const { isStaffRole } = await import("./admin/service.ts");
        if (sub === "create" && arg) {
          const role = values.role ?? "agent";
          if (!isStaffRole(role)) {
            process.stderr.write("mamori admin create: --role is agent or lead\n");
            return 2;
          }
          const u = await app.admin.createAdminUser(arg, undefined, "cli", role);
          out(`admin ${u.username} created; setup password: ${u.password} (shown once); role: ${u.role}`);
          out((await import("./admin/setup-steps.ts")).STAFF_SETUP_STEPS);
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
      }
      case "mail": {
        const limit = values.limit ? Number(values.limit) : 20;
        const rows = await app.outbox.listMailbox({ recipient: values.to, limit: Number.isFinite(limit) ? limit : 20 });
        const { formatMailbox, mailboxJson } = await import("./notify/mailbox.ts");
        if (values.json) out(JSON.stringify(rows.map(mailboxJson), null, 2));
        else out(rows.length ? formatMailbox(rows) : "(the mailbox is empty)");
        return 0;
      }
      case "audit":
        if (sub !== "verify") {
          out(HELP);
          return 2;
        }
        {
          const r = await app.events.verify();
          if (values.json) {
            // both chains, even past a break: a monitor reads one object
            const staff = await app.staffAudit.verify();
            const ok = r.firstBreak === null && staff.firstBreak === null;
            out(JSON.stringify({ ok, accounts: r, staff }, null, 2));
            return ok ? 0 : 1;
          }
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
      case "import": {
        if (!sub) {
          process.stderr.write(`${commandHelp("import")}\n`);
          return 2;
        }
        const { runImport, formatSummary } = await import("./identity/import-cli.ts");
        const batch = values.batch ? Number(values.batch) : 500;
        const tty = process.stderr.isTTY === true;
        const summary = await runImport(app.accountImport, {
          file: sub,
          ...(values.refused ? { refusedFile: values.refused } : {}),
          batch: Number.isFinite(batch) ? batch : 500,
          ...(tty && !values.json ? { progress: (s: string) => process.stderr.write(`\r${s}   `) } : {}),
        });
        if (tty && !values.json) process.stderr.write("\n");
        out(values.json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
        return summary.refused > 0 ? 3 : 0;
      }
      case "case":
        if (sub === "show" && arg) {
          const r = await app.response.getCase(arg);
          out(values.json ? JSON.stringify(r, null, 2) : (await import("./response/report.ts")).formatReport(r));
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

function parseStoreArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      to: { type: "string" },
      limit: { type: "string" },
      lang: { type: "string" },
      role: { type: "string" },
      json: { type: "boolean" },
      refused: { type: "string" },
      batch: { type: "string" },
    },
  });
}
