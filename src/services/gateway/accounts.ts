/**
 * @module The operator's API for customers and their API keys (`admin` scope): create and list
 * customers, issue keys (shown once), list them (prefix only), revoke them.
 */

import { ConflictError, NotFoundError, ValidationError } from "../../domain/errors.ts";
import { newId } from "../../domain/ids.ts";
import { type ApiKey, type Customer, DEFAULT_CUSTOMER_ID } from "../../domain/model.ts";
import type { Accounts } from "../../domain/ports.ts";
import type { ApiKeys } from "../auth/api-keys.ts";
import type { Scope } from "../auth/scopes.ts";
import { DEFAULT_PAGE } from "./deliveries.ts";
import type { Handlers } from "./mount.ts";
import { iso, isoOrNull } from "./present.ts";

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

type AccountOperation = "createCustomer" | "listCustomers" | "getCustomer" | "createApiKey" | "listApiKeys" | "revokeApiKey";

/** The handlers of the route table's customer and key operations (scope, query and body are checked before). */
export function accountHandlers(deps: AccountDeps): Pick<Handlers, AccountOperation> {
  const existing = async (id: string) => {
    const customer = await deps.accounts.getCustomer(id);
    if (!customer) throw new NotFoundError("customer", id);
    return customer;
  };
  return {
    createCustomer: async ({ body }) => {
      const customer = { id: body.id ?? newId("cus", deps.clock.now()), name: body.name, createdAt: deps.clock.now() };
      if (!(await deps.accounts.createCustomer(customer))) throw new ConflictError(`customer '${customer.id}' already exists`);
      return presentCustomer(customer);
    },
    listCustomers: async ({ query }) => {
      const page = await deps.accounts.listCustomers(query.limit ?? DEFAULT_PAGE, query.cursor);
      return { data: page.data.map(presentCustomer), next_cursor: page.nextCursor };
    },
    getCustomer: async ({ params }) => presentCustomer(await existing(params.id!)),
    createApiKey: async ({ params, body }) => {
      const customerId = params.id!;
      // `admin` reaches every customer's resources: only the operator's own customer may hold it.
      if (body.scopes.includes("admin") && customerId !== DEFAULT_CUSTOMER_ID)
        throw new ValidationError(`scopes: 'admin' is only for keys of the '${DEFAULT_CUSTOMER_ID}' customer (it reaches every customer)`);
      const expiresAt = body.expires_at ? Date.parse(body.expires_at) : null;
      if (expiresAt !== null && expiresAt <= deps.clock.now()) throw new ValidationError("expires_at: must be in the future");
      const { key, secret } = await deps.apiKeys.issue(customerId, { name: body.name, scopes: body.scopes, expiresAt });
      return { ...presentApiKey(key), key: secret };
    },
    listApiKeys: async ({ params }) => ({ data: (await deps.apiKeys.list(params.id!)).map(presentApiKey) }),
    revokeApiKey: async ({ params }) => {
      await existing(params.id!);
      await deps.apiKeys.revoke(params.id!, params.key_id!);
    },
  };
}
