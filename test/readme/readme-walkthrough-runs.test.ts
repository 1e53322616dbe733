import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";

/**
 * The README's "walk-through with curl", run as written: its shell block is read from README.md, every command in it
 * runs in bash against a fresh `mamori start` (embedded store, as the quick start says), every `# → …` answer is
 * checked against what came back (`…` matches anything), and every `X=…` placeholder is filled in from the answer
 * above it, as the reader would. If the README and Mamori drift apart, this fails.
 */
const ROOT = path.join(import.meta.dirname, "..", "..");

type Step =
  | { kind: "run"; text: string; expect: string | null }
  | { kind: "set"; name: string; value: string; note: string };

function walkthrough(): Step[] {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const at = readme.indexOf("### A walk-through with curl");
  assert.ok(at >= 0, "the README has its walk-through");
  const open = readme.indexOf("```sh\n", at);
  const block = readme.slice(open + 6, readme.indexOf("\n```", open + 6)).split("\n");
  const steps: Step[] = [];
  let cmd: string[] | null = null;
  const flush = () => {
    if (cmd) steps.push({ kind: "run", text: cmd.join("\n"), expect: null });
    cmd = null;
  };
  for (let i = 0; i < block.length; i++) {
    const line = block[i]!;
    const assign = /^([A-Z]+)=(\S+)\s*(?:#\s*(.*))?$/.exec(line);
    if (/^(curl|npx) /.test(line)) {
      flush();
      cmd = [line];
    } else if (assign) {
      flush();
      steps.push({ kind: "set", name: assign[1]!, value: assign[2]!, note: assign[3] ?? "" });
    } else if (line.startsWith("# → ")) {
      flush();
      let expect = line.slice(4);
      // An answer (JSON) continued on the next comment lines, indented under the arrow; prose after it is not.
      while (/^#\s{3,}["{}[\]]/.test(block[i + 1] ?? "")) {
        expect += block[++i]!.replace(/^#\s+/, "");
      }
      const last = steps.at(-1);
      assert.ok(last?.kind === "run", `an answer with no command before it: ${line}`);
      last.expect = expect;
    } else if (line.startsWith("#") || line.trim() === "") {
      flush();
    } else {
      assert.ok(cmd, `a line that is neither a command, an answer nor a comment: ${line}`);
      cmd.push(line);
    }
  }
  flush();
  return steps;
}

/** `# → 202 {"a":"…"}`: the status is what curl -s does not print; `…` is anything. */
function answerPattern(expect: string): RegExp {
  const body = expect.replace(/^\d{3} /, "").trim();
  const parts = body.split("…").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${parts.join(".*?")}$`, "s");
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe("readme-walkthrough-runs", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mamori-readme-"));
  const env: NodeJS.ProcessEnv = { ...process.env, MAMORI_DATA_DIR: path.join(dir, "mamori-data") };
  // The quick start's machine: no PostgreSQL, Redis or SMTP settings.
  for (const k of ["MAMORI_DATABASE_URL", "MAMORI_REDIS_URL", "MAMORI_SMTP_URL"]) delete env[k];
  let server: ChildProcess;
  let port = 0;
  let key = "";

  before(async () => {
    port = await freePort();
    server = spawn(process.execPath, [path.join(ROOT, "bin", "mamori.js"), "start"], {
      cwd: ROOT,
      env: { ...env, MAMORI_PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    await new Promise<void>((resolve, reject) => {
      server.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("Mamori listening on")) resolve();
      });
      server.once("exit", (code) => reject(new Error(`mamori start exited ${code}: ${out}`)));
    });
    key = /store API key:\s+(mk_\S+)/.exec(out)?.[1] ?? "";
    assert.ok(key, `the first start printed a store key: ${out}`);
  });
  after(() => {
    server?.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  });

  it("every command in the README's walk-through answers what the README says", () => {
    const steps = walkthrough();
    assert.ok(steps.filter((s) => s.kind === "run").length >= 8, "the walk-through was found whole");
    const vars: Record<string, string> = {};
    let last = "";
    for (const step of steps) {
      if (step.kind === "set") {
        // What the reader copies from the answer above: the README's placeholder says which part.
        let value = step.value;
        if (step.name === "M") value = step.value.replace("localhost:7300", `127.0.0.1:${port}`);
        else if (step.value.startsWith("mk_")) value = key;
        else if (/code/.test(step.note)) value = /\b(\d{6})\b/.exec(last)?.[1] ?? "";
        else if (step.value.startsWith("mms_")) value = JSON.parse(last).session.token;
        else if (/that (\w+)/.test(step.note)) value = JSON.parse(last)[/that (\w+)/.exec(step.note)![1]!];
        assert.ok(value, `${step.name} could be filled in from: ${last}`);
        vars[step.name] = value;
        continue;
      }
      const r = spawnSync("bash", ["-c", `set -o pipefail\n${step.text}`], {
        cwd: ROOT,
        env: { ...env, ...vars },
        encoding: "utf8",
        timeout: 120_000,
      });
      assert.equal(r.status, 0, `${step.text}\n→ exit ${r.status}\n${r.stdout}\n${r.stderr}`);
      last = r.stdout.trim();
      if (step.expect !== null) {
        assert.match(last, answerPattern(step.expect), `${step.text}\nanswered: ${last}\nREADME says: ${step.expect}`);
      }
    }
    // Step 6's mailbox holds what the comments promise: the blocked sign-in and the sign-out, with "This wasn't me".
    const mail = spawnSync("bash", ["-c", "npx mamori mail --to hanako@example.jp --json"], {
      cwd: ROOT,
      env,
      encoding: "utf8",
    });
    const templates = (JSON.parse(mail.stdout) as { template: string }[]).map((m) => m.template);
    assert.ok(templates.includes("signup_code"), templates.join(", "));
    assert.ok(templates.length >= 3, `the owner was told of the blocked sign-in and the sign-out: ${templates}`);
  });
});
