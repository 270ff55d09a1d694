// Rate limits over real sockets, in both deployments (memory buckets embedded, Redis in
// production): per customer on ingest and the API (REST and gRPC), per client IP before the
// credentials are checked, 429 with Retry-After and RateLimit-* headers, and a refused batch
// keeping nothing.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { Client, credentials, Metadata, status } from "@grpc/grpc-js";
import { peerAddress } from "../../src/services/registry/handlers.ts";
import { adminToken, client, type Instance, startInProcess } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

describe.each(MODES)("rate limits (%s)", (mode) => {
  let hr: Instance;
  let admin: ReturnType<typeof client>;
  const run = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    hr = await startInProcess({
      ...(await modeEnv(mode)),
      HOOKRELAY_SECURITY_RATE_LIMIT_INGEST_PER_CUSTOMER: "100",
      HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_CUSTOMER: "4",
      HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_IP: "1000",
      HOOKRELAY_SECURITY_RATE_LIMIT_INGEST_PER_IP: "1000",
    });
    admin = client(hr.gateway, await adminToken(hr.gateway));
  });
  afterAll(() => hr.stop());

  async function producer(name: string) {
    const id = `${name}-${run}`;
    expect((await admin("POST", "/api/v1/customers", { id, name })).status).toBe(201);
    const key = await admin("POST", `/api/v1/customers/${id}/api-keys`, { name, scopes: ["events:write", "webhooks:read"] });
    return { ingest: client(hr.ingest, key.body.key), api: client(hr.gateway, key.body.key) };
  }
  const event = (id: string) => ({ id, type: "rate.test", source: "t", data: {} });

  it("lets a customer send a second's worth of events, then answers 429 with Retry-After until its bucket refills", async () => {
    const a = await producer("limited-a");
    const b = await producer("limited-b");
    // 150 at once against a bucket of 100 (refilling at 100/s while they arrive).
    const answers = await Promise.all(Array.from({ length: 150 }, (_, i) => a.ingest("POST", "/events", event(`evt_a_${run}_${i}`))));
    const ok = answers.filter((r) => r.status === 202);
    const refused = answers.filter((r) => r.status === 429);
    expect(ok.length + refused.length).toBe(150);
    expect(ok.length).toBeGreaterThanOrEqual(100);
    expect(refused.length).toBeGreaterThanOrEqual(20);
    expect(ok.every((r) => r.headers.get("ratelimit-limit") === "100" && Number(r.headers.get("ratelimit-remaining")) < 100)).toBe(true);
    expect(refused[0]!.body.error).toEqual({ code: "rate_limited", message: `rate limit of 100/s for customer 'limited-a-${run}' reached; retry in 1 s` });
    expect(refused[0]!.headers.get("retry-after")).toBe("1");
    // Another customer is not held back by the first one's traffic.
    expect((await b.ingest("POST", "/events", event(`evt_b_${run}_0`))).status).toBe(202);

    await Bun.sleep(1000);
    expect((await a.ingest("POST", "/events", event(`evt_a_${run}_late`))).status).toBe(202);
  });

  it("counts a batch by its events and keeps nothing of a refused one", async () => {
    const c = await producer("limited-c");
    const batch = (from: number, n: number) => ({ events: Array.from({ length: n }, (_, i) => event(`evt_c_${run}_${from + i}`)) });
    expect((await c.ingest("POST", "/events/batch", batch(0, 60))).status).toBe(202);
    // 40 tokens left, 90 asked: refused unless half a second passed in between.
    const refused = await c.ingest("POST", "/events/batch", batch(60, 90));
    expect(refused.status).toBe(429);
    await Bun.sleep(1100);
    // The same batch again is accepted whole: the refused request stored none of it.
    // No webhook subscribes: every event is named unmatched.
    const unmatched = batch(60, 90).events.map((e) => e.id);
    expect((await c.ingest("POST", "/events/batch", batch(60, 90))).body).toEqual({ accepted: 90, duplicates: 0, duplicate_ids: [], matched_webhooks: 0, unmatched_ids: unmatched });
  });

  it("limits a customer's management API calls", async () => {
    const d = await producer("limited-d");
    const statuses = (await Promise.all(Array.from({ length: 12 }, () => d.api("GET", "/api/v1/webhooks")))).map((r) => r.status);
    // A bucket of 4 (refilling at 4/s while they arrive): four or five through, the rest refused.
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(4);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length + statuses.filter((s) => s === 200).length).toBe(12);
  });
});

describe("rate limits per client IP", () => {
  it("refuse a client guessing passwords before its credentials are even checked", async () => {
    const hr = await startInProcess({ HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_IP: "3" });
    try {
      const anon = client(hr.gateway);
      // Six guesses at once: the IP's bucket (3 a second) lets three reach the password check.
      const guesses = await Promise.all(Array.from({ length: 6 }, (_, i) => anon("POST", "/auth/login", { username: "admin", password: `guess-${i}` })));
      expect(guesses.map((r) => r.status).sort()).toEqual([401, 401, 401, 429, 429, 429]);
      // A bad bearer value is counted the same way on every API route (after the bucket refilled).
      await Bun.sleep(1100);
      const bad = await Promise.all(Array.from({ length: 6 }, () => client(hr.gateway, "not-a-token")("GET", "/api/v1/webhooks")));
      expect(bad.map((r) => r.status).sort()).toEqual([401, 401, 401, 429, 429, 429]);
      expect(bad.find((r) => r.status === 429)!.body.error.message).toBe("rate limit of 3/s for client 127.0.0.1 reached; retry in 1 s");
    } finally {
      await hr.stop();
    }
  });
});

describe("rate limits on the gRPC registry", () => {
  it("answer RESOURCE_EXHAUSTED once a customer spent its API bucket, and name the peer's address right", async () => {
    expect(peerAddress("ipv4:127.0.0.1:50123")).toBe("127.0.0.1");
    expect(peerAddress("ipv6:[::1]:50123")).toBe("::1");
    expect(peerAddress("10.1.2.3:9")).toBe("10.1.2.3");
    expect(peerAddress("unix:/tmp/x")).toBeNull();
    const hr = await startInProcess({ HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_CUSTOMER: "3" });
    const grpc = new Client(hr.registry, credentials.createInsecure());
    try {
      const token = await adminToken(hr.gateway);
      const list = () =>
        new Promise<{ code: number; details: string }>((resolve) => {
          const metadata = new Metadata();
          metadata.set("authorization", `Bearer ${token}`);
          // ListWebhooks with an empty request (every field default); the answer's bytes are not read here.
          grpc.makeUnaryRequest(
            "/hookrelay.webhook.v1.WebhookRegistry/ListWebhooks",
            () => Buffer.alloc(0),
            (b: Buffer) => b,
            {},
            metadata,
            (err) => resolve(err ? { code: err.code, details: err.details } : { code: status.OK, details: "" }),
          );
        });
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push(await list());
      expect(answers.map((a) => a.code)).toEqual([status.OK, status.OK, status.OK, status.RESOURCE_EXHAUSTED, status.RESOURCE_EXHAUSTED]);
      expect(answers[3]!.details).toBe("rate limit of 3/s for customer 'default' reached; retry in 1 s");
    } finally {
      grpc.close();
      await hr.stop();
    }
  });
});
