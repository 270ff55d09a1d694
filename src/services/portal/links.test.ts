import { describe, expect, it } from "bun:test";
import type { Customer } from "../../domain/model.ts";
import type { Accounts } from "../../domain/ports.ts";
import { hs256KeyRing } from "../auth/token-keys.ts";
import { type Principal, Tokens } from "../auth/tokens.ts";
import { mintPortalLink, PORTAL_SCOPES, type PortalDeps } from "./links.ts";

const NOW = Date.UTC(2026, 11, 5, 9, 0, 0);
const customers = new Map<string, Customer>([
  ["acme", { id: "acme", name: "Acme", createdAt: NOW }],
  ["globex", { id: "globex", name: "Globex", createdAt: NOW }],
]);
const accounts = { getCustomer: async (id: string) => customers.get(id) ?? null } as unknown as Accounts;
const tokens = new Tokens({ keys: hs256KeyRing("a-secret-of-at-least-thirty-two-characters"), issuer: "hookrelay", expirySeconds: 3600, clockSkewSeconds: 0 }, () => NOW);

function deps(publicUrl = ""): PortalDeps {
  return { accounts, tokens, portal: { publicUrl, linkSeconds: 3600 } };
}
const operator: Principal = { subject: "admin", customerId: "default", scopes: ["admin"] };
const keyOf = (customerId: string, scopes: string[]): Principal => ({ subject: "key_1", customerId, scopes });
const tokenIn = (url: string) => new URLSearchParams(new URL(url).hash.slice(1)).get("token")!;

describe("mintPortalLink", () => {
  it("gives the operator a link to any customer, on the request's origin, holding every portal scope and bound to that customer", async () => {
    const link = await mintPortalLink(deps(), operator, "acme", {}, "http://10.0.0.5:8080/api/v1/customers/acme/portal");
    expect(link.url).toStartWith("http://10.0.0.5:8080/portal#token=");
    expect(link.scopes).toEqual([...PORTAL_SCOPES]);
    expect(link.expiresAtMs).toBe(NOW + 3600_000);
    expect(await tokens.verify(tokenIn(link.url))).toEqual({ subject: "portal:admin", customerId: "acme", scopes: [...PORTAL_SCOPES] });
  });

  it("puts the page under the configured public URL, its path prefix kept", async () => {
    for (const base of ["https://hooks.example.com/relay", "https://hooks.example.com/relay/"]) {
      const link = await mintPortalLink(deps(base), operator, "acme", {}, "http://10.0.0.5:8080/api/v1/customers/acme/portal");
      expect(link.url).toStartWith("https://hooks.example.com/relay/portal#token=");
    }
  });

  it("lives expires_in seconds, or the configured default; read_only holds the read scopes alone", async () => {
    const short = await mintPortalLink(deps(), operator, "acme", { expires_in: 90, read_only: true }, "http://h/");
    expect(short.expiresAtMs).toBe(NOW + 90_000);
    expect(short.scopes).toEqual(["webhooks:read", "deliveries:read"]);
    expect((await tokens.verify(tokenIn(short.url))).scopes).toEqual(["webhooks:read", "deliveries:read"]);
  });

  it("lets a customer's key mint for its own customer only, with no scope it does not hold itself", async () => {
    const key = keyOf("acme", ["portal:create", "webhooks:read", "deliveries:read", "events:write"]);
    const own = await mintPortalLink(deps(), key, "acme", {}, "http://h/");
    expect(own.scopes).toEqual(["webhooks:read", "deliveries:read"]);
    expect(await tokens.verify(tokenIn(own.url))).toEqual({ subject: "portal:key_1", customerId: "acme", scopes: ["webhooks:read", "deliveries:read"] });
    // Another customer's, whether it exists or not: not found, as every other resource of theirs.
    await expect(mintPortalLink(deps(), key, "globex", {}, "http://h/")).rejects.toThrow("customer 'globex' not found");
    await expect(mintPortalLink(deps(), key, "nobody", {}, "http://h/")).rejects.toThrow("customer 'nobody' not found");
    await expect(mintPortalLink(deps(), keyOf("acme", ["portal:create"]), "acme", {}, "http://h/")).rejects.toThrow("holds none of");
  });

  it("refuses an unknown customer, and a body out of bounds, naming the field", async () => {
    await expect(mintPortalLink(deps(), operator, "nobody", {}, "http://h/")).rejects.toThrow("customer 'nobody' not found");
    for (const [body, field] of [
      [{ expires_in: 0 }, "expires_in"],
      [{ expires_in: 86_401 }, "expires_in"],
      [{ expires_in: 1.5 }, "expires_in"],
      [{ read_only: "yes" }, "read_only"],
      [{ scopes: ["admin"] }, "scopes"],
      [[], "body"],
      [null, "body"],
    ] as const) {
      await expect(mintPortalLink(deps(), operator, "acme", body, "http://h/")).rejects.toThrow(field);
    }
  });
});
