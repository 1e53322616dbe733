// The ASN table command's help, apart from its code: `mamori --help` imports only this.
export const ASN_TABLE_HELP = `  mamori asn-table show              the hosting/VPN ASN table's size, date and sources
  mamori asn-table build --list FILE --kind hosting|vpn [--source NAME] [--table FILE] [--out FILE]
                                    merge a list of ASNs (X4BNet's "AS123 # name" lines, CSV, bare numbers) into
                                    the table (default: the bundled src/context/hosting-asns.json, rewritten)`;
