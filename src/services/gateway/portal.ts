/**
 * @module The customer portal on the gateway: `POST /api/v1/customers/{id}/portal` mints a link,
 * and `GET /portal` serves the page it opens. The page is self-contained (its own script and style,
 * allowed by hash, nothing fetched from elsewhere) and calls this same API with the link's token.
 */
import { Elysia, t } from "elysia";
import { inlinePageHeaders, inlinePagePolicy } from "../../platform/page-policy.ts";
import { accessControl } from "../auth/access.ts";
import { mintPortalLink, PORTAL_PATH, type PortalDeps } from "../portal/links.ts";
import portalHtml from "../portal/page.html" with { type: "text" };
import { GATEWAY_MODELS, SMALL_BODY, TAGS, validatedByTheUseCase } from "./models.ts";
import type { GatewayDeps } from "./routes.ts";

/** Imported as text (bun-types types every `.html` import as an HTML bundle, whatever its `type`). */
const portalPage = portalHtml as unknown as string;

export interface PortalPageDeps {
  portal: PortalDeps["portal"] & {
    /** Origins that may frame the page (CSP frame-ancestors); empty = none. */
    frameAncestors: string[];
  };
}

export function portalRoutes(deps: GatewayDeps) {
  // Made on the first request: building the routes touches no dependency.
  let headers: Record<string, string> | undefined;
  return new Elysia({ name: "gateway-portal", normalize: false })
    .use(accessControl(deps))
    .model(GATEWAY_MODELS)
    .post(
      "/api/v1/customers/:id/portal",
      async ({ principal, params, body, request, set }) => {
        const link = await mintPortalLink(deps, principal, params.id, body, request.url);
        set.headers["cache-control"] = "no-store";
        return { url: link.url, expires_at: new Date(link.expiresAtMs).toISOString(), scopes: link.scopes };
      },
      {
        bearer: { scope: "portal:create", body: SMALL_BODY, bodyOptional: true },
        params: t.Object({ id: t.String({ description: "the customer's id" }) }),
        response: { 200: "PortalLink" },
        detail: {
          operationId: "createPortalLink",
          requestBody: validatedByTheUseCase("PortalLinkInput", false),
          tags: [TAGS.accounts],
          summary: "Mint a short-lived link to the customer portal: a page where one customer manages its webhooks and sees its deliveries",
          description:
            "The operator (`admin`) mints one for any customer; a key or token with `portal:create`, for its own customer only (another's is 404). The link opens `GET /portal` with a token in its fragment, bound to the customer, holding the webhook and delivery scopes (`webhooks:read`, `webhooks:write`, `webhooks:secrets`, `deliveries:read`, `deliveries:write`; with `read_only`, the two read ones) that its minter holds; it works until `expires_at` (plus `security.jwt_clock_skew`) and on nothing else: another customer's resources answer 404, operator routes 403. The answer has `Cache-Control: no-store`: the URL is a credential. Give it to the customer's browser (a redirect, or an iframe: `portal.frame_ancestors` names the origins that may frame it).",
          "x-errors": { 404: "no such customer, or not the caller's" },
        },
      },
    )
    .get(
      PORTAL_PATH,
      ({ set }) => {
        headers ??= inlinePageHeaders(inlinePagePolicy(portalPage, deps.portal.frameAncestors));
        Object.assign(set.headers, headers);
        return portalPage;
      },
      {
        detail: {
          operationId: "portal",
          tags: [TAGS.accounts],
          summary: "The customer portal (HTML): opened by a link from POST /api/v1/customers/{id}/portal, it calls this API with the link's token",
          responses: { 200: { description: "A self-contained page", content: { "text/html": {} } } },
        },
      },
    );
}
