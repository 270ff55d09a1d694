/**
 * @module The operator's API for customers and their API keys (`admin` scope): create and list
 * customers, issue keys (shown once), list them (prefix only), revoke them.
 */
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import { ConflictError, NotFoundError, ValidationError } from "../../domain/errors.ts";
import { newId } from "../../domain/ids.ts";
import { type ApiKey, type Customer, DEFAULT_CUSTOMER_ID } from "../../domain/model.ts";
import type { Accounts } from "../../domain/ports.ts";
import type { RequestContext } from "../../platform/http.ts";
import { compile } from "../../platform/validate.ts";
import type { ApiKeys } from "../auth/api-keys.ts";
import { type Scope, SCOPES } from "../auth/scopes.ts";
import type { Principal } from "../auth/tokens.ts";
import { DEFAULT_PAGE, numericLimit, pageQuery } from "./deliveries.ts";

export interface AccountDeps {
  accounts: Accounts;
  apiKeys: ApiKeys;
  clock: { now(): number };
}

/** The calls' shared pieces, from the gateway: who calls with which scope, and the bounded JSON body. */
export interface AccountRouteHelpers {
  caller(ctx: RequestContext, scope: Scope): Promise<Principal>;
  body(request: Request): Promise<unknown>;
}

const customerInput = compile(
  Type.Object(
    {
      id: Type.Optional(Type.String({ pattern: "^[a-z0-9][a-z0-9_-]{0,63}$", errorMessage: "must be 1-64 of a-z, 0-9, _ and -, starting with a letter or digit" })),
      name: Type.String({ minLength: 1, maxLength: 256, errorMessage: "must be a non-empty string of at most 256 characters" }),
    },
    { additionalProperties: false, errorMessage: "must be {\"name\", \"id\"?}" },
  ),
);

const keyInput = compile(
  Type.Object(
    {
      name: Type.String({ minLength: 1, maxLength: 256, errorMessage: "must be a non-empty string of at most 256 characters" }),
      scopes: Type.Array(Type.Union(SCOPES.map((s) => Type.Literal(s))), {
        minItems: 1,
        uniqueItems: true,
        errorMessage: `must be a non-empty list of distinct scopes from ${SCOPES.join(", ")}`,
      }),
      expires_at: Type.Optional(Type.Union([Type.Null(), Type.String({ format: "date-time", errorMessage: "must be an RFC 3339 date-time" })])),
    },
    { additionalProperties: false, errorMessage: "must be {\"name\", \"scopes\", \"expires_at\"?}" },
  ),
);

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function presentCustomer(c: Customer) {
  return { id: c.id, name: c.name, created_at: iso(c.createdAt) };
}

/** A key as lists show it: never the key, never its hash. */
export function presentApiKey(k: ApiKey) {
  return {
    id: k.id,
    customer_id: k.customerId,
    name: k.name,
    prefix: k.prefix,
    scopes: k.scopes,
    created_at: iso(k.createdAt),
    expires_at: iso(k.expiresAt),
    revoked_at: iso(k.revokedAt),
  };
}

export function accountRoutes(deps: AccountDeps, { caller, body }: AccountRouteHelpers) {
  const existing = async (id: string) => {
    const customer = await deps.accounts.getCustomer(id);
    if (!customer) throw new NotFoundError("customer", id);
    return customer;
  };
  return new Elysia({ name: "gateway-accounts" })
    .post(
      "/api/v1/customers",
      async ({ request, set, server }) => {
        await caller({ request, set, server }, "admin");
        const input = customerInput.parse(await body(request));
        const customer = { id: input.id ?? newId("cus", deps.clock.now()), name: input.name, createdAt: deps.clock.now() };
        if (!(await deps.accounts.createCustomer(customer))) throw new ConflictError(`customer '${customer.id}' already exists`);
        set.status = 201;
        return presentCustomer(customer);
      },
      { parse: "none" },
    )
    .get("/api/v1/customers", async ({ request, query, set, server }) => {
      await caller({ request, set, server }, "admin");
      const q = pageQuery.parse(numericLimit(query), "query");
      const page = await deps.accounts.listCustomers(q.limit ?? DEFAULT_PAGE, q.cursor);
      return { data: page.data.map(presentCustomer), next_cursor: page.nextCursor };
    })
    .get("/api/v1/customers/:id", async ({ request, params, set, server }) => {
      await caller({ request, set, server }, "admin");
      return presentCustomer(await existing(params.id));
    })
    .post(
      "/api/v1/customers/:id/api-keys",
      async ({ request, params, set, server }) => {
        await caller({ request, set, server }, "admin");
        const input = keyInput.parse(await body(request));
        // `admin` reaches every customer's resources: only the operator's own customer may hold it.
        if (input.scopes.includes("admin") && params.id !== DEFAULT_CUSTOMER_ID)
          throw new ValidationError(`scopes: 'admin' is only for keys of the '${DEFAULT_CUSTOMER_ID}' customer (it reaches every customer)`);
        const expiresAt = input.expires_at ? Date.parse(input.expires_at) : null;
        if (expiresAt !== null && expiresAt <= deps.clock.now()) throw new ValidationError("expires_at: must be in the future");
        const { key, secret } = await deps.apiKeys.issue(params.id, { name: input.name, scopes: input.scopes, expiresAt });
        set.status = 201;
        return { ...presentApiKey(key), key: secret };
      },
      { parse: "none" },
    )
    .get("/api/v1/customers/:id/api-keys", async ({ request, params, set, server }) => {
      await caller({ request, set, server }, "admin");
      return { data: (await deps.apiKeys.list(params.id)).map(presentApiKey) };
    })
    .delete("/api/v1/customers/:id/api-keys/:keyId", async ({ request, params, set, server }) => {
      await caller({ request, set, server }, "admin");
      await existing(params.id);
      await deps.apiKeys.revoke(params.id, params.keyId);
      set.status = 204;
      return "";
    });
}
