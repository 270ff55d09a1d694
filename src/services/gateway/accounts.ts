/**
 * @module The operator's API for customers and their API keys (`admin` scope): create and list
 * customers, issue keys (shown once), list them (prefix only), revoke them.
 */
import { Elysia, t } from "elysia";
import { ConflictError, NotFoundError, ValidationError } from "../../domain/errors.ts";
import { newId } from "../../domain/ids.ts";
import { type ApiKey, type Customer, DEFAULT_CUSTOMER_ID } from "../../domain/model.ts";
import type { Accounts } from "../../domain/ports.ts";
import { accessControl } from "../auth/access.ts";
import type { ApiKeys } from "../auth/api-keys.ts";
import type { GuardDeps } from "../auth/guard.ts";
import type { Scope } from "../auth/scopes.ts";
import { DEFAULT_PAGE } from "./deliveries.ts";
import { GATEWAY_MODELS, SMALL_BODY, TAGS } from "./models.ts";
import { iso, isoOrNull, page } from "./present.ts";
import { PageQuerySchema } from "./schemas.ts";

export interface AccountDeps {
  accounts: Accounts;
  apiKeys: ApiKeys;
  clock: { now(): number };
}

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
    scopes: k.scopes as Scope[], // issued only with scopes validated against SCOPES
    created_at: iso(k.createdAt),
    expires_at: isoOrNull(k.expiresAt),
    revoked_at: isoOrNull(k.revokedAt),
  };
}

const CustomerId = t.Object({ id: t.String({ description: "the customer's id" }) });

/** The operator's routes for customers and their keys: `admin` only. */
export function accountRoutes(deps: AccountDeps & GuardDeps) {
  const existing = async (id: string) => {
    const customer = await deps.accounts.getCustomer(id);
    if (!customer) throw new NotFoundError("customer", id);
    return customer;
  };
  const admin = { scope: "admin" } as const;
  const tags = [TAGS.accounts];
  return new Elysia({ name: "gateway-accounts", normalize: false })
    .use(accessControl(deps))
    .model(GATEWAY_MODELS)
    .post(
      "/api/v1/customers",
      async ({ body, set }) => {
        const customer = { id: body.id ?? newId("cus", deps.clock.now()), name: body.name, createdAt: deps.clock.now() };
        if (!(await deps.accounts.createCustomer(customer))) throw new ConflictError(`customer '${customer.id}' already exists`);
        set.status = 201;
        return presentCustomer(customer);
      },
      {
        bearer: { ...admin, body: SMALL_BODY },
        body: "CustomerInput",
        response: { 201: "Customer", 409: "Error" },
        detail: { operationId: "createCustomer", tags, summary: "Create a customer (tenant)", "x-errors": { 409: "a customer with that id exists already (`conflict`)" } },
      },
    )
    .get(
      "/api/v1/customers",
      async ({ query }) => {
        return page(await deps.accounts.listCustomers(query.limit ?? DEFAULT_PAGE, query.cursor), presentCustomer);
      },
      { bearer: admin, query: PageQuerySchema, response: { 200: "CustomerPage" }, detail: { operationId: "listCustomers", tags, summary: "List customers" } },
    )
    .get("/api/v1/customers/:id", async ({ params }) => presentCustomer(await existing(params.id)), {
      bearer: admin,
      params: CustomerId,
      response: { 200: "Customer" },
      detail: { operationId: "getCustomer", tags, summary: "Get a customer" },
    })
    .post(
      "/api/v1/customers/:id/api-keys",
      async ({ params, body, set }) => {
        const customerId = params.id;
        // `admin` reaches every customer's resources: only the operator's own customer may hold it.
        if (body.scopes.includes("admin") && customerId !== DEFAULT_CUSTOMER_ID)
          throw new ValidationError(`scopes: 'admin' is only for keys of the '${DEFAULT_CUSTOMER_ID}' customer (it reaches every customer)`);
        const expiresAt = body.expires_at ? Date.parse(body.expires_at) : null;
        if (expiresAt !== null && expiresAt <= deps.clock.now()) throw new ValidationError("expires_at: must be in the future");
        const { key, secret } = await deps.apiKeys.issue(customerId, { name: body.name, scopes: body.scopes, expiresAt });
        set.status = 201;
        return { ...presentApiKey(key), key: secret };
      },
      {
        bearer: { ...admin, body: SMALL_BODY },
        params: CustomerId,
        body: "ApiKeyInput",
        response: { 201: "ApiKeyCreated" },
        detail: { operationId: "createApiKey", tags, summary: "Issue an API key for a customer (the key is shown once)" },
      },
    )
    .get("/api/v1/customers/:id/api-keys", async ({ params }) => ({ data: (await deps.apiKeys.list(params.id)).map(presentApiKey) }), {
      bearer: admin,
      params: CustomerId,
      response: { 200: "ApiKeyList" },
      detail: { operationId: "listApiKeys", tags, summary: "List a customer's API keys (prefix only, never the key)" },
    })
    .delete(
      "/api/v1/customers/:id/api-keys/:key_id",
      async ({ params, set }) => {
        await existing(params.id);
        await deps.apiKeys.revoke(params.id, params.key_id);
        set.status = 204;
      },
      {
        bearer: admin,
        params: t.Object({ id: t.String({ description: "the customer's id" }), key_id: t.String({ description: "the key's id (`key_…`)" }) }),
        response: { 204: t.Void({ description: "Revoked" }) },
        detail: { operationId: "revokeApiKey", tags, summary: "Revoke an API key", description: "At once in this process, within 5 seconds in every other." },
      },
    );
}
