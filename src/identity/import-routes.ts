import { type TSchema, Type } from "@sinclair/typebox";
import { errors } from "../api/schemas.ts";
import type { Http } from "../api/types.ts";
import type { RouteDeps } from "../route-deps.ts";

const SignInRecord = Type.Object({
  at: Type.String({ format: "date-time" }),
  ip: Type.String({ maxLength: 45 }),
  userAgent: Type.Optional(Type.String({ maxLength: 512 })),
  deviceId: Type.Optional(Type.String({ maxLength: 128 })),
  channel: Type.Optional(Type.Union([Type.Literal("web"), Type.Literal("app"), Type.Literal("app-password")])),
});

/**
 * Loosely typed on purpose: what the schema lets through is judged per row, so one bad row refuses only itself. The
 * factors' fields (Factor.importer: the authenticator's `totpSecret`) come from the registry, where they always stood.
 */
const importRow = (factorFields: Record<string, TSchema>) =>
  Type.Object(
    {
      externalId: Type.String({
        minLength: 1,
        maxLength: 200,
        description: "The store's own user id (idempotence key).",
      }),
      email: Type.String({ maxLength: 254 }),
      emailVerified: Type.Optional(Type.Boolean({ default: true })),
      phone: Type.Optional(Type.String({ maxLength: 32, description: "E.164" })),
      phoneVerified: Type.Optional(Type.Boolean({ default: true })),
      language: Type.Optional(Type.String({ maxLength: 8, description: "ja (default) or en" })),
      allowedCountries: Type.Optional(Type.Array(Type.String({ maxLength: 8 }), { maxItems: 50 })),
      ...Object.fromEntries(Object.entries(factorFields).map(([k, v]) => [k, Type.Optional(v)])),
      passwordHash: Type.Optional(
        Type.String({
          maxLength: 1024,
          description:
            "As the old system stored it: argon2 (PHC), bcrypt ($2a$/$2b$/$2y$), scrypt ($scrypt$ln=…) or PBKDF2-SHA256 ($pbkdf2-sha256$…, pbkdf2_sha256$…). Verified at the first sign-in and rehashed to argon2id.",
        }),
      ),
      createdAt: Type.Optional(Type.String({ format: "date-time" })),
      signIns: Type.Optional(Type.Array(SignInRecord, { maxItems: 50 })),
    },
    { additionalProperties: false },
  );

const Outcome = Type.Object({
  index: Type.Integer(),
  externalId: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union([Type.Literal("imported"), Type.Literal("skipped"), Type.Literal("refused")]),
  accountId: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
});

export function registerImportRoutes(app: Http, deps: Pick<RouteDeps, "accountImport">) {
  app.post(
    "/v1/accounts/import",
    {
      // A batch is bigger than any other request (the API's limit is 64 KiB): 4 MiB, about 1,000 rows with history.
      bodyLimit: 4 * 1024 * 1024,
      schema: {
        operationId: "importAccounts",
        tags: ["accounts"],
        summary:
          "Bulk import of existing users (up to 1,000 per call): idempotent per externalId; each row imported whole or refused with a reason.",
        body: Type.Object(
          { accounts: Type.Array(importRow(deps.accountImport.fields), { minItems: 1, maxItems: 1000 }) },
          {
            additionalProperties: false,
          },
        ),
        response: {
          200: Type.Object({
            imported: Type.Integer(),
            skipped: Type.Integer(),
            refused: Type.Integer(),
            rows: Type.Array(Outcome),
          }),
          ...errors(
            "account_not_found",
            "country_invalid",
            "invalid_email",
            "invalid_phone",
            "not_found",
            "rate_limited",
          ),
        },
      },
    },
    async (req) => {
      const out = await deps.accountImport.importBatch(req.body.accounts);
      const count = (s: string) => out.filter((o) => o.status === s).length;
      return {
        imported: count("imported"),
        skipped: count("skipped"),
        refused: count("refused"),
        rows: out.map((o, index) => ({ index, ...o })),
      };
    },
  );
}
