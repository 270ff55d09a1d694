// Property-based fuzzing of every input surface over real sockets (fast-check): whatever JSON,
// text, query or path a client sends to ingest or the management API, the answer is a 2xx or a
// 4xx with the error shape — never a 500, never a crash — and the process keeps serving.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "bun:test";
import fc from "fast-check";
import { adminToken, type Instance, startInProcess } from "../helpers/hookrelay.ts";

/** Runs per property: enough to walk the shapes, bounded so the file stays within seconds. */
const RUNS = 150;

let hr: Instance;
let token: string;
let webhookId: string;

beforeAll(async () => {
  // No rate limits here: the fuzzer sends faster than a customer may.
  hr = await startInProcess({ HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_CUSTOMER: "0", HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_IP: "0" });
  token = await adminToken(hr.gateway);
  const created = await send(hr.gateway, "POST", "/api/v1/webhooks", JSON.stringify({ url: "http://127.0.0.1:9/fuzz", event_types: ["*"] }));
  webhookId = created.body.id;
});
afterAll(() => hr.stop());

interface Answer {
  status: number;
  body: any;
  text: string;
}

async function send(base: string, method: string, path: string, body?: string, contentType = "application/json", auth = true): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(auth ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": contentType } : {}) },
    body,
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {}
  return { status: res.status, body: parsed, text };
}

/** Statuses seen per test, to show the fuzzer reached past the first check. */
let seen = new Map<number, number>();
const statuses = () => [...seen.keys()].sort();

/** What every answer must be: a success, or a client error in the documented shape. */
function wellFormed(answer: Answer, what: string): void {
  seen.set(answer.status, (seen.get(answer.status) ?? 0) + 1);
  const summary = `${what} → ${answer.status} ${answer.text.slice(0, 300)}`;
  expect({ summary, server_error: answer.status >= 500 }).toEqual({ summary, server_error: false });
  if (answer.status >= 400) {
    expect({ summary, code: typeof answer.body?.error?.code, message: typeof answer.body?.error?.message }).toEqual({ summary, code: "string", message: "string" });
    expect(answer.text).not.toContain("    at "); // never a stack trace
  }
}

/** JSON-ish values, biased towards the field names the endpoints know. */
const field = fc.constantFrom(
  "id",
  "type",
  "source",
  "data",
  "timestamp",
  "events",
  "url",
  "event_types",
  "headers",
  "description",
  "status",
  "secret",
  "name",
  "scopes",
  "expires_at",
  "username",
  "password",
);
const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ unit: "binary", maxLength: 300 }), fc.constant(null), fc.integer(), fc.double());
const object = fc.dictionary(field, value, { maxKeys: 8 });
const body = fc.oneof(
  { weight: 4, arbitrary: object.map((o) => JSON.stringify(o)) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 500 }) },
  { weight: 1, arbitrary: fc.array(object, { maxLength: 5 }).map((events) => JSON.stringify({ events })) },
);
const sometimesValidEvent = fc
  .record({
    id: fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.uuid()),
    type: fc.oneof(fc.constant("order.created"), fc.string({ maxLength: 140 })),
    source: fc.string({ maxLength: 300 }),
    data: fc.jsonValue({ maxDepth: 3 }),
    timestamp: fc.option(
      fc.oneof(
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        fc.string({ maxLength: 40 }),
      ),
      { nil: undefined },
    ),
  })
  .map((e) => JSON.stringify(e));

