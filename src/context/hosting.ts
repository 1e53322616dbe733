import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { ASN_TABLE_HELP } from "./hosting-help.ts";

/**
 * Which autonomous systems are servers rather than people: cloud and hosting providers ("hosting") and the networks
 * VPN services exit from ("vpn"). A person signing in to a shop from one is either on a VPN or is a program; both are
 * worth a second factor from a device the account does not know (issue 14: half of the takeovers through a hosting
 * or VPN exit in the victim's country passed).
 *
 * The table is src/context/hosting-asns.json, curated by hand from:
 *  - X4BNet/lists_vpn (MIT): input/datacenter/ASN.txt and input/vpn/ASN.txt, the ASNs its datacenter and VPN lists
 *    are built from — https://github.com/X4BNet/lists_vpn
 *  - the providers' own published AS numbers (PeeringDB), for the large clouds and the Japanese VPS providers
 *    (SAKURA Internet, GMO Internet / ConoHa, IDC Frontier) a stuffing run in Japan rents;
 *  - names as the bundled @ip-location-db/asn data (RouteViews, NRO, DB-IP; CC BY 4.0) has them.
 * `neverHosting` lists consumer ISPs (Japan's large fixed and mobile networks) that a list merged in must never
 * classify: calling a home network "hosting" would challenge its customers on every new phone.
 *
 * Refresh: `mamori asn-table build --list FILE --kind hosting|vpn [--source NAME]` merges a list (X4BNet's
 * `AS123 # name` lines, a CSV whose first column is the ASN, or bare numbers) into the table; docs/risk.md says how.
 */

export type AsnKind = "hosting" | "vpn";

export interface AsnTableEntry {
  kind: AsnKind;
  name: string;
  /** where an entry merged from a list came from (curated entries have none) */
  source?: string;
}

export interface AsnTable {
  about: string;
  updated: string;
  sources: { name: string; url: string; licence: string }[];
  asns: Record<string, AsnTableEntry>;
  neverHosting: Record<string, string>;
}

export const ASN_TABLE_URL = new URL("./hosting-asns.json", import.meta.url);

/** Checks a table's shape (a refreshed file is read at start: a broken one must stop it, naming what is wrong). */
export function checkAsnTable(raw: unknown): AsnTable {
  const t = raw as AsnTable;
  if (!t || typeof t !== "object" || typeof t.asns !== "object" || typeof t.neverHosting !== "object")
    throw new Error("ASN table: asns and neverHosting objects are required");
  for (const [asn, e] of Object.entries(t.asns)) {
    if (!/^[1-9]\d{0,9}$/.test(asn)) throw new Error(`ASN table: ${asn} is not an AS number`);
    if (!e || (e.kind !== "hosting" && e.kind !== "vpn")) throw new Error(`ASN table: AS${asn} has no valid kind`);
    if (asn in t.neverHosting) throw new Error(`ASN table: AS${asn} is both hosting and a consumer network`);
  }
  return t;
}

export function loadAsnTable(url: URL = ASN_TABLE_URL): AsnTable {
  return checkAsnTable(JSON.parse(readFileSync(url, "utf8")));
}

/** ASN → kind, for the table given (the bundled one by default). */
export function createAsnClassifier(table: AsnTable = loadAsnTable()): (asn: number | null) => AsnKind | null {
  const kinds = new Map<number, AsnKind>();
  for (const [asn, e] of Object.entries(table.asns)) kinds.set(Number(asn), e.kind);
  return (asn) => (asn === null ? null : (kinds.get(asn) ?? null));
}

let bundled: ((asn: number | null) => AsnKind | null) | null = null;
/** The bundled table's classification (read once). */
export function asnKind(asn: number | null): AsnKind | null {
  bundled ??= createAsnClassifier();
  return bundled(asn);
}

let names: Map<number, string> | null = null;
/** The provider's name when `asn` is a hosting/cloud/VPN-exit network in the bundled table; null otherwise. */
export function hostingProvider(asn: number | string | null | undefined): string | null {
  if (asn === null || asn === undefined || asn === "") return null;
  const n = typeof asn === "number" ? asn : Number(asn);
  if (!Number.isInteger(n)) return null;
  names ??= new Map(Object.entries(loadAsnTable().asns).map(([k, e]) => [Number(k), e.name]));
  return names.get(n) ?? null;
}

