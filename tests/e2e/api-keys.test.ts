// Customers and their API keys over real sockets, in both deployments: keys shown once and stored
// hashed, scopes enforced, one customer's events delivered only to its webhooks, another
// customer's resources answering 404, revocation and expiry.

import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { join } from "node:path";
import { adminToken, client, type Instance, startInProcess, tempDir, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type Receiver, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const ALL_BUT_ADMIN = ["webhooks:read", "webhooks:write", "webhooks:secrets", "events:write", "deliveries:read", "deliveries:write"];

describe.each(MODES)("customers and API keys (%s)", (mode) => {
  let hr: Instance;
  let receiver: Receiver;
  let admin: ReturnType<typeof client>;
  const dataDir = tempDir();
  const run = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    hr = await startInProcess({ HOOKRELAY_DATA_DIR: dataDir, ...(await modeEnv(mode)) });
    receiver = startReceiver();
    admin = client(hr.gateway, await adminToken(hr.gateway));
  });

  afterAll(async () => {
    await hr.stop();
    receiver.stop();
  });

  /** A new customer and a key of it with `scopes`; returns its id, the key and clients on gateway and ingest. */
  async function customerWithKey(name: string, scopes = ALL_BUT_ADMIN) {
    const created = await admin("POST", "/api/v1/customers", { id: `${name}-${run}`, name });
    expect(created.status).toBe(201);
    const issued = await admin("POST", `/api/v1/customers/${created.body.id}/api-keys`, { name: `${name} key`, scopes });
    expect(issued.status).toBe(201);
    return { id: created.body.id as string, key: issued.body, api: client(hr.gateway, issued.body.key), ingest: client(hr.ingest, issued.body.key) };
  }

  it("shows a key once, lists it by prefix only, and stores no more than its hash", async () => {
    const { id, key } = await customerWithKey("acme");
    expect(key.key).toMatch(/^hrk_[A-Za-z0-9_-]{32}$/);
    expect(key).toMatchObject({ customer_id: id, name: "acme key", prefix: key.key.slice(0, 12), scopes: ALL_BUT_ADMIN, expires_at: null, revoked_at: null });
    const listed = await admin("GET", `/api/v1/customers/${id}/api-keys`);
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(1);
    expect(listed.body.data[0]).toEqual({ ...key, key: undefined });
    expect(JSON.stringify(listed.body)).not.toContain(key.key);
    if (mode === "embedded") {
      const db = new Database(join(dataDir, "hookrelay.db"), { readonly: true });
      try {
        const row = db
          .query<{ hash: string; prefix: string }, []>("SELECT * FROM api_keys")
          .all()
          .find((r) => r.prefix === key.prefix)!;
        expect(row.hash).toBe(new Bun.CryptoHasher("sha256").update(key.key).digest("hex"));
        expect(JSON.stringify(row)).not.toContain(key.key);
      } finally {
        db.close();
      }
    }
    expect(hr.logs.join("\n")).not.toContain(key.key);
  });

  it("delivers a customer's events to its own webhooks only, and hides every other customer's resources behind 404", async () => {
    const a = await customerWithKey("tenant-a");
    const b = await customerWithKey("tenant-b");
    const wa = await a.api("POST", "/api/v1/webhooks", { url: receiver.url(`/a-${run}`), event_types: ["order.created"] });
    const wb = await b.api("POST", "/api/v1/webhooks", { url: receiver.url(`/b-${run}`), event_types: ["order.created"] });
    expect([wa.status, wb.status]).toEqual([201, 201]);

    const event = { id: `evt_tenant_${run}`, type: "order.created", source: "shop", data: { for: "a" } };
    expect((await a.ingest("POST", "/events", event)).status).toBe(202);
    await waitFor("A's delivery", () => receiver.received.some((r) => r.path === `/a-${run}`));
    // The same id from B is B's own event (ids are unique per customer), delivered to B only.
    expect((await b.ingest("POST", "/events", { ...event, data: { for: "b" } })).body.status).toBe("accepted");
    await waitFor("B's delivery", () => receiver.received.some((r) => r.path === `/b-${run}`));
    await Bun.sleep(300);
    const bodies = (path: string) => receiver.received.filter((r) => r.path === path).map((r) => JSON.parse(r.body).data.for);
    expect(bodies(`/a-${run}`)).toEqual(["a"]);
    expect(bodies(`/b-${run}`)).toEqual(["b"]);

    // B's webhook, delivery and event do not exist for A.
    const bDelivery = (await b.api("GET", `/api/v1/deliveries?webhook_id=${wb.body.id}`)).body.data[0];
    expect(bDelivery.status).toBe("succeeded");
    for (const [method, path, body] of [
      ["GET", `/api/v1/webhooks/${wb.body.id}`],
      ["PATCH", `/api/v1/webhooks/${wb.body.id}`, { description: "mine now" }],
      ["DELETE", `/api/v1/webhooks/${wb.body.id}`],
      ["POST", `/api/v1/webhooks/${wb.body.id}/rotate-secret`],
      ["GET", `/api/v1/webhooks/${wb.body.id}/secret`],
      ["GET", `/api/v1/deliveries/${bDelivery.id}`],
      ["GET", `/api/v1/deliveries/${bDelivery.id}/attempts`],
      ["POST", `/api/v1/deliveries/${bDelivery.id}/retry`],
    ] as const) {
      const res = await a.api(method, path, body);
      expect({ call: `${method} ${path}`, status: res.status, code: res.body?.error?.code }).toEqual({ call: `${method} ${path}`, status: 404, code: "not_found" });
    }
    expect((await a.api("GET", "/api/v1/webhooks")).body.data.map((w: { id: string }) => w.id)).toEqual([wa.body.id]);
    expect((await a.api("GET", `/api/v1/deliveries?webhook_id=${wb.body.id}`)).body.data).toEqual([]);
    // B's webhook is untouched by A's attempts.
    expect((await b.api("GET", `/api/v1/webhooks/${wb.body.id}`)).body).toMatchObject({ description: null });
    expect((await b.api("GET", `/api/v1/webhooks/${wb.body.id}/secret`)).body).toEqual({ secret: wb.body.secret });
  });

  it("holds a key to its scopes, and keeps the customer API for the operator", async () => {
    const producer = await customerWithKey("producer", ["events:write"]);
    expect((await producer.ingest("POST", "/events", { id: `evt_scope_${run}`, type: "t", source: "s", data: 1 })).status).toBe(202);
    const denied = await producer.api("GET", "/api/v1/webhooks");
    expect(denied.status).toBe(403);
    expect(denied.body.error).toEqual({ code: "forbidden", message: "this call needs the 'webhooks:read' scope" });
    expect((await producer.api("GET", "/api/v1/customers")).status).toBe(403);
    expect((await producer.api("POST", `/api/v1/customers/${producer.id}/api-keys`, { name: "more", scopes: ["admin"] })).status).toBe(403);
    expect((await client(hr.observability, producer.key.key)("GET", "/api/stats")).status).toBe(403);
  });

  it("refuses a revoked, an expired and an unknown key with 401", async () => {
    const { id, key, ingest } = await customerWithKey("revoked");
    const event = (n: number) => ({ id: `evt_revoke_${run}_${n}`, type: "t", source: "s", data: n });
    expect((await ingest("POST", "/events", event(1))).status).toBe(202);
    expect((await admin("DELETE", `/api/v1/customers/${id}/api-keys/${key.id}`)).status).toBe(204);
    const revoked = await ingest("POST", "/events", event(2));
    expect(revoked.status).toBe(401);
    expect(revoked.body.error).toEqual({ code: "unauthorized", message: "API key revoked" });
    expect((await admin("GET", `/api/v1/customers/${id}/api-keys`)).body.data[0].revoked_at).toMatch(/^\d{4}-/);
    expect((await admin("DELETE", `/api/v1/customers/${id}/api-keys/key_unknown`)).status).toBe(404);

    const soon = await admin("POST", `/api/v1/customers/${id}/api-keys`, { name: "short-lived", scopes: ["events:write"], expires_at: new Date(Date.now() + 1500).toISOString() });
    expect(soon.status).toBe(201);
    expect((await client(hr.ingest, soon.body.key)("POST", "/events", event(3))).status).toBe(202);
    await Bun.sleep(1600);
    const expired = await client(hr.ingest, soon.body.key)("POST", "/events", event(4));
    expect(expired.status).toBe(401);
    expect(expired.body.error.message).toBe("API key expired");

    const unknown = await client(hr.ingest, `hrk_${"x".repeat(32)}`)("POST", "/events", event(5));
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.message).toBe("API key is invalid");
  });

  it("answers bad customer and key requests with the right error", async () => {
    const taken = await admin("POST", "/api/v1/customers", { id: `dup-${run}`, name: "first" });
    expect(taken.status).toBe(201);
    const cases: [string, string, unknown, number, string][] = [
      ["POST", "/api/v1/customers", { id: `dup-${run}`, name: "second" }, 409, "conflict"],
      ["POST", "/api/v1/customers", { id: "Not Valid!", name: "x" }, 422, "validation_failed"],
      ["POST", "/api/v1/customers", { name: "" }, 422, "validation_failed"],
      ["POST", `/api/v1/customers/dup-${run}/api-keys`, { name: "k", scopes: ["admin"] }, 422, "validation_failed"],
      ["POST", `/api/v1/customers/dup-${run}/api-keys`, { name: "k", scopes: ["everything"] }, 422, "validation_failed"],
      ["POST", `/api/v1/customers/dup-${run}/api-keys`, { name: "k", scopes: [] }, 422, "validation_failed"],
      ["POST", `/api/v1/customers/dup-${run}/api-keys`, { name: "k", scopes: ["events:write"], expires_at: "2001-01-01T00:00:00Z" }, 422, "validation_failed"],
      ["POST", `/api/v1/customers/nobody-${run}/api-keys`, { name: "k", scopes: ["events:write"] }, 404, "not_found"],
      ["GET", `/api/v1/customers/nobody-${run}`, undefined, 404, "not_found"],
      ["GET", `/api/v1/customers/nobody-${run}/api-keys`, undefined, 404, "not_found"],
    ];
    for (const [method, path, body, status, code] of cases) {
      const res = await admin(method, path, body);
      expect({ call: `${method} ${path} ${JSON.stringify(body)}`, status: res.status, code: res.body?.error?.code }).toEqual({
        call: `${method} ${path} ${JSON.stringify(body)}`,
        status,
        code,
      });
    }
    const generated = await admin("POST", "/api/v1/customers", { name: "no id given" });
    expect(generated.body.id).toMatch(/^cus_[0-9a-z]{26}$/);
    expect((await admin("GET", `/api/v1/customers/${generated.body.id}`)).body).toEqual(generated.body);
    const listed = await admin("GET", "/api/v1/customers?limit=1000");
    expect(listed.body.data.map((c: { id: string }) => c.id)).toContain(`dup-${run}`);
    // The operator's own customer may hold an admin key; it works like the admin login.
    const operator = await admin("POST", "/api/v1/customers/default/api-keys", { name: "ops", scopes: ["admin"] });
    expect(operator.status).toBe(201);
    expect((await client(hr.gateway, operator.body.key)("GET", "/api/v1/customers")).status).toBe(200);
  });
});
