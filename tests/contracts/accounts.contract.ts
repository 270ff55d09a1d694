/**
 * @module The Accounts contract (customers and API keys), run against every adapter. One
 * instance serves the suite; each test works in customers of its own.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { ApiKey } from "../../src/domain/model.ts";
import type { Accounts } from "../../src/domain/ports.ts";

export interface AccountsFixture {
  accounts: Accounts;
  close(): Promise<void>;
}

let made = 0;
const unique = (prefix: string) => `${prefix}_${process.pid}_${++made}_${Math.random().toString(36).slice(2, 8)}`;

function key(customerId: string, overrides: Partial<ApiKey> = {}): ApiKey {
  const id = unique("key");
  return {
    id,
    customerId,
    name: "ci",
    prefix: "hrk_abcd1234",
    hash: `hash_${id}`,
    scopes: ["events:write"],
    createdAt: 1_764_000_000_000,
    expiresAt: null,
    revokedAt: null,
    ...overrides,
  };
}

export function describeAccountsContract(name: string, make: () => Promise<AccountsFixture>): void {
  describe(`Accounts contract: ${name}`, () => {
    let fixture: AccountsFixture;
    let accounts: Accounts;

    beforeAll(async () => {
      fixture = await make();
      accounts = fixture.accounts;
    });
    afterAll(() => fixture.close());

    async function customer(): Promise<string> {
      const id = unique("cus");
      expect(await accounts.createCustomer({ id, name: `Customer ${id}`, createdAt: 1_764_000_000_000 })).toBe(true);
      return id;
    }

    it("creates a customer once: a second create with its id changes nothing and says so", async () => {
      const id = await customer();
      expect(await accounts.createCustomer({ id, name: "Another name", createdAt: 1 })).toBe(false);
      expect(await accounts.getCustomer(id)).toEqual({ id, name: `Customer ${id}`, createdAt: 1_764_000_000_000 });
      expect(await accounts.getCustomer(unique("cus"))).toBeUndefined();
    });

    it("lists customers by id, a page at a time", async () => {
      const ids = [await customer(), await customer(), await customer()].sort();
      const seen: string[] = [];
      let cursor: string | undefined = ids[0]!.slice(0, -1); // just before the first of ours
      for (let pages = 0; pages < 100 && cursor !== undefined; pages++) {
        const page = await accounts.listCustomers(2, cursor);
        seen.push(...page.data.map((c) => c.id));
        expect(page.data.length).toBeLessThanOrEqual(2);
        cursor = page.nextCursor ?? undefined;
      }
      expect(seen.filter((id) => ids.includes(id))).toEqual(ids);
      expect([...seen].sort()).toEqual(seen);
    });

    it("stores a key and finds it by its hash, with every field", async () => {
      const owner = await customer();
      const stored = key(owner, { scopes: ["webhooks:read", "deliveries:read"], expiresAt: 1_800_000_000_000 });
      await accounts.createApiKey(stored);
      expect(await accounts.apiKeyByHash(stored.hash)).toEqual(stored);
      expect(await accounts.apiKeyByHash("no-such-hash")).toBeUndefined();
    });

    it("refuses a second key with the same hash", async () => {
      const owner = await customer();
      const first = key(owner);
      await accounts.createApiKey(first);
      await expect(accounts.createApiKey(key(owner, { hash: first.hash }))).rejects.toThrow();
    });

    it("lists a customer's keys only, oldest first", async () => {
      const a = await customer();
      const b = await customer();
      const k1 = key(a);
      const k2 = key(a);
      await accounts.createApiKey(k1);
      await accounts.createApiKey(k2);
      await accounts.createApiKey(key(b));
      expect((await accounts.listApiKeys(a)).map((k) => k.id)).toEqual([k1.id, k2.id]);
      expect(await accounts.listApiKeys(await customer())).toEqual([]);
    });

    it("revokes a key of its customer once, and nobody else's", async () => {
      const a = await customer();
      const b = await customer();
      const k = key(a);
      await accounts.createApiKey(k);
      expect(await accounts.revokeApiKey(b, k.id, 2000)).toBeUndefined();
      expect((await accounts.apiKeyByHash(k.hash))!.revokedAt).toBeNull();
      expect((await accounts.revokeApiKey(a, k.id, 2000))!.revokedAt).toBe(2000);
      // A second revoke keeps the first time.
      expect((await accounts.revokeApiKey(a, k.id, 3000))!.revokedAt).toBe(2000);
      expect((await accounts.apiKeyByHash(k.hash))!.revokedAt).toBe(2000);
      expect(await accounts.revokeApiKey(a, "key_unknown", 2000)).toBeUndefined();
    });
  });
}
