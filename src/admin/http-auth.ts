import type { HttpAuth } from "../api/http.ts";
import { AdminErrors } from "./errors.ts";
import type { AdminService, StaffIdentity, StaffRole } from "./service.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /** admin routes only a lead may call (risk policies, staff, keys); an agent gets 403 staff_role_required */
    role?: StaffRole;
  }
  interface FastifyRequest {
    /** the staff member and session behind an admin or admin-setup route */
    staff?: StaffIdentity;
  }
}

/** The HTTP kit's caller checks, answered from the admin module's store keys and staff sessions. */
export function createHttpAuth(admin: Pick<AdminService, "cachedApiKey" | "verifyApiKey" | "requireAdmin">): HttpAuth {
  return {
    cachedApiKey: (token) => admin.cachedApiKey(token),
    verifyApiKey: (token) => admin.verifyApiKey(token),
    async requireStaff(token, req, opts) {
      if (!token) throw AdminErrors.admin_unauthorized();
      const a = await admin.requireAdmin(token, { setup: opts.setup });
      req.adminId = a.adminId;
      req.staff = a;
      if (req.routeOptions.config.role === "lead" && a.role !== "lead") throw AdminErrors.staff_role_required();
    },
  };
}
