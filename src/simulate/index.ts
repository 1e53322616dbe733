import { parseArgs } from "node:util";
import { type Out, openWorld, type StaffLogin, type WorldOptions } from "./harness.ts";
import { SIMULATE_HELP } from "./help.ts";
import { Outcome, type StoryResult } from "./play.ts";
import { STORIES } from "./stories.ts";

export interface SimulateOptions extends Omit<WorldOptions, "out"> {
  stories: string[];
  out?: Out;
}

/** Plays the stories in order against one Mamori; answers each story's checklist. */
export async function simulate(opts: SimulateOptions): Promise<StoryResult[]> {
  const out = opts.out ?? ((s: string) => process.stdout.write(`${s}\n`));
  const picked = opts.stories.includes("all") ? STORIES : STORIES.filter((s) => opts.stories.includes(s.id));
  const unknown = opts.stories.filter((s) => s !== "all" && !STORIES.some((x) => x.id === s));
  if (unknown.length || picked.length === 0) throw new Error(`unknown story: ${unknown.join(", ") || "(none)"}`);
  const w = await openWorld({ ...opts, out });
  const results: StoryResult[] = [];
  try {
    for (const story of picked) {
      const o = new Outcome();
      const started = Date.now();
      out("");
      out(`━━ Story ${story.id}: ${story.title}`);
      out(`   seed: ../shared/seeds/${story.seed}`);
      let error: string | undefined;
      try {
        await story.play(w, o);
      } catch (e) {
        // A step the story needed got an unexpected answer: the story fails, with that answer.
        error = (e as Error).message;
        o.expect("the story ran to the end", false, error);
      }
      const r: StoryResult = {
        id: story.id,
        title: story.title,
        ok: o.checks.length > 0 && o.checks.every((c) => c.ok),
        checks: o.checks,
        facts: o.facts,
        ms: Date.now() - started,
        ...(error ? { error } : {}),
      };
      results.push(r);
      out("");
      out(`   Outcome of ${story.id} (${(r.ms / 1000).toFixed(1)} s):`);
      for (const c of r.checks) out(`   ${c.ok ? "[x]" : "[ ] FAILED:"} ${c.label} — ${c.detail}`);
    }
  } finally {
    await w.close();
  }
  out("");
  out(`Summary: ${results.filter((r) => r.ok).length}/${results.length} stories passed`);
  for (const r of results) out(`  ${r.ok ? "pass" : "FAIL"}  ${r.id}  ${r.title}`);
  return results;
}

/** `mamori simulate …`: exit 0 when every expected outcome held, 1 when one failed, 2 on a usage error. */
export async function simulateCli(argv: string[], out: Out): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    out(`mamori simulate: ${(e as Error).message}\n${SIMULATE_HELP}`);
    return 2;
  }
  const { positionals, values } = parsed;
  if (values.help || positionals.length === 0) {
    out(SIMULATE_HELP);
    return positionals.length === 0 && !values.help ? 2 : 0;
  }
  let admin: StaffLogin | undefined;
  if (values.admin) {
    const i = values.admin.indexOf(":");
    if (i < 1) {
      out("mamori simulate: --admin must be user:password");
      return 2;
    }
    admin = {
      username: values.admin.slice(0, i),
      password: values.admin.slice(i + 1),
      ...(values["admin-totp"] ? { totpSecret: values["admin-totp"] } : {}),
    };
  }
  if (values.url && (!values["api-key"] || !admin || !values.smtp)) {
    out("mamori simulate: --url needs --api-key, --admin user:password and --smtp PORT (the sink Mamori mails to)");
    return 2;
  }
  const smtpPort = values.smtp ? Number(values.smtp) : 0;
  const webhookPort = values["webhook-port"] ? Number(values["webhook-port"]) : 0;
  if (!Number.isInteger(smtpPort) || !Number.isInteger(webhookPort)) {
    out("mamori simulate: --smtp and --webhook-port take a port number");
    return 2;
  }
  try {
    const results = await simulate({
      stories: positionals,
      out,
      smtpPort,
      webhookPort,
      ...(values.url ? { url: values.url, apiKey: values["api-key"]!, admin: admin! } : {}),
      databaseUrl: process.env.MAMORI_DATABASE_URL || undefined,
    });
    return results.every((r) => r.ok) ? 0 : 1;
  } catch (e) {
    out(`mamori simulate: ${(e as Error).message}`);
    return 1;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: "string" },
      "api-key": { type: "string" },
      admin: { type: "string" },
      "admin-totp": { type: "string" },
      smtp: { type: "string" },
      "webhook-port": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}
