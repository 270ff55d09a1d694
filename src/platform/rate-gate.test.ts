import { describe, expect, it } from "bun:test";
import { MemoryRateLimiter } from "../adapters/memory/rate-limiter.ts";
import { RateLimitedError } from "../domain/errors.ts";
import { clientIp } from "./http.ts";
import { RateGate, tighter } from "./rate-gate.ts";

const T0 = Date.UTC(2026, 0, 1);

function gate(limits: Partial<ConstructorParameters<typeof RateGate>[1]> = {}) {
  const clock = { ms: T0 };
  const g = new RateGate(new MemoryRateLimiter(), { ingestPerIp: 0, ingestPerCustomer: 0, apiPerIp: 0, apiPerCustomer: 0, ...limits }, () => clock.ms);
  return { gate: g, clock };
}

describe("RateGate", () => {
  it("lets a second's worth through, then refuses with 429, Retry-After and RateLimit headers", async () => {
    const { gate: g, clock } = gate({ apiPerCustomer: 3 });
    expect(await g.byCustomer("api", "acme")).toEqual({ "ratelimit-limit": "3", "ratelimit-remaining": "2", "ratelimit-reset": "1" });
    await g.byCustomer("api", "acme");
    expect((await g.byCustomer("api", "acme"))["ratelimit-remaining"]).toBe("0");
    const refused = await g.byCustomer("api", "acme").catch((e) => e);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect(refused).toMatchObject({ status: 429, code: "rate_limited", retryAfterSeconds: 1 });
    expect(refused.message).toBe("rate limit of 3/s for customer 'acme' reached; retry in 1 s");
    expect(refused.headers).toMatchObject({ "retry-after": "1", "ratelimit-limit": "3", "ratelimit-remaining": "0" });
    // Another customer has its own bucket; the same customer gets a token back after a third of a second.
    await g.byCustomer("api", "globex");
    clock.ms += 334;
    expect((await g.byCustomer("api", "acme"))["ratelimit-remaining"]).toBe("0");
  });

  it("keeps ingest and the API, and IPs and customers, in separate buckets", async () => {
    const { gate: g } = gate({ ingestPerIp: 1, apiPerIp: 1, ingestPerCustomer: 1, apiPerCustomer: 1 });
    await g.byIp("ingest", "10.0.0.1");
    await g.byIp("api", "10.0.0.1");
    await g.byCustomer("ingest", "10.0.0.1");
    await g.byIp("ingest", "10.0.0.2");
    await expect(g.byIp("ingest", "10.0.0.1")).rejects.toThrow("rate limit of 1/s for client 10.0.0.1 reached");
  });

  it("charges a batch by its events, a batch bigger than a second's worth only when the bucket is full", async () => {
    const { gate: g } = gate({ ingestPerCustomer: 10 });
    expect((await g.byCustomer("ingest", "acme", 7))["ratelimit-remaining"]).toBe("3");
    await expect(g.byCustomer("ingest", "acme", 4)).rejects.toThrow(RateLimitedError);
    expect((await g.byCustomer("ingest", "acme", 3))["ratelimit-remaining"]).toBe("0");
    const { gate: fresh } = gate({ ingestPerCustomer: 10 });
    expect((await fresh.byCustomer("ingest", "acme", 500))["ratelimit-remaining"]).toBe("0");
  });

  it("does nothing for a limit of 0", async () => {
    const { gate: g } = gate();
    for (let i = 0; i < 1000; i++) expect(await g.byCustomer("ingest", "acme", 1000)).toEqual({});
  });

  it("tells the tighter of two header sets", () => {
    const a = { "ratelimit-limit": "10", "ratelimit-remaining": "9", "ratelimit-reset": "1" };
    const b = { "ratelimit-limit": "3", "ratelimit-remaining": "1", "ratelimit-reset": "1" };
    expect(tighter(a, b)).toBe(b);
    expect(tighter(b, a)).toBe(b);
    expect(tighter({}, a)).toBe(a);
    expect(tighter(a, {})).toBe(a);
  });

  it("gives password checks a budget per client IP and per username, a minute's worth at once, then one every 60/limit s", async () => {
    const { gate: g, clock } = gate({ apiPerIp: 1000, loginPerIp: 3, loginPerAccount: 2 });
    // Per IP: three usernames from one client, then 429 until a third of a minute has passed.
    for (const user of ["a", "b", "c"]) await g.login("10.0.0.1", user);
    const byIp = await g.login("10.0.0.1", "d").catch((e) => e);
    expect(byIp).toBeInstanceOf(RateLimitedError);
    expect(byIp).toMatchObject({ status: 429, code: "rate_limited", retryAfterSeconds: 20, headers: { "retry-after": "20" } });
    expect(byIp.message).toBe("login limit of 3/min for client 10.0.0.1 reached; retry in 20 s");
    // Per username: two tries from anywhere, then 429 for that name only, from any client.
    await g.login("10.0.0.2", "admin");
    await g.login("10.0.0.3", "admin");
    await expect(g.login("10.0.0.4", "admin")).rejects.toThrow("login limit of 2/min for account 'admin' reached; retry in 30 s");
    await g.login("10.0.0.4", "someone-else");
    // The API bucket of those clients is untouched by login's.
    expect((await g.byIp("api", "10.0.0.1"))["ratelimit-remaining"]).toBe("999");
    clock.ms += 20_000;
    await g.login("10.0.0.1", "e");
    await expect(g.login("10.0.0.1", "f")).rejects.toThrow(RateLimitedError);
    clock.ms += 10_000;
    await g.login("10.0.0.5", "admin");
  });

  it("does not limit password checks when the login limits are 0 or absent", async () => {
    for (const limits of [{}, { loginPerIp: 0, loginPerAccount: 0 }]) {
      const { gate: g } = gate(limits);
      for (let i = 0; i < 500; i++) await g.login("10.0.0.1", "admin");
    }
  });
});

describe("clientIp", () => {
  const ctx = (headers: Record<string, string>) => ({
    request: new Request("http://h/", { headers }),
    set: { headers: {} },
    server: { requestIP: () => ({ address: "127.0.0.1" }) },
  });

  it("is the socket's peer unless a proxy is trusted, then the last X-Forwarded-For entry", () => {
    const forwarded = ctx({ "x-forwarded-for": "6.6.6.6, 203.0.113.7" });
    expect(clientIp(forwarded, false)).toBe("127.0.0.1");
    expect(clientIp(forwarded, true)).toBe("203.0.113.7");
    expect(clientIp(ctx({}), true)).toBe("127.0.0.1");
    expect(clientIp({ ...ctx({}), server: null }, false)).toBeNull();
  });
});
