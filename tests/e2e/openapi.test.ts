// Each role's OpenAPI document (made by @elysiajs/openapi from the routes themselves) and its /docs
// page, held against a live hookrelay: valid OpenAPI 3.1 documents, the routes each app registers
// and the paths it documents are the same, every operation asks for the scope it says, every body
// its schema rejects the API rejects (and its example is accepted), every example is valid, and
// real answers have the documented shapes.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createHash } from "node:crypto";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Value } from "@sinclair/typebox/value";
import Ajv2020 from "ajv/dist/2020.js";
import { apiReference } from "../../src/platform/api-reference.ts";
import { createHttpApp, ErrorSchema } from "../../src/platform/http.ts";
import { createLogger } from "../../src/platform/logger.ts";
import { createMetrics } from "../../src/platform/metrics.ts";
import { describeApp } from "../../src/platform/openapi-document.ts";
import { documentOf } from "../../src/services/gateway/document.ts";
import { type GatewayDeps, gatewayRoutes } from "../../src/services/gateway/routes.ts";
import { eventRoutes } from "../../src/services/ingest/routes.ts";
import { ADMIN_PASSWORD, adminToken, type Instance, startInProcess, waitFor } from "../helpers/hookrelay.ts";
import { type Receiver, startReceiver } from "../helpers/receiver.ts";

const JWT_SECRET = "openapi-test-secret-that-is-long-enough-0123456789";
const METHODS = ["get", "post", "put", "patch", "delete"] as const;
const run = Math.random().toString(36).slice(2, 8);

let hr: Instance;
let receiver: Receiver;
let token: string;
let spec: any;
let specText: string;
let ajv: InstanceType<typeof Ajv2020>;

type OperationId = string;
interface Documented {
  id: OperationId;
  path: string;
  method: string;
  op: any;
}
let operations: Documented[];
/** The ingest and observability roles' documents. */
let others: Record<"ingest" | "observability", any>;

const operationsOf = (doc: any): Documented[] =>
  Object.entries(doc.paths).flatMap(([path, item]: [string, any]) => METHODS.filter((m) => item[m]).map((method) => ({ id: item[method].operationId, path, method, op: item[method] })));
/** An operation's usual success: its highest 2xx (sendEvent's 200 is the duplicate's). */
const okStatus = (op: any) =>
  Math.max(
    ...Object.keys(op.responses)
      .map(Number)
      .filter((s) => s < 300),
  );

