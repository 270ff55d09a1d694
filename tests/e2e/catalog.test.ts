// The event type catalog, in both deployments, over real sockets with a real receiver: event types
// are created, read, listed, changed and deleted; ingest refuses an event of a typed type whose data
// does not satisfy its schema (422 naming the path, a batch refused whole), at once after a change;
// a test send sends the type's first example; the catalog is an OpenAPI 3.1 document of webhooks;
// with security.strict_event_types a webhook may subscribe only to catalogued types. Bad input is
// refused naming what is wrong, and another customer sees none of it.
import { afterAll, describe, expect, it } from "bun:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type ChildInstance, childInstance, startChildWithReceiver } from "../helpers/process.ts";
import { eventIdOf, type Receiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

const ORDER_SCHEMA = {
  type: "object",
  required: ["order_id", "total"],
  properties: { order_id: { type: "integer", minimum: 1 }, total: { type: "string", pattern: "^[0-9]+\\.[0-9]{2}$" }, lines: { type: "array", items: { type: "object", required: ["sku"] } } },
  additionalProperties: false,
};

describe.each(MODES)("the event type catalog (%s)", (mode) => {
  let hr: ChildInstance;
  let rx: Receiver;
  let api: ReturnType<typeof client>;
  let ingest: ReturnType<typeof client>;
  const id = (n: string) => `${mode}-cat-${n}`;

  it("starts", async () => {
    ({ hr, rx, api, ingest } = await startChildWithReceiver(await modeEnv(mode), cleanups));
  });

  it("creates, reads, lists, changes and deletes event types; a name with a slash goes percent-encoded", async () => {
    const created = await api("POST", "/api/v1/event-types", { name: "order.created", description: "an order was placed", schema: ORDER_SCHEMA, examples: [{ order_id: 42, total: "19.90" }] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "order.created", description: "an order was placed", schema: ORDER_SCHEMA, examples: [{ order_id: 42, total: "19.90" }] });
    expect((await api("POST", "/api/v1/event-types", { name: "order.created" })).status).toBe(409);
    expect((await api("POST", "/api/v1/event-types", { name: "billing/invoice:paid", description: "no schema" })).status).toBe(201);
    expect((await api("GET", `/api/v1/event-types/${encodeURIComponent("billing/invoice:paid")}`)).body).toMatchObject({ name: "billing/invoice:paid", schema: null, examples: [] });
    for (const name of ["a.one", "a.two", "a.three"]) expect((await api("POST", "/api/v1/event-types", { name })).status).toBe(201);
    const first = await api("GET", "/api/v1/event-types?limit=2");
    expect(first.body.data.map((t: { name: string }) => t.name)).toEqual(["a.one", "a.three"]);
    const rest = await api("GET", `/api/v1/event-types?limit=10&cursor=${encodeURIComponent(first.body.next_cursor)}`);
    expect(rest.body.data.map((t: { name: string }) => t.name)).toEqual(["a.two", "billing/invoice:paid", "order.created"]);
    expect(rest.body.next_cursor).toBeNull();
    const changed = await api("PATCH", "/api/v1/event-types/a.one", { description: "changed", schema: { type: "object" } });
    expect(changed.body).toMatchObject({ name: "a.one", description: "changed", schema: { type: "object" } });
    expect((await api("DELETE", "/api/v1/event-types/a.two")).status).toBe(204);
    expect((await api("GET", "/api/v1/event-types/a.two")).status).toBe(404);
    expect((await api("DELETE", "/api/v1/event-types/a.two")).status).toBe(404);
    expect((await api("PATCH", "/api/v1/event-types/a.two", { description: "x" })).status).toBe(404);
  });

  it("refuses a bad event type with 422 naming what is wrong, and creates nothing", async () => {
    for (const [body, message] of [
      [{ name: "bad.schema", schema: { type: "object", colour: "red" } }, 'schema: strict mode: unknown keyword: "colour"'],
      [{ name: "bad.ref", schema: { $ref: "https://example.com/schema.json" } }, "schema: can't resolve reference https://example.com/schema.json"],
      [{ name: "bad.regex", schema: { type: "string", pattern: "(a)\\1" } }, "schema: error parsing regexp"],
      [
        {
          name: "bad.example",
          schema: ORDER_SCHEMA,
          examples: [
            { order_id: 1, total: "1.00" },
            { order_id: 0, total: "1" },
          ],
        },
        "examples[1].order_id: must be >= 1",
      ],
      [{ name: "bad.big", schema: { type: "object", description: "x".repeat(70_000) } }, "schema: "],
      [{ name: "order.*" }, "name: 'order.*' is a pattern"],
      [{ name: "has space" }, "name: 'has space' is not a valid event type"],
      [{ name: "x", colour: "red" }, "colour"],
      [{ name: "x", examples: Array.from({ length: 11 }, () => ({})) }, "examples"],
    ] as const) {
      const res = await api("POST", "/api/v1/event-types", body);
      expect({ name: body.name, status: res.status }).toEqual({ name: body.name, status: 422 });
      expect({ name: body.name, message: res.body.error.message }).toEqual({ name: body.name, message: expect.stringContaining(message) });
    }
    expect((await api("GET", "/api/v1/event-types/bad.schema")).status).toBe(404);
    // A new schema must accept the examples kept.
    const refused = await api("PATCH", "/api/v1/event-types/order.created", { schema: { ...ORDER_SCHEMA, properties: { ...ORDER_SCHEMA.properties, order_id: { type: "integer", minimum: 100 } } } });
    expect({ status: refused.status, message: refused.body.error.message }).toEqual({ status: 422, message: "examples[0].order_id: must be >= 100" });
  });

  it("refuses an event whose data does not satisfy its type's schema, naming the path; a batch whole; other types and valid events pass", async () => {
    const send = (client: typeof api, path: string, body: unknown) => client("POST", path, body);
    const ok = await send(api, "/api/v1/events", { id: id("ok"), type: "order.created", source: "shop", data: { order_id: 7, total: "5.00", lines: [{ sku: "A" }] } });
    expect(ok.status).toBe(202);
    for (const [path, client] of [
      ["/api/v1/events", api],
      ["/events", ingest],
    ] as const) {
      const bad = await send(client, path, { id: id(`bad-${path.length}`), type: "order.created", source: "shop", data: { order_id: 7, total: "5" } });
      expect({ path, status: bad.status, code: bad.body.error.code, message: bad.body.error.message }).toEqual({
        path,
        status: 422,
        code: "validation_failed",
        message: `data.total: must match pattern "^[0-9]+\\.[0-9]{2}$" (the schema of event type 'order.created')`,
      });
    }
    const nested = await send(api, "/api/v1/events", { id: id("nested"), type: "order.created", source: "shop", data: { order_id: 7, total: "5.00", lines: [{ sku: "A" }, { qty: 1 }] } });
    expect(nested.body.error.message).toBe("data.lines.1: must have required property 'sku' (the schema of event type 'order.created')");
    const extra = await send(api, "/api/v1/events", { id: id("extra"), type: "order.created", source: "shop", data: { order_id: 7, total: "5.00", coupon: "X" } });
    expect(extra.body.error.message).toBe("data: must NOT have additional properties ('coupon') (the schema of event type 'order.created')");
    const batch = await send(api, "/api/v1/events/batch", {
      events: [
        { id: id("b1"), type: "order.created", source: "shop", data: { order_id: 1, total: "1.00" } },
        { id: id("b2"), type: "order.created", source: "shop", data: { order_id: "2", total: "1.00" } },
      ],
    });
    expect({ status: batch.status, message: batch.body.error.message }).toEqual({ status: 422, message: "events[1].data.order_id: must be integer (the schema of event type 'order.created')" });
    expect((await api("GET", `/api/v1/events/${id("b1")}`)).status).toBe(404);
    // A type without a schema, and a type not in the catalog: any data.
    for (const type of ["billing/invoice:paid", "not.catalogued"]) expect((await send(api, "/api/v1/events", { id: id(type), type, source: "s", data: "anything" })).status).toBe(202);
  });

  it("applies a changed schema at once, and none once the type is deleted", async () => {
    const event = (n: string) => ({ id: id(n), type: "a.three", source: "s", data: { n: "text" } });
    expect((await api("POST", "/api/v1/events", event("before"))).status).toBe(202);
    await api("PATCH", "/api/v1/event-types/a.three", { schema: { type: "object", properties: { n: { type: "number" } } } });
    expect((await api("POST", "/api/v1/events", event("during"))).body.error.message).toBe("data.n: must be number (the schema of event type 'a.three')");
    await api("DELETE", "/api/v1/event-types/a.three");
    expect((await api("POST", "/api/v1/events", event("after"))).status).toBe(202);
  });

  it("test-sends the type's first example, and a generic sample for a type with none", async () => {
    const webhook = (await api("POST", "/api/v1/webhooks", { url: rx.url("/catalog-test"), event_types: ["*"] })).body;
    const sent = await api("POST", `/api/v1/webhooks/${webhook.id}/test`, { event_type: "order.created" });
    expect(sent.body.event.data).toEqual({ order_id: 42, total: "19.90" });
    const generic = await api("POST", `/api/v1/webhooks/${webhook.id}/test`, { event_type: "billing/invoice:paid" });
    expect(generic.body.event.data).toMatchObject({ test: true });
    const got = rx.received.filter((r) => r.path === "/catalog-test").map((r) => JSON.parse(r.body).data);
    expect(got).toEqual([{ order_id: 42, total: "19.90" }, generic.body.event.data]);
    await api("DELETE", `/api/v1/webhooks/${webhook.id}`);
  });

  it("answers the catalog as a valid OpenAPI 3.1 document of webhooks, one per event type with its schema and examples", async () => {
    const doc = (await api("GET", "/api/v1/catalog/openapi.json")).body;
    const result = await new Validator().validate(structuredClone(doc));
    expect({ valid: result.valid, errors: result.errors }).toEqual({ valid: true, errors: undefined });
    expect(Object.keys(doc.webhooks).sort()).toEqual(["a.one", "billing/invoice:paid", "order.created"]);
    const order = doc.webhooks["order.created"].post.requestBody.content["application/json"];
    expect(order.schema.properties.data).toEqual(ORDER_SCHEMA);
    expect(order.examples.example1.value.data).toEqual({ order_id: 42, total: "19.90" });
  });

  it("shows another customer none of it, and checks its events against its own catalog only", async () => {
    const customer = (await api("POST", "/api/v1/customers", { name: `catalog other ${mode}` })).body.id;
    const key = (await api("POST", `/api/v1/customers/${customer}/api-keys`, { name: "k", scopes: ["webhooks:read", "webhooks:write", "events:write"] })).body.key;
    const other = client(hr.gateway, key);
    expect((await other("GET", "/api/v1/event-types")).body).toEqual({ data: [], next_cursor: null });
    expect((await other("GET", "/api/v1/event-types/order.created")).status).toBe(404);
    expect((await other("PATCH", "/api/v1/event-types/order.created", { description: "mine now" })).status).toBe(404);
    expect((await other("POST", "/api/v1/events", { id: id("other"), type: "order.created", source: "s", data: { anything: true } })).status).toBe(202);
    expect((await other("POST", "/api/v1/event-types", { name: "order.created" })).status).toBe(201);
    expect((await api("GET", "/api/v1/event-types/order.created")).body.description).toBe("an order was placed");
  });

  it("with security.strict_event_types, lets webhooks subscribe only to catalogued types (a pattern to one at least; * always)", async () => {
    const strict = childInstance({ ...(await modeEnv(mode)), HOOKRELAY_SECURITY_STRICT_EVENT_TYPES: "true" });
    cleanups.push(() => strict.proc?.kill(9));
    await strict.start();
    const admin = client(strict.gateway, await adminToken(strict.gateway));
    // Its own store in embedded, the same database in production: the types exist either way.
    for (const name of ["order.created", "a.one"]) expect([201, 409]).toContain((await admin("POST", "/api/v1/event-types", { name })).status);
    const create = (event_types: string[]) => admin("POST", "/api/v1/webhooks", { url: rx.url("/strict"), event_types });
    const refused = await create(["order.created", "order.shipped", "ship.*"]);
    expect({ status: refused.status, message: refused.body.error.message }).toEqual({
      status: 422,
      message:
        "event_types: 'order.shipped' is not in the event type catalog (security.strict_event_types); add it first (POST /api/v1/event-types); event_types: 'ship.*' takes no event type of the catalog (security.strict_event_types); add one under it first (POST /api/v1/event-types)",
    });
    expect((await create(["order.created", "a.*", "*"])).status).toBe(201);
    const webhook = (await create(["order.created"])).body;
    expect((await admin("PATCH", `/api/v1/webhooks/${webhook.id}`, { event_types: ["nope"] })).status).toBe(422);
    expect((await admin("PATCH", `/api/v1/webhooks/${webhook.id}`, { description: "types untouched" })).status).toBe(200);
    await admin("POST", "/api/v1/event-types", { name: "order.shipped" });
    expect((await admin("PATCH", `/api/v1/webhooks/${webhook.id}`, { event_types: ["order.shipped"] })).status).toBe(200);
    strict.proc.kill(9);
  });

  it("delivers the events it accepted as usual", async () => {
    const webhook = (await api("POST", "/api/v1/webhooks", { url: rx.url("/catalog-deliveries"), event_types: ["order.created"] })).body;
    expect((await api("POST", "/api/v1/events", { id: id("delivered"), type: "order.created", source: "shop", data: { order_id: 9, total: "9.99" } })).status).toBe(202);
    await waitFor("the delivery", () => rx.received.some((r) => r.path === "/catalog-deliveries" && eventIdOf(r.body) === id("delivered")));
    await api("DELETE", `/api/v1/webhooks/${webhook.id}`);
  });
});