export const isHostingAsn = (asn: number | string | null | undefined): boolean => hostingProvider(asn) !== null;

/**
 * ASNs and names from a list: `AS123 # name` lines (X4BNet), CSV rows whose first field is the ASN (with or without
 * quotes and an `AS` prefix; a header row is skipped), or bare numbers. Comments (#) and blank lines are ignored.
 */
export function parseAsnList(text: string): { asn: number; name: string }[] {
  const out: { asn: number; name: string }[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = line.match(/^"?(?:AS)?(\d{1,10})"?\s*(?:#\s*(.*)|,\s*(.*))?$/i);
    if (!m) continue;
    const asn = Number(m[1]);
    if (!Number.isSafeInteger(asn) || asn <= 0 || asn > 4_294_967_295) continue;
    const name = (m[2] ?? m[3] ?? "").replace(/^"|"$/g, "").replaceAll('""', '"').trim();
    out.push({ asn, name });
  }
  return out;
}

/**
 * The table with a list merged in: new ASNs are added with `kind` and `source`; curated entries keep their kind and
 * name; ASNs in `neverHosting` are skipped (and reported). Deterministic: entries sorted by number.
 */
export function mergeAsnList(
  table: AsnTable,
  list: { asn: number; name: string }[],
  opts: { kind: AsnKind; source: string; updated: string },
): { table: AsnTable; added: number[]; skipped: number[] } {
  const asns: Record<string, AsnTableEntry> = { ...table.asns };
  const added: number[] = [];
  const skipped: number[] = [];
  for (const { asn, name } of list) {
    const k = String(asn);
    if (k in table.neverHosting) {
      skipped.push(asn);
      continue;
    }
    if (k in asns) continue;
    asns[k] = { kind: opts.kind, name: name || `AS${asn}`, source: opts.source };
    added.push(asn);
  }
  const sorted: Record<string, AsnTableEntry> = {};
  for (const k of Object.keys(asns).sort((a, b) => Number(a) - Number(b))) sorted[k] = asns[k]!;
  return { table: checkAsnTable({ ...table, updated: opts.updated, asns: sorted }), added, skipped };
}

/** `mamori asn-table …`: needs no store. */
export function asnTableCli(argv: string[], out: (s: string) => void, now = new Date()): number {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      list: { type: "string" },
      kind: { type: "string" },
      source: { type: "string" },
      table: { type: "string" },
      out: { type: "string" },
    },
  });
  const tableUrl = values.table ? pathToFileURL(path.resolve(values.table)) : ASN_TABLE_URL;
  const table = loadAsnTable(tableUrl);
  if (positionals[0] === "show") {
    const n = Object.values(table.asns);
    out(
      `${n.length} ASNs (${n.filter((e) => e.kind === "hosting").length} hosting, ${n.filter((e) => e.kind === "vpn").length} vpn), ` +
        `${Object.keys(table.neverHosting).length} consumer networks excluded; updated ${table.updated}`,
    );
    for (const s of table.sources) out(`  source: ${s.name} (${s.licence}) ${s.url}`);
    return 0;
  }
  if (positionals[0] !== "build" || !values.list || (values.kind !== "hosting" && values.kind !== "vpn")) {
    out(ASN_TABLE_HELP);
    return 2;
  }
  const list = parseAsnList(readFileSync(values.list, "utf8"));
  const r = mergeAsnList(table, list, {
    kind: values.kind,
    source: values.source ?? path.basename(values.list),
    updated: now.toISOString().slice(0, 10),
  });
  // Run from the build, the bundled table is dist/context/'s copy: rewrite its source in src/ (the build copies it).
  const dest = values.out
    ? path.resolve(values.out)
    : fileURLToPath(tableUrl).replace(/([\\/])dist([\\/]context[\\/]hosting-asns\.json)$/, "$1src$2");
  writeFileSync(dest, `${JSON.stringify(r.table, null, 2)}\n`);
  out(
    `${list.length} ASNs read; ${r.added.length} added as ${values.kind}; ${r.skipped.length} skipped as consumer networks` +
      `${r.skipped.length ? ` (${r.skipped.map((a) => `AS${a}`).join(", ")})` : ""}; written to ${dest}`,
  );
  return 0;
}
