/** @module The Accounts port on embedded SQLite: customers and their API keys. */
import type { Database } from "bun:sqlite";
import type { ApiKey, Customer, Page } from "../../domain/model.ts";
import type { Accounts } from "../../domain/ports.ts";
import { type ApiKeyRow, type CustomerRow, page, toApiKey, toCustomer } from "../rows.ts";
import { pingDatabase } from "./database.ts";

export class SqliteAccounts implements Accounts {
  constructor(private readonly db: Database) {}

  ping(): Promise<void> {
    return pingDatabase(this.db);
  }

  async createCustomer(customer: Customer): Promise<boolean> {
    const result = this.db.run("INSERT INTO customers (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING", [customer.id, customer.name, customer.createdAt]);
    return result.changes > 0;
  }

  async getCustomer(id: string): Promise<Customer | undefined> {
    const row = this.db.query<CustomerRow, [string]>("SELECT * FROM customers WHERE id = ?").get(id);
    return row ? toCustomer(row) : undefined;
  }

  async listCustomers(limit: number, cursor?: string): Promise<Page<Customer>> {
    const rows = this.db.query<CustomerRow, [string, number]>("SELECT * FROM customers WHERE id > ? ORDER BY id LIMIT ?").all(cursor ?? "", limit + 1);
    return page(rows.map(toCustomer), limit);
  }

  async createApiKey(key: ApiKey): Promise<void> {
    this.db.run(
      `INSERT INTO api_keys (id, customer_id, name, prefix, hash, scopes, created_at, expires_at, revoked_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [key.id, key.customerId, key.name, key.prefix, key.hash, JSON.stringify(key.scopes), key.createdAt, key.expiresAt, key.revokedAt],
    );
  }

  async apiKeyByHash(hash: string): Promise<ApiKey | undefined> {
    const row = this.db.query<ApiKeyRow, [string]>("SELECT * FROM api_keys WHERE hash = ?").get(hash);
    return row ? toApiKey(row) : undefined;
  }

  async listApiKeys(customerId: string): Promise<ApiKey[]> {
    return this.db.query<ApiKeyRow, [string]>("SELECT * FROM api_keys WHERE customer_id = ? ORDER BY id").all(customerId).map(toApiKey);
  }

  async revokeApiKey(customerId: string, id: string, at: number): Promise<ApiKey | undefined> {
    this.db.run("UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE customer_id = ? AND id = ?", [at, customerId, id]);
    const row = this.db.query<ApiKeyRow, [string, string]>("SELECT * FROM api_keys WHERE customer_id = ? AND id = ?").get(customerId, id);
    return row ? toApiKey(row) : undefined;
  }
}