describe("fuzzing the inputs", () => {
  beforeEach(() => {
    seen = new Map();
  });

  it("ingest answers any body with a 2xx or a well-formed 4xx", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(body, sometimesValidEvent), fc.constantFrom("/events", "/events/batch"), async (text, path) => {
        wellFormed(await send(hr.ingest, "POST", path, text), `POST ${path} ${text.slice(0, 200)}`);
      }),
      { numRuns: RUNS * 2 },
    );
    // Accepted, malformed JSON and invalid events were all among the answers.
    expect(statuses()).toEqual(expect.arrayContaining([202, 400, 422]));
  });

  it("the webhook, customer, key and login endpoints answer any body with a 2xx or a well-formed 4xx", async () => {
    const routes = fc.constantFrom(
      ["POST", "/api/v1/webhooks"],
      ["PUT", `/api/v1/webhooks/{id}`],
      ["PATCH", `/api/v1/webhooks/{id}`],
      ["POST", "/api/v1/customers"],
      ["POST", "/api/v1/customers/default/api-keys"],
      ["POST", "/auth/login"],
      ["POST", "/api/v1/events"],
      ["POST", "/api/v1/events/batch"],
    );
    await fc.assert(
      fc.asyncProperty(routes, body, async ([method, path], text) => {
        const target = path!.replace("{id}", webhookId);
        wellFormed(await send(hr.gateway, method!, target, text), `${method} ${target} ${text.slice(0, 200)}`);
      }),
      { numRuns: RUNS * 2 },
    );
    expect(statuses()).toEqual(expect.arrayContaining([400, 422]));
  });

  it("any id in a path and any query string get a 2xx or a well-formed 4xx", async () => {
    const segment = fc.string({ unit: "binary", minLength: 1, maxLength: 80 }).map((s) => encodeURIComponent(s));
    const query = fc.dictionary(fc.constantFrom("limit", "cursor", "status", "webhook_id", "event_id", "x"), fc.string({ unit: "binary", maxLength: 60 }), { maxKeys: 4 });
    const routes = fc.constantFrom(
      ["GET", "/api/v1/webhooks/{id}"],
      ["DELETE", "/api/v1/webhooks/{id}"],
      ["POST", "/api/v1/webhooks/{id}/rotate-secret"],
      ["GET", "/api/v1/webhooks/{id}/secret"],
      ["GET", "/api/v1/deliveries/{id}"],
      ["GET", "/api/v1/deliveries/{id}/attempts"],
      ["POST", "/api/v1/deliveries/{id}/retry"],
      ["GET", "/api/v1/events/{id}"],
      ["GET", "/api/v1/customers/{id}"],
      ["GET", "/api/v1/customers/{id}/api-keys"],
      ["DELETE", "/api/v1/customers/default/api-keys/{id}"],
      ["GET", "/api/v1/deliveries"],
      ["GET", "/api/v1/webhooks"],
      ["GET", "/api/v1/customers"],
    );
    await fc.assert(
      fc.asyncProperty(routes, segment, query, async ([method, path], id, params) => {
        const target = `${path!.replace("{id}", id)}?${new URLSearchParams(params)}`;
        wellFormed(await send(hr.gateway, method!, target), `${method} ${target}`);
      }),
      { numRuns: RUNS * 2 },
    );
    expect(statuses()).toEqual(expect.arrayContaining([200, 404]));
  });

  it("any Authorization value and content type get a 2xx or a well-formed 4xx", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "grapheme-ascii", maxLength: 200 }), fc.string({ unit: "grapheme-ascii", maxLength: 60 }), async (authorization, contentType) => {
        const res = await fetch(`${hr.ingest}/events`, {
          method: "POST",
          headers: { authorization, "content-type": contentType || "application/json" },
          body: JSON.stringify({ id: "evt_fuzz_auth", type: "t", source: "s", data: {} }),
        }).catch(() => null); // a header value fetch itself refuses to send is not an answer of ours
        if (!res) return;
        const text = await res.text();
        let parsed: unknown = null;
        try {
          parsed = JSON.parse(text);
        } catch {}
        wellFormed({ status: res.status, body: parsed, text }, `authorization=${JSON.stringify(authorization)} content-type=${JSON.stringify(contentType)}`);
      }),
      { numRuns: RUNS },
    );
    expect([...seen.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(RUNS / 2);
    expect(statuses()).toEqual(expect.arrayContaining([401]));
  });

  it("is still serving after all of it", async () => {
    for (const base of [hr.gateway, hr.ingest]) expect((await fetch(`${base}/health`)).status).toBe(200);
    const ok = await send(hr.ingest, "POST", "/events", JSON.stringify({ id: "evt_after_fuzz", type: "t", source: "s", data: {} }));
    expect(ok.status).toBe(202);
  });
});
