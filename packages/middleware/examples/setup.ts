// docs/integration.md §1, §6 and §9: one-off calls a store makes from a script, not from a request. Type-checked
// with the repository; not run.
import { createMamoriClient, unwrap } from "@mamori/client";

const mamori = createMamoriClient({ baseUrl: "http://127.0.0.1:7300", apiKey: process.env.MAMORI_API_KEY ?? "" });

// §6 register the webhook endpoint once; keep the secret (shown once) in the store's secret manager
export async function registerWebhooks(): Promise<string> {
  const ep = await unwrap(
    mamori.POST("/v1/webhooks/endpoints", {
      body: { url: "https://shop.example.jp/mamori/webhooks", description: "main backend" },
    }),
  );
  return ep.secret;
}

// §9 existing users, a batch of up to 1,000 (for millions: `mamori import users.ndjson`, docs/import.md)
export async function importBatch(): Promise<void> {
  const r = await unwrap(
    mamori.POST("/v1/accounts/import", {
      body: {
        accounts: [
          {
            externalId: "shop-user-81723",
            email: "hanako@example.jp",
            language: "ja",
            allowedCountries: ["JP"],
            passwordHash: "$2b$10$8ARVQKgclKaFjNJspw4eQuHiI3oQm1fSepqJasZr8Tt64Ls8WNgRy",
            signIns: [{ at: "2026-10-01T10:00:00Z", ip: "153.150.1.2", deviceId: "d-81723" }],
          },
        ],
      },
    }),
  );
  console.log(r);
}
