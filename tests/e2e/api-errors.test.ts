// Bad input and bad credentials get the documented status and error shape, over real sockets.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { SignJWT } from "jose";
import { headOnly } from "../helpers/head-only.ts";
import { adminToken, client, type Instance, startInProcess, waitFor } from "../helpers/hookrelay.ts";
import { startReceiver } from "../helpers/receiver.ts";

const SECRET = "a-test-secret-that-is-long-enough-1234567890";
let hr: Instance;
let token: string;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  hr = await startInProcess({ HOOKRELAY_SECURITY_JWT_SECRET: SECRET });
  token = await adminToken(hr.gateway);
  api = client(hr.gateway, token);
});

afterAll(() => hr.stop());

function expectError(res: { status: number; body: any }, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.body.error.code).toBe(code);
  expect(typeof res.body.error.message).toBe("string");
  expect(res.body.error.message.length).toBeGreaterThan(0);
  expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/); // never a stack trace
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const claims = { sub: "admin", customer_id: "default", scopes: ["admin"], iss: "hookrelay" };
const hs = (_alg: string) => new TextEncoder().encode(SECRET);

describe("authentication", () => {
  const cases: [string, () => Promise<string | null>, string][] = [
    ["no token", async () => null, "missing Authorization"],
    ["a malformed token", async () => "not.a.jwt", "invalid"],
    ["alg none", async () => `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ ...claims, exp: Math.floor(Date.now() / 1000) + 600 })}.`, "not allowed"],
    ["HS512 when HS256 is pinned", () => new SignJWT(claims).setProtectedHeader({ alg: "HS512" }).setExpirationTime("10m").sign(hs("HS512")), "not allowed"],
    [
      "an expired token",
      () =>
        new SignJWT(claims)
          .setProtectedHeader({ alg: "HS256" })
          .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
          .sign(hs("HS256")),
      "expired",
    ],
    ["a token without exp", () => new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(hs("HS256")), "exp"],
    ["a token from another issuer", () => new SignJWT({ ...claims, iss: "evil" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("10m").sign(hs("HS256")), "iss"],
    [
      "a token signed with another secret",
      () =>
        new SignJWT(claims)
          .setProtectedHeader({ alg: "HS256" })
          .setExpirationTime("10m")
          .sign(new TextEncoder().encode("x".repeat(40))),
      "invalid",
    ],
    ["a token without customer or scopes", () => new SignJWT({ sub: "admin", iss: "hookrelay" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("10m").sign(hs("HS256")), "customer_id"],
  ];
  for (const [name, make, says] of cases) {
    it(`refuses ${name} with 401 on the gateway and on ingest`, async () => {
      const bad = await make();
      for (const res of [
        await client(hr.gateway, bad ?? undefined)("GET", "/api/v1/webhooks"),
        await client(hr.ingest, bad ?? undefined)("POST", "/events", { id: "e", type: "t", source: "s", data: {} }),
      ]) {
        expectError(res, 401, "unauthorized");
        expect(res.body.error.message).toContain(says);
      }
    });
  }

  it("accepts a valid token signed by another party that knows the secret and pins HS256", async () => {
    const good = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setExpirationTime("10m").sign(hs("HS256"));
    expect((await client(hr.gateway, good)("GET", "/api/v1/webhooks")).status).toBe(200);
  });

  it("refuses a wrong password with 401 and an unknown user the same way", async () => {
    const anon = client(hr.gateway);
    const wrong = await anon("POST", "/auth/login", { username: "admin", password: "nope" });
    const unknown = await anon("POST", "/auth/login", { username: "ghost", password: "nope" });
    expectError(wrong, 401, "unauthorized");
    expect(unknown.body).toEqual(wrong.body);
  });

  it("issues HS256 tokens with exp, and login answers the documented shape", async () => {
    const res = await client(hr.gateway)("POST", "/auth/login", { username: "admin", password: "test-admin-password" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: "Bearer", expires_in: 3600 });
    const [header, payload] = res.body.access_token
      .split(".")
      .slice(0, 2)
      .map((p: string) => JSON.parse(Buffer.from(p, "base64url").toString()));
    expect(header.alg).toBe("HS256");
    expect(payload.exp - payload.iat).toBe(3600);
  });
});

describe("bad input", () => {
  it("answers malformed JSON with 400 invalid_json", async () => {
    expectError(await api("POST", "/api/v1/webhooks", "{not json"), 400, "invalid_json");
    expectError(await client(hr.ingest, token)("POST", "/events", '{"id":'), 400, "invalid_json");
    expectError(await api("POST", "/auth/login", ""), 400, "invalid_json");
  });

  it("refuses an overlong URL with 414 and too many or too large headers with 431, on every role", async () => {
    for (const base of [hr.gateway, hr.ingest, hr.observability]) {
      const long = await fetch(`${base}/health?x=${"a".repeat(9000)}`);
      expectError({ status: long.status, body: await long.json() }, 414, "uri_too_long");
      const many: Record<string, string> = {};
      for (let i = 0; i < 101; i++) many[`x-h${i}`] = "v";
      const crowded = await fetch(`${base}/health`, { headers: many });
      expectError({ status: crowded.status, body: await crowded.json() }, 431, "headers_too_large");
      const big = await fetch(`${base}/health`, { headers: { "x-big": "b".repeat(13 * 1024) } });
      expectError({ status: big.status, body: await big.json() }, 431, "headers_too_large");
      // Past ~16 KiB Bun refuses the head before hookrelay sees it: still a 431.
      expect((await fetch(`${base}/health`, { headers: { "x-big": "b".repeat(20 * 1024) } })).status).toBe(431);
      // Just within the limits is served.
      expect((await fetch(`${base}/health?x=${"a".repeat(8000)}`)).status).toBe(200);
      expect((await fetch(`${base}/health`, { headers: { "x-ok": "b".repeat(11 * 1024) } })).status).toBe(200);
    }
  });

  it("answers a non-JSON content type with 400", async () => {
    const res = await fetch(`${hr.ingest}/events`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "text/plain" }, body: "{}" });
    expectError({ status: res.status, body: await res.json() }, 400, "unsupported_media_type");
  });

  it("answers missing fields and wrong types with 422 naming every field", async () => {
    const missing = await client(hr.ingest, token)("POST", "/events", { id: "e1" });
    expectError(missing, 422, "validation_failed");
    for (const field of ["type", "source", "data"]) expect(missing.body.error.message).toContain(field);
    const wrongTypes = await client(hr.ingest, token)("POST", "/events", { id: 5, type: ["x"], source: "s", data: 1 });
    expectError(wrongTypes, 422, "validation_failed");
    expect(wrongTypes.body.error.message).toContain("id:");
    expect(wrongTypes.body.error.message).toContain("type:");
    const extra = await client(hr.ingest, token)("POST", "/events", { id: "e", type: "t", source: "s", data: {}, surprise: true });
    expectError(extra, 422, "validation_failed");
    expect(extra.body.error.message).toContain("surprise");
    expectError(await client(hr.ingest, token)("POST", "/events", { id: "e", type: "t", source: "s", data: {}, timestamp: "yesterday" }), 422, "validation_failed");
    expectError(await api("POST", "/api/v1/webhooks", { url: 42, event_types: "x" }), 422, "validation_failed");
  });

  it("answers an oversize event with 413 and a too-big batch with 422", async () => {
    const big = { id: "big", type: "t", source: "s", data: { blob: "x".repeat(300 * 1024) } };
    expectError(await client(hr.ingest, token)("POST", "/events", big), 413, "payload_too_large");
    expectError(await api("POST", "/api/v1/events", big), 413, "payload_too_large");
    const events = Array.from({ length: 1001 }, (_, i) => ({ id: `b${i}`, type: "t", source: "s", data: {} }));
    const tooMany = await client(hr.ingest, token)("POST", "/events/batch", { events });
    expectError(tooMany, 422, "validation_failed");
    expect(tooMany.body.error.message).toContain("1000");
    const oneBad = await client(hr.ingest, token)("POST", "/events/batch", { events: [{ id: "ok", type: "t", source: "s", data: {} }, { id: "bad" }] });
    expectError(oneBad, 422, "validation_failed");
    expect(oneBad.body.error.message).toContain("events[1]");
    expectError(await client(hr.ingest, token)("POST", "/events/batch", { events: [] }), 422, "validation_failed");
  });

  it("answers a 20 MB body with 413 and the error shape naming the route's limit, from its head alone, closing the connection", async () => {
    const twentyMb = 20_000_000;
    for (const [base, path, limit] of [
      [hr.ingest, "/events", 262_144],
      [hr.ingest, "/events/batch", 16_777_216],
      [hr.gateway, "/api/v1/events", 262_144],
      [hr.gateway, "/api/v1/webhooks", 65_536],
    ] as const) {
      const answer = await headOnly(base, "POST", path, { authorization: `Bearer ${token}`, "content-type": "application/json", "content-length": String(twentyMb) });
      expectError(answer, 413, "payload_too_large");
      expect({ path, message: answer.body.error.message }).toEqual({ path, message: `request body exceeds the limit of ${limit} bytes` });
      expect(answer.headers.connection).toBe("close");
    }
    // As a client sends it, the whole body on its way.
    expectError(await client(hr.ingest, token)("POST", "/events", "a".repeat(twentyMb)), 413, "payload_too_large");
  });

  it("tells an event sent to the gateway's port where events go, with the ingest role's port", async () => {
    const ingestPort = new URL(hr.ingest).port;
    for (const path of ["/events", "/events/batch"]) {
      const res = await client(hr.gateway, token)("POST", path, { id: "e", type: "t", source: "s", data: {} });
      expectError(res, 404, "not_found");
      expect(res.body.error.message).toBe(`events are accepted by the ingest role: POST http://127.0.0.1:${ingestPort}${path} (or POST /api/v1${path} on this gateway)`);
    }
    // Anything else unmatched is still just not a route.
    expect((await client(hr.gateway, token)("GET", "/events")).body.error.message).toBe("no route for GET /events");
  });

  it("says a webhook without url that its url is required, not malformed", async () => {
    const webhook = await api("POST", "/api/v1/webhooks", {});
    expectError(webhook, 422, "validation_failed");
    expect(webhook.body.error.details).toEqual(["url: is required (must be an absolute http or https URL)", "event_types: is required (must be an array of event type strings)"]);
  });

  it("names each missing login field once, on the gateway and the dashboard", async () => {
    for (const base of [hr.gateway, hr.observability]) {
      const login = await client(base)("POST", "/auth/login", {});
      expectError(login, 422, "validation_failed");
      expect(login.body.error).toMatchObject({ message: "username: is required; password: is required", details: ["username: is required", "password: is required"] });
    }
  });

  it("refuses bad webhook URLs, empty event types and bad headers with 422", async () => {
    for (const url of ["/relative", "ftp://example.com/x", "http://user:pw@example.com/", "not a url", `http://example.com/${"a".repeat(2100)}`]) {
      const res = await api("POST", "/api/v1/webhooks", { url, event_types: ["a"] });
      expectError(res, 422, "validation_failed");
      expect(res.body.error.message).toContain("url");
    }
    expectError(await api("POST", "/api/v1/webhooks", { url: "http://127.0.0.1:9/x", event_types: [] }), 422, "validation_failed");
    expectError(await api("POST", "/api/v1/webhooks", { url: "http://127.0.0.1:9/x", event_types: ["a b"] }), 422, "validation_failed");
    const headers = await api("POST", "/api/v1/webhooks", { url: "http://127.0.0.1:9/x", event_types: ["a"], headers: { "bad name": "v", "webhook-signature": "x" } });
    expectError(headers, 422, "validation_failed");
    expect(headers.body.error.message).toContain("bad name");
    expect(headers.body.error.message).toContain("webhook-signature");
  });

  it("lists every problem of a webhook at once, shape and rules together", async () => {
    const res = await api("POST", "/api/v1/webhooks", { url: "ftp://x", event_types: [], extra: 1 });
    expectError(res, 422, "validation_failed");
    for (const part of ["extra: is not a known field", "url: scheme 'ftp'", "event_types: at least one"]) expect(res.body.error.message).toContain(part);
    expect(res.body.error.details).toHaveLength(3);
  });

  it("answers unknown ids with 404 and deletes with 204", async () => {
    expectError(await api("GET", "/api/v1/webhooks/wh_nope"), 404, "not_found");
    expectError(await api("PUT", "/api/v1/webhooks/wh_nope", { url: "http://127.0.0.1:9/x", event_types: ["a"] }), 404, "not_found");
    expectError(await api("DELETE", "/api/v1/webhooks/wh_nope"), 404, "not_found");
    expectError(await api("GET", "/api/v1/deliveries/del_nope"), 404, "not_found");
    expectError(await api("GET", "/api/v1/deliveries/del_nope/attempts"), 404, "not_found");
    expectError(await api("GET", "/api/v1/events/evt_nope"), 404, "not_found");
    expectError(await api("GET", "/api/v1/no-such-route"), 404, "not_found");
    const created = await api("POST", "/api/v1/webhooks", { url: "http://127.0.0.1:9/x", event_types: ["a"] });
    expect((await api("DELETE", `/api/v1/webhooks/${created.body.id}`)).status).toBe(204);
    expectError(await api("GET", `/api/v1/webhooks/${created.body.id}`), 404, "not_found");
  });

  it("answers bad delivery filters and page sizes with 422", async () => {
    expectError(await api("GET", "/api/v1/deliveries?status=exploded"), 422, "validation_failed");
    expectError(await api("GET", "/api/v1/deliveries?limit=0"), 422, "validation_failed");
    expectError(await api("GET", "/api/v1/deliveries?limit=abc"), 422, "validation_failed");
    expectError(await api("GET", "/api/v1/webhooks?limit=5000"), 422, "validation_failed");
    expectError(await api("GET", "/api/v1/deliveries?colour=red"), 422, "validation_failed");
  });
});

describe("webhooks CRUD", () => {
  it("creates, reads, pages, replaces, patches and rotates a webhook", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await api("POST", "/api/v1/webhooks", { url: `http://127.0.0.1:9/${i}`, event_types: ["crud.test", "crud.test"], description: `n${i}` });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ event_types: ["crud.test"], status: "active", headers: {}, description: `n${i}` });
      ids.push(res.body.id);
    }
    const first = await api("GET", "/api/v1/webhooks?limit=2");
    expect(first.body.data).toHaveLength(2);
    expect(first.body.next_cursor).toBeString();
    const rest = await api("GET", `/api/v1/webhooks?limit=1000&cursor=${first.body.next_cursor}`);
    const seen = [...first.body.data, ...rest.body.data].map((w: { id: string }) => w.id);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of ids) expect(seen).toContain(id);

    const replaced = await api("PUT", `/api/v1/webhooks/${ids[0]}`, { url: "http://127.0.0.1:9/new", event_types: ["*"] });
    expect(replaced.body).toMatchObject({ url: "http://127.0.0.1:9/new", event_types: ["*"], description: null, status: "active" });
    expectError(await api("PUT", `/api/v1/webhooks/${ids[0]}`, { event_types: ["a"] }), 422, "validation_failed");
    const patched = await api("PATCH", `/api/v1/webhooks/${ids[0]}`, { status: "disabled" });
    expect(patched.body).toMatchObject({ url: "http://127.0.0.1:9/new", status: "disabled" });
    const before = (await api("GET", `/api/v1/webhooks/${ids[0]}/secret`)).body.secret;
    const rotated = await api("POST", `/api/v1/webhooks/${ids[0]}/rotate-secret`);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(before);
    expect(rotated.headers.get("cache-control")).toBe("no-store");
    expect(replaced.body.secret).toBeUndefined(); // only create and rotate-secret answer it
    expect((await api("GET", `/api/v1/webhooks/${ids[0]}/secret`)).body).toEqual({ secret: rotated.body.secret });
  });
});