beforeAll(async () => {
  hr = await startInProcess({
    HOOKRELAY_SECURITY_JWT_SECRET: JWT_SECRET,
    HOOKRELAY_SECURITY_OAUTH2_ENABLED: "true",
    // Hundreds of calls below; rate limits get their own instance.
    HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_IP: "0",
    HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_CUSTOMER: "0",
    HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "50ms",
  });
  receiver = startReceiver();
  receiver.onPath("/fails", () => new Response("down for maintenance", { status: 503 }));
  token = await adminToken(hr.gateway);
  const res = await fetch(`${hr.gateway}/openapi.json`);
  specText = await res.text();
  spec = JSON.parse(specText);
  operations = operationsOf(spec);
  others = { ingest: await (await fetch(`${hr.ingest}/openapi.json`)).json(), observability: await (await fetch(`${hr.observability}/openapi.json`)).json() };
  ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat("date-time", { validate: (v: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(v) && !Number.isNaN(Date.parse(v)) });
  ajv.addSchema(spec, "openapi");
});

afterAll(async () => {
  receiver?.stop();
  await hr?.stop();
});

const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");
const documentedOp = (id: OperationId) => {
  const found = operations.find((o) => o.id === id);
  if (!found) throw new Error(`operation ${id} is not in the document`);
  return found;
};
/** A validator for a schema of the served document, $refs and all. */
const schemaAt = (...parts: string[]) => ajv.compile({ $ref: `openapi#/${pointer(...parts)}` });

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

async function call(
  method: string,
  path: string,
  options: { token?: string | null; json?: unknown; raw?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  const bearer = options.token === undefined ? token : options.token;
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  let body: string | undefined;
  if (options.json !== undefined) [headers["content-type"], body] = ["application/json", JSON.stringify(options.json)];
  if (options.raw !== undefined) [headers["content-type"], body] = ["application/json", options.raw];
  if (options.form) [headers["content-type"], body] = ["application/x-www-form-urlencoded", new URLSearchParams(options.form).toString()];
  const res = await fetch(`${hr.gateway}${path}`, { method: method.toUpperCase(), headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {}
  return { status: res.status, headers: res.headers, text, body: parsed };
}

const exercised = new Set<string>();

/**
 * Asserts that an answer is one the document lists for the operation: its status, content type
 * and body (against the served document's schema, and the route table's TypeBox schema).
 */
function expectDocumented(id: OperationId, res: Answer): void {
  const { path, method, op } = documentedOp(id);
  const where = `${method.toUpperCase()} ${path} answered ${res.status}: ${res.text.slice(0, 300)}`;
  const documented = op.responses[String(res.status)];
  expect(documented, where).toBeDefined();
  exercised.add(`${id} ${res.status}`);
  if (res.status === 204 || res.status === 304) {
    expect(res.text).toBe("");
    return;
  }
  const [contentType] = Object.keys(documented.content ?? {});
  expect(contentType, where).toBeDefined();
  expect(res.headers.get("content-type") ?? "", where).toStartWith(contentType!);
  if (!documented.content[contentType!].schema) return;
  const check = schemaAt("paths", path, method, "responses", String(res.status), "content", contentType!, "schema");
  expect({ valid: check(res.body), errors: check.errors ?? null, where }).toEqual({ valid: true, errors: null, where });

  if (res.status >= 400 && contentType === "application/json" && res.body?.error?.code) expect(Value.Check(ErrorSchema, res.body)).toBe(true);
}

/** A request body's example: its own, or its schema's (a named one's, by $ref). */
function exampleOf(doc: any, media: any): unknown {
  if (media.example !== undefined) return media.example;
  const ref: string | undefined = media.schema?.$ref;
  const schema = ref ? doc.components.schemas[ref.split("/").at(-1)!] : media.schema;
  return schema?.examples?.[0];
}

const fill = (path: string, ids: Record<string, string>) => path.replace(/\{(\w+)\}/g, (_, name: string) => ids[name] ?? `no-such-${name}`);

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1 on every role, and the validator rejects broken copies", async () => {
    for (const [role, doc] of [["gateway", spec], ...Object.entries(others)] as [string, any][]) {
      const validator = new Validator();
      const result = await validator.validate(structuredClone(doc));
      expect({ role, errors: result.errors ?? null }).toEqual({ role, errors: null });
      expect(result.valid).toBe(true);
      expect(validator.version).toBe("3.1");
    }

    const broken: [string, (doc: any) => void][] = [
      ["without info", (doc) => delete doc.info],
      ["with a parameter in the body (OpenAPI 2)", (doc) => doc.paths["/api/v1/webhooks/{id}"].get.parameters.push({ name: "x", in: "body", schema: {} })],
      ["with a response status that is not one", (doc) => (doc.paths["/health"].get.responses["2OO"] = { description: "typo" })],
      ["with an unknown security scheme type", (doc) => (doc.components.securitySchemes.bearerAuth.type = "magic")],
    ];
    for (const [what, breakIt] of broken) {
      const copy = structuredClone(spec);
      breakIt(copy);
      expect({ what, valid: (await new Validator().validate(copy)).valid }).toEqual({ what, valid: false });
    }
  });

  it("resolves every $ref, and holds plain JSON Schema (no TypeBox keys or symbols)", () => {
    for (const doc of [spec, others.ingest, others.observability]) {
      const refs: string[] = [];
      const walk = (node: unknown) => {
        if (node === null || typeof node !== "object") return;
        for (const [key, value] of Object.entries(node)) {
          if (key === "$ref" && typeof value === "string") refs.push(value);
          walk(value);
        }
      };
      walk(doc);
      expect(refs.length).toBeGreaterThan(doc === spec ? 50 : 5);
      for (const ref of new Set(refs)) {
        const target = ref
          .replace(/^#\//, "")
          .split("/")
          .reduce<any>((node, part) => node?.[part.replaceAll("~1", "/").replaceAll("~0", "~")], doc);
        expect({ ref, found: target !== undefined }).toEqual({ ref, found: true });
      }
      const text = JSON.stringify(doc);
      for (const key of ["errorMessage", '"$id"', "Response for status", '"type":"void"']) expect({ key, found: text.includes(key) }).toEqual({ key, found: false });
    }
  });

  it("tells no secret: not the admin password, the JWT secret or where data lives", () => {
    for (const doc of [specText, JSON.stringify(others)]) for (const secret of [ADMIN_PASSWORD, JWT_SECRET, "HOOKRELAY_DATA_DIR", "/tmp/", "127.0.0.1"]) expect(doc).not.toContain(secret);
  });

  it("gives every request body, every JSON answer and every named schema an example that its schema accepts", () => {
    for (const doc of [spec, others.ingest, others.observability]) {
      const check = new Ajv2020({ strict: false, allErrors: true });
      check.addFormat("date-time", { validate: (v: string) => !Number.isNaN(Date.parse(v)) });
      check.addSchema(doc, "doc");
      for (const [name, schema] of Object.entries<any>(doc.components.schemas)) {
        expect({ name, examples: (schema.examples ?? []).length > 0 }).toEqual({ name, examples: true });
        const valid = check.compile({ $ref: `doc#/components/schemas/${name}` });
        for (const example of schema.examples) expect({ name, valid: valid(example), errors: valid.errors ?? null }).toEqual({ name, valid: true, errors: null });
      }
      for (const { id, op } of operationsOf(doc)) {
        if (op.requestBody) {
          const [media] = Object.values<any>(op.requestBody.content);
          expect({ id, example: exampleOf(doc, media) !== undefined }).toEqual({ id, example: true });
        }
        // Every JSON success answer too, valid by its schema.
        for (const [status, answer] of Object.entries<any>(op.responses)) {
          const media = answer.content?.["application/json"];
          if (Number(status) >= 300 || !media?.schema) continue;
          const example = exampleOf(doc, media);
          const valid = check.compile(media.schema.$ref ? { $ref: `doc${media.schema.$ref}` } : media.schema);
          expect({ id, status, example: example !== undefined && valid(example) }).toEqual({ id, status, example: true });
        }
      }
    }
  });

  it("documents security, scopes, rate-limit headers and 429 for every operation that has them", () => {
    expect(spec.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    const publicOps = ["health", "metrics", "openapi", "docs", "docsScript", "portal"];
    for (const { id, op, path } of [...operations, ...operationsOf(others.ingest), ...operationsOf(others.observability)]) {
      const scope = op["x-scope"];
      if (scope) {
        expect({ id, security: op.security[0] }).toEqual({ id, security: { bearerAuth: [scope] } });
        expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["401", "403"]));
      } else {
        expect({ id, bearer: op.security.some((s: object) => "bearerAuth" in s) }).toEqual({ id, bearer: false });
      }
      if (publicOps.includes(id) || path === "/") continue;
      expect({ id, limited: op.responses["429"]?.headers && Object.keys(op.responses["429"].headers) }).toEqual({
        id,
        limited: ["Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"],
      });
    }
  });

  it("lists every route each app registers and nothing else, with OAuth on and off", () => {
    const limits = { maxEventBytes: 1024, maxBatchEvents: 10, maxBatchBytes: 4096 };
    const documentedRoutes = (doc: any) =>
      Object.entries<any>(doc.paths)
        .flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`))
        .sort();
    for (const oauth of [true, false]) {
      // Building the routes touches no dependency; only whether OAuth is on and the limits matter.
      const deps = { ...limits, oauthTokens: oauth ? {} : undefined } as unknown as GatewayDeps;
      const app = createHttpApp({ role: "gateway", log: createLogger("silent"), metrics: createMetrics(), checks: {} })
        .use(gatewayRoutes(deps))
        .use(apiReference(documentOf("gateway", { oauth })));
      const registered = app.routes.map((r) => `${r.method} ${r.path}`).sort();
      expect(registered).toEqual(documentedRoutes(describeApp(app, documentOf("gateway", { oauth }))));
      expect(registered.includes("POST /oauth/token")).toBe(oauth);
    }
    const ingest = createHttpApp({ role: "ingest", log: createLogger("silent"), metrics: createMetrics(), checks: {} }).use(eventRoutes({ ...limits } as never));
    expect(documentedRoutes(describeApp(ingest, documentOf("ingest", { oauth: false })))).toEqual(ingest.routes.map((r) => `${r.method} ${r.path}`).sort());
    // The live documents: ingest's /events and the observability API are in them.
    expect(documentedRoutes(others.ingest)).toEqual(expect.arrayContaining(["POST /events", "POST /events/batch", "GET /openapi.json", "GET /docs"]));
    expect(documentedRoutes(others.observability)).toEqual(expect.arrayContaining(["GET /api/stats", "GET /api/webhooks", "GET /api/failures", "GET /api/events/:id/timeline"]));
  });
});

describe("the live API against its document", () => {
  it("serves every documented operation, asks for credentials exactly where documented, and answers only documented statuses", async () => {
    const unknown = await call("get", "/api/v1/no-such-route");
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toStartWith("no route"); // what "not served" looks like
    for (const { id, path, method, op } of operations) {
      const url = fill(path, {});
      const anonymous = await call(method, url, { token: null });
      expect(anonymous.body?.error?.message ?? "").not.toStartWith("no route");
      expectDocumented(id, anonymous);
      const secured = op.security.some((s: object) => "bearerAuth" in s);
      expect({ id, unauthorized: anonymous.status === 401 }).toEqual({ id, unauthorized: secured });
      const admin = await call(method, url);
      expect(admin.body?.error?.message ?? "").not.toStartWith("no route");
      expectDocumented(id, admin);
      if (secured) expect(admin.status).not.toBeOneOf([401, 403]);
    }
  });

  it("holds each operation to the scope it documents", async () => {
    const bearerOps = operations.filter((o) => o.op["x-scope"]);
    const scopes = [...new Set(bearerOps.map((o) => o.op["x-scope"] as string))].filter((s) => s !== "admin");
    expect(scopes.sort()).toEqual(["deliveries:read", "deliveries:write", "events:write", "portal:create", "webhooks:read", "webhooks:secrets", "webhooks:write"]);
    for (const scope of scopes) {
      const key = await call("post", "/api/v1/customers/default/api-keys", { json: { name: `only ${scope}`, scopes: [scope] } });
      expectDocumented("createApiKey", key);
      for (const { id, path, method, op } of bearerOps) {
        const res = await call(method, fill(path, {}), { token: key.body.key });
        expectDocumented(id, res);
        expect({ id, scope, forbidden: res.status === 403 }).toEqual({ id, scope, forbidden: op["x-scope"] !== scope });
      }
    }
  });

  it("refuses with 400 or 422 every body its documented schema refuses, and accepts the documented example", async () => {
    const webhook = await call("post", "/api/v1/webhooks", { json: { url: receiver.url("/bodies"), event_types: ["*"] } });
    const key = await call("post", "/api/v1/customers/default/api-keys", { json: { name: "oauth client", scopes: ["events:write"] } });
    const ids: Record<string, string> = { id: webhook.body.id };
    // The examples, made real where they name things only a live run has (each stays valid by the document).
    const real: Partial<Record<OperationId, (example: any) => any>> = {
      login: (e) => ({ ...e, password: ADMIN_PASSWORD }),
      oauthToken: (e) => ({ ...e, client_id: key.body.id, client_secret: key.body.key }),
      createWebhook: (e) => ({ ...e, url: receiver.url("/bodies") }),
      replaceWebhook: (e) => ({ ...e, url: receiver.url("/bodies") }),
      createCustomer: (e) => ({ ...e, id: `${e.id}-${run}` }),
      sendEvent: (e) => ({ ...e, id: `${e.id}-${run}` }),
      sendBatch: (e) => ({ events: e.events.map((ev: any) => ({ ...ev, id: `${ev.id}-batch-${run}` })) }),
      createEventType: (e) => ({ ...e, name: `${e.name}.${run}` }),
      createOperationalWebhook: (e) => ({ ...e, url: receiver.url("/ops-bodies") }),
    };
    const operational = await call("post", "/api/v1/operational-webhooks", { json: { url: receiver.url("/ops-bodies"), event_types: ["*"] } });
    // The webhook of the bodies above gets disabled by updateWebhook's example: recovery needs an active one.
    const recoverable = await call("post", "/api/v1/webhooks", { json: { url: receiver.url("/bodies"), event_types: ["*"] } });
    // The event type createEventType's example made (with this run's name): the one updateEventType's example changes.
    const eventTypeName = `${(exampleOf(spec, documentedOp("createEventType").op.requestBody.content["application/json"]) as { name: string }).name}.${run}`;
    const pathIds: Partial<Record<OperationId, Record<string, string>>> = {
      createApiKey: { id: "default" },
      createPortalLink: { id: "default" },
      updateEventType: { name: eventTypeName },
      updateOperationalWebhook: { id: operational.body.id },
      rotateOperationalWebhookSecret: { id: operational.body.id },
      recoverWebhook: { id: recoverable.body.id },
    };
    const withBody = operations.filter((o) => o.op.requestBody);
    expect(withBody.map((o) => o.id as string).sort()).toEqual(
      [
        "createApiKey",
        "createCustomer",
        "createEventType",
        "createOperationalWebhook",
        "createPortalLink",
        "createWebhook",
        "login",
        "oauthToken",
        "recoverWebhook",
        "replaceWebhook",
        "rotateOperationalWebhookSecret",
        "rotateSecret",
        "sendBatch",
        "sendEvent",
        "testWebhook",
        "testWebhookFilter",
        "updateEventType",
        "updateOperationalWebhook",
        "updateWebhook",
      ].sort(),
    );
    for (const { id, path, method, op } of withBody) {
      const [contentType] = Object.keys(op.requestBody.content);
      const form = contentType === "application/x-www-form-urlencoded";
      const media = op.requestBody.content[contentType!];
      const valid = schemaAt("paths", path, method, "requestBody", "content", contentType!, "schema");
      const url = fill(path, pathIds[id] ?? ids);
      const send = (value: any) => (form ? call(method, url, { form: value, token: null }) : call(method, url, { raw: JSON.stringify(value) }));

      expect({ id, example: valid(exampleOf(spec, media)) }).toEqual({ id, example: true });
      const example = (real[id] ?? ((e: unknown) => e))(structuredClone(exampleOf(spec, media)));
      expect({ id, realExample: valid(example) }).toEqual({ id, realExample: true });
      const accepted = await send(example);
      expectDocumented(id, accepted);
      expect({ id, status: accepted.status, body: accepted.status < 300 ? "ok" : accepted.body }).toEqual({ id, status: okStatus(op), body: "ok" });

      let refused = 0;
      for (const [what, mutated] of mutations(example, form)) {
        if (valid(mutated)) continue; // the document allows it; business rules may still refuse it
        refused++;
        const res = await send(mutated);
        expectDocumented(id, res);
        const where = { id, what, body: JSON.stringify(mutated).slice(0, 200) };
        expect({ ...where, status: res.status }).toEqual({ ...where, status: res.status === 400 ? 400 : 422 });
        if (form) expect(res.body).toMatchObject({ error: expect.any(String), error_description: expect.any(String) });
        else expect(res.body.error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
      }
      expect({ id, refused: refused >= (form ? 2 : 5) }).toEqual({ id, refused: true });
    }
  });

  it("answers a whole run with the documented shapes: webhooks, events, deliveries, attempts, customers, keys, tokens", async () => {
    const login = await call("post", "/auth/login", { token: null, json: { username: "admin", password: ADMIN_PASSWORD } });
    expectDocumented("login", login);
    expectDocumented("login", await call("post", "/auth/login", { token: null, json: { username: "admin", password: "wrong" } }));

    const ok = await call("post", "/api/v1/webhooks", { json: { url: receiver.url("/ok"), event_types: ["order.created"], headers: { "x-run": run }, description: "ok" } });
    expectDocumented("createWebhook", ok);
    const failing = await call("post", "/api/v1/webhooks", { json: { url: receiver.url("/fails"), event_types: ["order.created"] } });
    expectDocumented("createWebhook", failing);
    expectDocumented("createWebhook", await call("post", "/api/v1/webhooks", { json: { url: "ftp://x", event_types: [], extra: 1 } }));
    expectDocumented("createWebhook", await call("post", "/api/v1/webhooks", { raw: "{not json" }));

    const first = await call("get", "/api/v1/webhooks?limit=1");
    expectDocumented("listWebhooks", first);
    expect(typeof first.body.next_cursor).toBe("string");
    expectDocumented("listWebhooks", await call("get", `/api/v1/webhooks?limit=1000&cursor=${first.body.next_cursor}`));
    expectDocumented("listWebhooks", await call("get", "/api/v1/webhooks?limit=0"));
    expectDocumented("getWebhook", await call("get", `/api/v1/webhooks/${ok.body.id}`));
    expectDocumented("getWebhook", await call("get", "/api/v1/webhooks/wh_nope"));
    expectDocumented("getWebhookSecret", await call("get", `/api/v1/webhooks/${ok.body.id}/secret`));
    expectDocumented("getWebhookSecret", await call("get", "/api/v1/webhooks/wh_nope/secret"));
    expectDocumented("replaceWebhook", await call("put", `/api/v1/webhooks/${ok.body.id}`, { json: { url: receiver.url("/ok"), event_types: ["order.created"] } }));
    expectDocumented("updateWebhook", await call("patch", `/api/v1/webhooks/${ok.body.id}`, { json: { description: null, headers: { "x-run": run } } }));
    expectDocumented("rotateSecret", await call("post", `/api/v1/webhooks/${ok.body.id}/rotate-secret`));
    expectDocumented("getWebhookHealth", await call("get", `/api/v1/webhooks/${ok.body.id}/health`));
    expectDocumented("resumeWebhook", await call("post", `/api/v1/webhooks/${ok.body.id}/resume`));
    expectDocumented("listOperationalEvents", await call("get", `/api/v1/operational-events?webhook_id=${ok.body.id}`));

    const event = { id: `evt-run-${run}`, type: "order.created", source: "shop", data: { n: 1 }, timestamp: "2026-01-01T00:00:00Z" };
    expectDocumented("sendEvent", await call("post", "/api/v1/events", { json: event }));
    const again = await call("post", "/api/v1/events", { json: event });
    expectDocumented("sendEvent", again);
    expect(again.body.status).toBe("duplicate");
    expectDocumented("sendBatch", await call("post", "/api/v1/events/batch", { json: { events: [{ ...event, id: `evt-batch-${run}` }, event] } }));

    let deliveries: Answer | undefined;
    await waitFor("a succeeded and a retried delivery", async () => {
      deliveries = await call("get", `/api/v1/deliveries?event_id=${event.id}`);
      const states = (deliveries.body.data ?? []).map((d: any) => `${d.webhook_id} ${d.status}`);
      return states.includes(`${ok.body.id} succeeded`) && states.some((s: string) => s.startsWith(failing.body.id) && !s.endsWith("pending"));
    });
    expectDocumented("listDeliveries", deliveries!);
    expectDocumented("listDeliveries", await call("get", "/api/v1/deliveries?status=dead&limit=5"));
    expectDocumented("listDeliveries", await call("get", "/api/v1/deliveries?colour=red"));
    const failed = deliveries!.body.data.find((d: any) => d.webhook_id === failing.body.id);
    expect(failed.last_status_code).toBe(503);
    for (const d of deliveries!.body.data) {
      expectDocumented("getDelivery", await call("get", `/api/v1/deliveries/${d.id}`));
      const attempts = await call("get", `/api/v1/deliveries/${d.id}/attempts`);
      expectDocumented("listAttempts", attempts);
      expect(attempts.body.data.length).toBeGreaterThan(0);
    }
    expectDocumented("retryDelivery", await call("post", `/api/v1/deliveries/${failed.id}/retry`));
    const got = await call("get", `/api/v1/events/${event.id}`);
    expectDocumented("getEvent", got);
    expect(got.body.deliveries.map((d: any) => d.webhook_id)).toEqual(expect.arrayContaining([ok.body.id, failing.body.id]));
    expectDocumented("getEvent", await call("get", "/api/v1/events/evt-never-sent"));
    const listed = await call("get", "/api/v1/events?type=order.created&limit=1");
    expectDocumented("listEvents", listed);
    expect(listed.body.next_cursor).toEqual(expect.any(String));
    expectDocumented("listEvents", await call("get", `/api/v1/events?delivery_status=failed&cursor=${encodeURIComponent(listed.body.next_cursor)}`));
    expectDocumented("listEvents", await call("get", "/api/v1/events?since=never"));
    expectDocumented("listWebhookDeliveries", await call("get", `/api/v1/webhooks/${failing.body.id}/deliveries?status=failed`));
    expectDocumented("listWebhookDeliveries", await call("get", "/api/v1/webhooks/wh_nope/deliveries"));

    const ops = await call("post", "/api/v1/operational-webhooks", { json: { url: receiver.url("/ops-run"), event_types: ["webhook.paused"] } });
    expectDocumented("createOperationalWebhook", ops);
    expectDocumented("createOperationalWebhook", await call("post", "/api/v1/operational-webhooks", { json: { url: receiver.url("/ops-run"), event_types: ["order.created"] } }));
    expectDocumented("listOperationalWebhooks", await call("get", "/api/v1/operational-webhooks"));
    expectDocumented("getOperationalWebhook", await call("get", `/api/v1/operational-webhooks/${ops.body.id}`));
    expectDocumented("updateOperationalWebhook", await call("patch", `/api/v1/operational-webhooks/${ops.body.id}`, { json: { description: "changed" } }));
    expectDocumented("rotateOperationalWebhookSecret", await call("post", `/api/v1/operational-webhooks/${ops.body.id}/rotate-secret`));
    expectDocumented("deleteOperationalWebhook", await call("delete", `/api/v1/operational-webhooks/${ops.body.id}`));
    expectDocumented("getOperationalWebhook", await call("get", `/api/v1/operational-webhooks/${ops.body.id}`));

    const typeName = `run.${run}.created`;
    expectDocumented("createEventType", await call("post", "/api/v1/event-types", { json: { name: typeName, schema: { type: "object", required: ["n"] }, examples: [{ n: 1 }] } }));
    expectDocumented("createEventType", await call("post", "/api/v1/event-types", { json: { name: typeName } }));
    expectDocumented("createEventType", await call("post", "/api/v1/event-types", { json: { name: `${typeName}.bad`, schema: { type: "object", colour: 1 } } }));
    expectDocumented("getEventType", await call("get", `/api/v1/event-types/${typeName}`));
    expectDocumented("getEventType", await call("get", "/api/v1/event-types/none.such"));
    expectDocumented("updateEventType", await call("patch", `/api/v1/event-types/${typeName}`, { json: { description: "changed" } }));
    expectDocumented("listEventTypes", await call("get", "/api/v1/event-types?limit=1"));
    expectDocumented("getCatalogDocument", await call("get", "/api/v1/catalog/openapi.json"));
    const refused = await call("post", "/api/v1/events", { json: { id: `evt-typed-${run}`, type: typeName, source: "s", data: {} } });
    expectDocumented("sendEvent", refused);
    expect(refused.status).toBe(422);
    expectDocumented("deleteEventType", await call("delete", `/api/v1/event-types/${typeName}`));
    expectDocumented("deleteEventType", await call("delete", `/api/v1/event-types/${typeName}`));

    const recovery = await call("post", `/api/v1/webhooks/${failing.body.id}/recover`, { json: { since: "2026-01-01T00:00:00Z", per_second: 1 } });
    expectDocumented("recoverWebhook", recovery);
    expectDocumented("recoverWebhook", await call("post", `/api/v1/webhooks/${failing.body.id}/recover`, { json: {} }));
    expectDocumented("getJob", await call("get", `/api/v1/jobs/${recovery.body.id}`));
    expectDocumented("getJob", await call("get", "/api/v1/jobs/job_nope"));
    expectDocumented("cancelJob", await call("post", `/api/v1/jobs/${recovery.body.id}/cancel`));

    const customer = await call("post", "/api/v1/customers", { json: { id: `run-${run}`, name: "Run Inc." } });
    expectDocumented("createCustomer", customer);
    expectDocumented("createCustomer", await call("post", "/api/v1/customers", { json: { id: `run-${run}`, name: "Twice" } }));
    expectDocumented("listCustomers", await call("get", "/api/v1/customers?limit=2"));
    expectDocumented("getCustomer", await call("get", `/api/v1/customers/run-${run}`));
    const key = await call("post", `/api/v1/customers/run-${run}/api-keys`, { json: { name: "producer", scopes: ["events:write", "webhooks:read"], expires_at: null } });
    expectDocumented("createApiKey", key);
    expectDocumented("createApiKey", await call("post", `/api/v1/customers/run-${run}/api-keys`, { json: { name: "op", scopes: ["admin"] } }));
    expectDocumented("listApiKeys", await call("get", `/api/v1/customers/run-${run}/api-keys`));
    const portal = await call("post", `/api/v1/customers/run-${run}/portal`, { json: { expires_in: 60, read_only: true } });
    expectDocumented("createPortalLink", portal);
    expectDocumented("createPortalLink", await call("post", "/api/v1/customers/no-such-customer/portal"));
    expectDocumented("createPortalLink", await call("post", `/api/v1/customers/run-${run}/portal`, { json: { expires_in: 0 } }));
    const portalPage = await call("get", new URL(portal.body.url).pathname, { token: null });
    expectDocumented("portal", portalPage);
    expect(portalPage.text).toContain("<title>Webhooks</title>");
    const basic = `Basic ${Buffer.from(`${key.body.id}:${key.body.key}`).toString("base64")}`;
    const oauth = await call("post", "/oauth/token", { token: null, form: { grant_type: "client_credentials", scope: "events:write" }, headers: { authorization: basic } });
    expectDocumented("oauthToken", oauth);
    expectDocumented("oauthToken", await call("post", "/oauth/token", { token: null, form: { grant_type: "client_credentials", scope: "admin" }, headers: { authorization: basic } }));
    expectDocumented("oauthToken", await call("post", "/oauth/token", { token: null, form: { grant_type: "client_credentials", client_id: key.body.id, client_secret: "hrk_wrong" } }));
    expectDocumented("sendEvent", await call("post", "/api/v1/events", { token: oauth.body.access_token, json: { ...event, id: `evt-oauth-${run}` } }));
    expectDocumented("revokeApiKey", await call("delete", `/api/v1/customers/run-${run}/api-keys/${key.body.id}`));
    expectDocumented("revokeApiKey", await call("delete", `/api/v1/customers/run-${run}/api-keys/${key.body.id}x`));
    expectDocumented("sendEvent", await call("post", "/api/v1/events", { token: key.body.key, json: event }));

    expectDocumented("deleteWebhook", await call("delete", `/api/v1/webhooks/${failing.body.id}`));
    expectDocumented("health", await call("get", "/health", { token: null }));
    const metrics = await call("get", "/metrics", { token: null });
    expectDocumented("metrics", metrics);
    expect(metrics.text).toContain("webhook_http_requests_total");

    // Every operation's success answer was seen in this file.
    for (const { id, op } of operations) expect({ id, seen: exercised.has(`${id} ${okStatus(op)}`) }).toEqual({ id, seen: true });
  });

  it("documents the rate-limit headers and the 429 as they are answered", async () => {
    const limited = await startInProcess({ HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_IP: "4", HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_CUSTOMER: "0" });
    try {
      const bearer = await adminToken(limited.gateway);
      const answers = await Promise.all(Array.from({ length: 8 }, () => fetch(`${limited.gateway}/api/v1/webhooks`, { headers: { authorization: `Bearer ${bearer}` } })));
      const statuses = answers.map((a) => a.status);
      expect(statuses).toContain(200);
      expect(statuses).toContain(429);
      const { op } = documentedOp("listWebhooks");
      for (const answer of answers) {
        const documented = op.responses[String(answer.status)];
        expect(documented).toBeDefined();
        for (const header of Object.keys(documented.headers)) expect({ status: answer.status, header, present: answer.headers.has(header) }).toEqual({ status: answer.status, header, present: true });
        const body = await answer.json();
        if (answer.status === 429) expect(Value.Check(ErrorSchema, body) && body.error.code === "rate_limited").toBe(true);
      }
    } finally {
      await limited.stop();
    }
  });
});

describe("GET /openapi.json and GET /docs", () => {
  it("are public and cacheable: ETag, Cache-Control, 304 for a matching If-None-Match", async () => {
    for (const path of ["/openapi.json", "/docs"]) {
      const res = await call("get", path, { token: null });
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toStartWith("public");
      const etag = res.headers.get("etag")!;
      expect(etag).toMatch(/^"[0-9a-f]+(-gzip)?"$/);
      const again = await call("get", path, { token: null, headers: { "if-none-match": etag } });
      expect(again.status).toBe(304);
      expect(again.text).toBe("");
    }
  });

  it("/docs is one page that loads Scalar's bundle from its own origin, allowed by the CSP, with nothing from elsewhere", async () => {
    for (const base of [hr.gateway, hr.ingest, hr.observability]) {
      const res = await fetch(`${base}/docs`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toStartWith("text/html");
      const html = await res.text();
      expect(html).toStartWith("<!doctype html>");
      expect(html.match(/https?:\/\/[^\s"'<>]*/gi)).toBeNull();
      // Every address it names is its own: a path, or the empty favicon (so browsers ask for none).
      const addresses = [...html.matchAll(/\s(?:src|href|action)=["']?([^"'\s>]*)/gi)].map((m) => m[1]!);
      expect(addresses.filter((a) => !/^(\/[^/]|data:)/.test(a))).toEqual([]);
      expect(addresses).toContain("/docs/scalar.js");
      expect(html).toContain('"url":"/openapi.json"');

      const csp = res.headers.get("content-security-policy") ?? "";
      for (const directive of ["default-src 'none'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) expect(csp).toContain(directive);
      const scriptSrc = csp.split(";").find((d) => d.trim().startsWith("script-src"))!;
      expect(scriptSrc).not.toContain("unsafe");
      const inline = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
      expect(scriptSrc).toContain(`'sha256-${createHash("sha256").update(inline).digest("base64")}'`);
      expect(() => new Function(inline.replace("Scalar.", "({createApiReference(){}})."))).not.toThrow(); // it parses

      const bundle = await fetch(`${base}/docs/scalar.js`);
      expect(bundle.status).toBe(200);
      expect(bundle.headers.get("content-type")).toStartWith("text/javascript");
      const js = await bundle.text();
      expect(js.length).toBeGreaterThan(1_000_000);
      expect(js).toContain("createApiReference");
      // Gzipped for a client that accepts it (a quarter of the bytes), as is for one that does not.
      const raw = (await import("node:http")).get;
      const sizes = await Promise.all(
        ["gzip, deflate, br", "identity"].map(
          (encoding) =>
            new Promise<{ encoding: string | undefined; bytes: number }>((resolve, reject) =>
              raw(`${base}/docs/scalar.js`, { headers: { "accept-encoding": encoding } }, (res) => {
                let bytes = 0;
                res.on("data", (chunk: Buffer) => (bytes += chunk.length)).on("end", () => resolve({ encoding: res.headers["content-encoding"], bytes }));
              }).on("error", reject),
            ),
        ),
      );
      expect(sizes[0]!.encoding).toBe("gzip");
      expect(sizes[1]!.encoding).toBeUndefined();
      expect(sizes[1]!.bytes).toBe(Buffer.byteLength(js));
      expect(sizes[0]!.bytes).toBeLessThan(sizes[1]!.bytes / 2);
    }
  });
});

const WRONG: unknown[] = [123, 1.5, -1, "", "x".repeat(300), "x".repeat(1100), true, null, [], {}, ["x"], [1], { a: "b" }];
const WRONG_FORM = ["", "x", "x".repeat(300)];

/** Variations of `value`: each key removed, an unknown key added, each node replaced by values of other types and sizes. */
function* mutations(value: unknown, form: boolean): Generator<[string, unknown]> {
  const nodes: (string | number)[][] = [];
  const visit = (node: unknown, at: (string | number)[]) => {
    nodes.push(at);
    if (form) {
      if (at.length === 0 && node && typeof node === "object") for (const k of Object.keys(node)) nodes.push([k]);
      return;
    }
    if (Array.isArray(node)) for (const [i, item] of node.entries()) visit(item, [...at, i]);
    else if (node && typeof node === "object") for (const [k, v] of Object.entries(node)) visit(v, [...at, k]);
  };
  visit(value, []);
  const edit = (at: (string | number)[], change: (parent: any, key: string | number) => void) => {
    const copy = structuredClone(value) as any;
    if (at.length === 0) return copy;
    const parent = at.slice(0, -1).reduce((node, k) => node[k], copy);
    change(parent, at.at(-1)!);
    return copy;
  };
  for (const at of form ? nodes.slice(1) : nodes) {
    const name = at.join(".") || "(the body)";
    const node = at.reduce<any>((n, k) => n[k], value);
    if (at.length > 0) yield [`${name} removed`, edit(at, (p, k) => (Array.isArray(p) ? p.splice(Number(k), 1) : delete p[k]))];
    if (node && typeof node === "object" && !Array.isArray(node) && !form) yield [`${name} + an unknown field`, edit([...at, "unexpected_field"], (p, k) => (p[k] = "x"))];
    for (const wrong of form ? WRONG_FORM : WRONG) {
      if (at.length === 0) yield [`the body is ${JSON.stringify(wrong).slice(0, 20)}`, wrong];
      else yield [`${name} = ${JSON.stringify(wrong).slice(0, 20)}`, edit(at, (p, k) => (p[k] = structuredClone(wrong)))];
    }
  }
}
