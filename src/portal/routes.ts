import { Type } from "@sinclair/typebox";
import { errors } from "../api/schemas.ts";
import type { Http } from "../api/types.ts";
import type { RouteDeps } from "../route-deps.ts";

export function registerPortalRoutes(app: Http, deps: RouteDeps) {
  app.post(
    "/v1/portal-sessions",
    {
      schema: {
        operationId: "createPortalSession",
        tags: ["security-center"],
        summary:
          "A one-time URL to the hosted security center for the signed-in user: redirect the browser to it. Single use, 5 minutes, bound to this session; the page lives no longer than the session.",
        headers: Type.Object({ "x-mamori-session": Type.String({ description: "The end user's session token." }) }),
        response: {
          201: Type.Object({ url: Type.String({ format: "uri" }), expiresAt: Type.String({ format: "date-time" }) }),
          ...errors("session_invalid"),
        },
      },
    },
    async (req, reply) => {
      const token = req.headers["x-mamori-session"];
      return reply
        .status(201)
        .send(await deps.portal.createPortalSession(typeof token === "string" ? token : undefined));
    },
  );
}
