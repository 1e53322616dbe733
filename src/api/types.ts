import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";

export type Http = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/**
 * Who may call a route: the store's backend (API key), support staff (admin session), a staff member whose session
 * still owes a password change or TOTP enrolment (admin-setup: only the routes that pay those), or anyone.
 */
export type AuthKind = "store" | "admin" | "admin-setup" | "public";

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: AuthKind;
  }
  interface FastifyRequest {
    /** the staff member behind an admin or admin-setup route (set by the staff check, HttpAuth.requireStaff) */
    adminId?: string;
  }
}
