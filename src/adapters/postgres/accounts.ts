/** @module The Accounts port on PostgreSQL: customers and their API keys. */
import type { ApiKey, Customer, Page } from "../../domain/model.ts";
import type { Accounts } from "../../domain/ports.ts";
import { type ApiKeyRow, type CustomerRow, page, toApiKey, toCustomer } from "../rows.ts";
import { guarded, pingPostgres, type Sql } from "./client.ts";

export class PostgresAccounts implements Accounts {
  constructor(private readonly sql: Sql) {}

  ping(): Promise<void> {
    return pingPostgres(this.sql);
  }

  async createCustomer(customer: Customer): Promise<boolean> {
    const result = await guarded(this.sql`
      INSERT INTO customers (id, name, created_at) VALUES (${customer.id}, ${customer.name}, ${customer.createdAt}) ON CONFLICT (id) DO NOTHING`);
    return result.count > 0;
  }

  async getCustomer(id: string): Promise<Customer | undefined> {
    const [row] = await guarded(this.sql<CustomerRow[]>`SELECT * FROM customers WHERE id = ${id}`);
    return row ? toCustomer(row) : undefined;
  }

  async listCustomers(limit: number, cursor?: string): Promise<Page<Customer>> {
    const rows = await guarded(this.sql<CustomerRow[]>`SELECT * FROM customers WHERE id > ${cursor ?? ""} ORDER BY id LIMIT ${limit + 1}`);
    return page(rows.map(toCustomer), limit);
  }

  async createApiKey(key: ApiKey): Promise<void> {
    await guarded(this.sql`
      INSERT INTO api_keys (id, customer_id, name, prefix, hash, scopes, created_at, expires_at, revoked_at)
      VALUES (${key.id}, ${key.customerId}, ${key.name}, ${key.prefix}, ${key.hash}, ${this.sql.json(key.scopes)}, ${key.createdAt},
              ${key.expiresAt}, ${key.revokedAt})`);
  }

  async apiKeyByHash(hash: string): Promise<ApiKey | undefined> {
    const [row] = await guarded(this.sql<ApiKeyRow[]>`SELECT * FROM api_keys WHERE hash = ${hash}`);
    return row ? toApiKey(row) : undefined;
  }

  async listApiKeys(customerId: string): Promise<ApiKey[]> {
    const rows = await guarded(this.sql<ApiKeyRow[]>`SELECT * FROM api_keys WHERE customer_id = ${customerId} ORDER BY id`);
    return rows.map(toApiKey);
  }

  async revokeApiKey(customerId: string, id: string, at: number): Promise<ApiKey | undefined> {
    const [row] = await guarded(this.sql<ApiKeyRow[]>`
      UPDATE api_keys SET revoked_at = coalesce(revoked_at, ${at}) WHERE customer_id = ${customerId} AND id = ${id} RETURNING *`);
    return row ? toApiKey(row) : undefined;
  }
}
