// The simulator's help, apart from its code: `mamori --help` imports only this, not the harness.
export const SIMULATE_HELP = `  mamori simulate <000|001|002|003|004|all> [--url URL --api-key KEY --admin USER:PASSWORD --admin-totp SECRET --smtp PORT]
                                    play the seed stories against Mamori's HTTP API and check the outcome
                                    (--admin-totp: the base32 TOTP secret of an enrolled staff login)
                                    (without --url: starts a temporary Mamori; MAMORI_DATABASE_URL → PostgreSQL)`;
