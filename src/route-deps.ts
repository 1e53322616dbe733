import type { AdminService } from "./admin/service.ts";
import type { CommerceService } from "./commerce/service.ts";
import type { ConsoleService } from "./console/service.ts";
import type { EventLog } from "./events/store.ts";
import type { AccountImport } from "./identity/import.ts";
import type { IdentityService } from "./identity/service.ts";
import type { PortalService } from "./portal/service.ts";
import type { Recovery } from "./response/recovery.ts";
import type { ResponseService } from "./response/service.ts";
import type { RiskService } from "./risk/service.ts";
import type { SessionService } from "./sessions/service.ts";
import type { Csrf } from "./web/csrf.ts";
import type { Site } from "./web/site.ts";
import type { WebhookService } from "./webhooks/service.ts";

/**
 * What the routes and pages of every module are given, filled by the composition root (app.ts). It lives on the
 * composition side, not in the HTTP kit (api/), which names no module; each module's register function takes it.
 */
export interface RouteDeps {
  commerce: CommerceService;
  identity: IdentityService;
  /** bulk import of a store's existing users */
  accountImport: AccountImport;
  sessions: SessionService;
  admin: AdminService;
  events: EventLog;
  response: ResponseService;
  recovery: Recovery;
  webhooks: WebhookService;
  risk: RiskService;
  /** the store the pages are for (name, logo, contact) */
  site: Site;
  /** the security center opened from the store (portal sessions) */
  portal: PortalService;
  /** the support console's reads (search, the account's record, reveals) */
  console: ConsoleService;
  /** CSRF tokens for the pages' forms that act on a cookie session */
  csrf: Csrf;
  /** MAMORI_PUBLIC_URL: the pages' own origin (https ⇒ Secure, __Host- cookies) */
  publicUrl: string;
  /** the network's name for an address (the ASN database's organisation), for people reading their sign-ins */
  networkOf: (ip: string) => string | null;
  /** answers that must not tell by their timing leave no sooner than this after the request (MAMORI_ANSWER_FLOOR_MS) */
  answerFloorMs: number;
  /** support lookup of the accounts behind an order id or a gift card code */
  findByOrderOrGiftCard: (q: string) => Promise<{ accountId: string; kind: string; value: string }[]>;
}