describe("customers", () => {
  it("keep their webhooks, events and deliveries apart: another customer's ids are 404", async () => {
    const tokenFor = (customer: string) =>
      new SignJWT({ sub: `${customer}-user`, customer_id: customer, scopes: ["admin"], iss: "hookrelay" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("10m").sign(hs("HS256"));
    const a = client(hr.gateway, await tokenFor("acme"));
    const b = client(hr.gateway, await tokenFor("globex"));
    const hook = await a("POST", "/api/v1/webhooks", { url: "http://127.0.0.1:9/a", event_types: ["*"] });
    expect(hook.status).toBe(201);
    expectError(await b("GET", `/api/v1/webhooks/${hook.body.id}`), 404, "not_found");
    expectError(await b("PATCH", `/api/v1/webhooks/${hook.body.id}`, { status: "disabled" }), 404, "not_found");
    expectError(await b("DELETE", `/api/v1/webhooks/${hook.body.id}`), 404, "not_found");
    expect((await b("GET", "/api/v1/webhooks")).body.data.map((w: { id: string }) => w.id)).not.toContain(hook.body.id);

    // The same event id is a different event for each customer; B's never reaches A's webhook.
    expect((await a("POST", "/api/v1/events", { id: "evt_shared", type: "t", source: "s", data: {} })).status).toBe(202);
    expect((await b("POST", "/api/v1/events", { id: "evt_shared", type: "t", source: "s", data: {} })).status).toBe(202);
    let aDeliveries: { id: string }[] = [];
    for (let i = 0; i < 100 && aDeliveries.length === 0; i++) {
      aDeliveries = (await a("GET", "/api/v1/deliveries?event_id=evt_shared")).body.data;
      await Bun.sleep(20);
    }
    expect(aDeliveries).toHaveLength(1);
    expect((await b("GET", "/api/v1/deliveries?event_id=evt_shared")).body.data).toHaveLength(0);
    expectError(await b("GET", `/api/v1/deliveries/${aDeliveries[0]!.id}`), 404, "not_found");
    expectError(await b("POST", `/api/v1/deliveries/${aDeliveries[0]!.id}/retry`), 404, "not_found");
    expect((await b("GET", "/api/v1/events/evt_shared")).body.deliveries).toEqual([]);
  });

  it("refuses a token whose scopes do not cover the call with 403", async () => {
    const reader = await new SignJWT({ sub: "r", customer_id: "acme", scopes: ["deliveries:read"], iss: "hookrelay" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("10m").sign(hs("HS256"));
    const r = client(hr.gateway, reader);
    expect((await r("GET", "/api/v1/deliveries")).status).toBe(200);
    expectError(await r("POST", "/api/v1/webhooks", { url: "http://127.0.0.1:9/x", event_types: ["a"] }), 403, "forbidden");
    expectError(await client(hr.ingest, reader)("POST", "/events", { id: "e", type: "t", source: "s", data: {} }), 403, "forbidden");
  });
});

describe("private targets", () => {
  it("refuses loopback and private webhook URLs by default", async () => {
    const strict = await startInProcess({ HOOKRELAY_ALLOW_PRIVATE_TARGETS: "false" });
    try {
      const strictApi = client(strict.gateway, await adminToken(strict.gateway));
      for (const url of ["http://127.0.0.1:8080/x", "http://localhost/x", "http://10.0.0.1/", "http://[::1]/", "http://169.254.169.254/latest", "http://2130706433/", "http://0x7f.1/"]) {
        const res = await strictApi("POST", "/api/v1/webhooks", { url, event_types: ["a"] });
        expectError(res, 422, "validation_failed");
        expect(res.body.error.message).toContain("not public");
      }
    } finally {
      await strict.stop();
    }
  });

  it("reaches a private range named in security.allowed_target_cidrs, and nothing else private", async () => {
    const receiver = startReceiver();
    const allowing = await startInProcess({ HOOKRELAY_ALLOW_PRIVATE_TARGETS: "false", HOOKRELAY_SECURITY_ALLOWED_TARGET_CIDRS: "127.0.0.1/32" });
    try {
      const token = await adminToken(allowing.gateway);
      const api = client(allowing.gateway, token);
      const created = await api("POST", "/api/v1/webhooks", { url: receiver.url("/allowed"), event_types: ["allow.test"] });
      expect(created.status).toBe(201);
      expect((await client(allowing.ingest, token)("POST", "/events", { id: "evt_allowed", type: "allow.test", source: "t", data: {} })).status).toBe(202);
      await waitFor("the delivery to the allowed range", () => receiver.received.some((r) => r.path === "/allowed"));
      for (const url of ["http://127.0.0.2/x", "http://[::1]/", "http://10.0.0.1/", "http://169.254.169.254/latest"]) {
        const res = await api("POST", "/api/v1/webhooks", { url, event_types: ["a"] });
        expectError(res, 422, "validation_failed");
        expect(res.body.error.message).toContain("not public");
      }
    } finally {
      await allowing.stop();
      receiver.stop();
    }
  });
});

describe("request metrics", () => {
  it("count requests by role, route and the status actually answered", async () => {
    await client(hr.gateway)("GET", "/api/v1/webhooks");
    await client(hr.gateway)("GET", "/api/v1/no-such-thing");
    const metrics = await (await fetch(`${hr.gateway}/metrics`)).text();
    expect(metrics).toMatch(/webhook_http_requests_total\{role="gateway",method="GET",route="\/api\/v1\/webhooks",status="401"\} [1-9]/);
    expect(metrics).toMatch(/webhook_http_requests_total\{role="gateway",method="GET",route="unmatched",status="404"\} [1-9]/);
  });
});

describe("health", () => {
  it("answers 503 naming the failing dependency", async () => {
    const { createHttpApp } = await import("../../src/platform/http.ts");
    const { createMetrics } = await import("../../src/platform/metrics.ts");
    const { createLogger } = await import("../../src/platform/logger.ts");
    const app = createHttpApp({
      role: "test",
      log: createLogger("silent"),
      metrics: createMetrics(),
      checks: { store: { ping: async () => {} }, event_log: { ping: () => Promise.reject(new Error("disk on fire")) } },
    });
    const res = await app.handle(new Request("http://local/health"));
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "unavailable", role: "test", failing: ["event_log: disk on fire"] });
  });
});
