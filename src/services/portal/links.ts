/**
 * @module Customer portal links: `POST /api/v1/customers/{id}/portal` mints a short-lived token
 * bound to one customer, holding the webhook and delivery scopes (what the portal page needs, and
 * no more than the caller holds), and answers the page's address with the token in its fragment
 * (a fragment is never sent to a server, so the token stays out of access logs and `Referer`).
 * The page calls the same REST API with that token; nothing else is needed to enforce what it may
 * reach: every route is scoped to the token's customer, and operator routes need `admin`.
 */
import { Type } from "@sinclair/typebox";
import { ForbiddenError, NotFoundError } from "../../domain/errors.ts";
import type { Accounts } from "../../domain/ports.ts";
import { compile } from "../../platform/validate.ts";
import type { Scope } from "../auth/scopes.ts";
import type { Principal, Tokens } from "../auth/tokens.ts";

/** What a portal link may carry: managing webhooks (and their secrets) and their deliveries. */
export const PORTAL_SCOPES = ["webhooks:read", "webhooks:write", "webhooks:secrets", "deliveries:read", "deliveries:write"] as const satisfies readonly Scope[];
const READ_ONLY_SCOPES: readonly Scope[] = ["webhooks:read", "deliveries:read"];
/** The longest a link may live: it is a bearer credential in a URL someone may paste. */
export const MAX_LINK_SECONDS = 24 * 3600;
/** Where the gateway serves the portal page. */
export const PORTAL_PATH = "/portal";

export const PortalLinkSchema = Type.Object(
  {
    expires_in: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_LINK_SECONDS,
        description: "seconds the link works for; default `portal.link_ttl` (1 hour)",
        errorMessage: `must be an integer from 1 to ${MAX_LINK_SECONDS}`,
      }),
    ),
    read_only: Type.Optional(Type.Boolean({ description: "the page shows webhooks and deliveries but changes nothing (default false)", errorMessage: "must be true or false" })),
  },
  { additionalProperties: false, errorMessage: "must be an object with optionally expires_in and read_only" },
);
const input = compile(PortalLinkSchema);

export interface PortalDeps {
  accounts: Accounts;
  tokens: Tokens;
  portal: {
    /** The gateway's address as browsers reach it; empty = the minting request's own origin. */
    publicUrl: string;
    /** Seconds a link lives when the request names none. */
    linkSeconds: number;
  };
}

export interface PortalLink {
  url: string;
  expiresAtMs: number;
  scopes: Scope[];
}

/**
 * A link to the portal of `customerId`. The operator (`admin`) mints one for any customer there is;
 * a customer's key or token (with `portal:create`) for its own customer only, and another's is
 * answered as not found. The link holds the portal's scopes the caller holds itself.
 */
export async function mintPortalLink(deps: PortalDeps, caller: Principal, customerId: string, raw: unknown, requestUrl: string): Promise<PortalLink> {
  const body = input.parse(raw);
  const operator = caller.scopes.includes("admin");
  if (!operator && customerId !== caller.customerId) throw new NotFoundError("customer", customerId);
  if (!(await deps.accounts.getCustomer(customerId))) throw new NotFoundError("customer", customerId);
  const offered = body.read_only ? READ_ONLY_SCOPES : PORTAL_SCOPES;
  const scopes = operator ? [...offered] : offered.filter((s) => caller.scopes.includes(s));
  if (scopes.length === 0) throw new ForbiddenError(`a portal link holds only scopes its minter holds, and this caller holds none of ${offered.join(", ")}`);
  const { token, expiresAtMs } = await deps.tokens.mint({ subject: `portal:${caller.subject}`, customerId, scopes }, body.expires_in ?? deps.portal.linkSeconds);
  return { url: `${portalPageUrl(deps.portal.publicUrl, requestUrl)}#token=${token}`, expiresAtMs, scopes };
}

/** The page's address: under the configured public URL (its path kept), else on the request's origin. */
function portalPageUrl(publicUrl: string, requestUrl: string): string {
  const base = publicUrl === "" ? new URL(requestUrl).origin : publicUrl.replace(/\/+$/, "");
  return `${base}${PORTAL_PATH}`;
}
