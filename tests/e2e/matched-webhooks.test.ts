// An event no webhook subscribes to is told so: `POST /events` answers `matched_webhooks`, the
// webhooks of the event's customer subscribed to its type when it was accepted, and a batch the
// (event, webhook) pairs of its new events and the ids of those that matched none. Over real
// sockets in both deployments (and over embedded shards, where the webhook and the event may be
// taken by two processes): wildcards count, another customer's and a disabled webhook do not, and
// a webhook created just before the event is counted.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { shardOf } from "../../src/adapters/sqlite/shards.ts";
import { adminToken, client } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type ChildInstance, fileScope } from "../helpers/process.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const scope = fileScope();
const NO_API_LIMITS = { HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_IP: "0", HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_CUSTOMER: "0" };
const event = (id: string, type: string) => ({ id, type, source: "t", data: { id } });

const receiver = scope.receiver();

/** A new customer with a key for webhooks and events, and a client for each door. */
async function customer(hr: ChildInstance, admin: ReturnType<typeof client>, id: string) {
  expect((await admin("POST", "/api/v1/customers", { id, name: id })).status).toBe(201);
  const created = await admin("POST", `/api/v1/customers/${id}/api-keys`, { name: "k", scopes: ["webhooks:write", "webhooks:read", "events:write"] });
  expect(created.status).toBe(201);
  const key = created.body.key as string;
  const api = client(hr.gateway, key);
  return {
    key,
    api,
    ingest: client(hr.ingest, key),
    async webhook(eventTypes: string[]): Promise<string> {
      const made = await api("POST", "/api/v1/webhooks", { url: receiver.url(`/${id}`), event_types: eventTypes });
      expect(made.status).toBe(201);
      return made.body.id;
    },
  };
}

describe.each(MODES)("matched_webhooks (%s)", (mode) => {
  let hr: ChildInstance;
  let admin: ReturnType<typeof client>;
  const run = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    hr = scope.child({ ...(await modeEnv(mode)), ...NO_API_LIMITS });
    await hr.start();
    admin = client(hr.gateway, await adminToken(hr.gateway));
  }, 60_000);
  afterAll(() => {
    hr.proc?.kill(9);
  });

  it("counts the customer's active webhooks for the type, wildcards included, not another customer's nor a disabled one; 0 for a type nobody subscribes to", async () => {
    const a = await customer(hr, admin, `mw-a-${run}`);
    const b = await customer(hr, admin, `mw-b-${run}`);
    const gateway = client(hr.gateway, a.key);
    expect((await a.ingest("POST", "/events", event("e0", "order.paid"))).body).toEqual({ id: "e0", status: "accepted", matched_webhooks: 0 });

    await a.webhook(["order.paid", "order.created"]);
    await a.webhook(["order.paid"]);
    await a.webhook(["*"]);
    const disabled = await a.webhook(["order.paid"]);
    expect((await a.api("PATCH", `/api/v1/webhooks/${disabled}`, { status: "disabled" })).status).toBe(200);
    await b.webhook(["order.paid"]);
    await b.webhook(["*"]);

    const paid = await a.ingest("POST", "/events", event("e1", "order.paid"));
    expect(paid).toMatchObject({ status: 202, body: { id: "e1", status: "accepted", matched_webhooks: 3 } });
    expect((await a.ingest("POST", "/events", event("e2", "order.created"))).body.matched_webhooks).toBe(2);
    expect((await a.ingest("POST", "/events", event("e3", "user.deleted"))).body.matched_webhooks).toBe(1); // the wildcard alone
    // The gateway's door answers the same, and a duplicate still gives the count.
    expect((await gateway("POST", "/api/v1/events", event("e4", "order.paid"))).body).toEqual({ id: "e4", status: "accepted", matched_webhooks: 3 });
    expect(await a.ingest("POST", "/events", event("e1", "order.paid"))).toMatchObject({ status: 200, body: { id: "e1", status: "duplicate", matched_webhooks: 3 } });

    const c = await customer(hr, admin, `mw-c-${run}`);
    await c.webhook(["order.paid"]);
    expect((await c.ingest("POST", "/events", event("e1", "user.deleted"))).body).toEqual({ id: "e1", status: "accepted", matched_webhooks: 0 });
  });

  it("counts a webhook created just before the event, every time", async () => {
    for (let i = 0; i < 8; i++) {
      const c = await customer(hr, admin, `mw-fresh-${i}-${run}`);
      expect((await c.ingest("POST", "/events", event(`warm_${i}`, `fresh.${i}`))).body.matched_webhooks).toBe(0);
      await c.webhook([`fresh.${i}`]);
      expect((await c.ingest("POST", "/events", event(`f_${i}`, `fresh.${i}`))).body.matched_webhooks).toBe(1);
      // A second one, and the event sent on the other door.
      await c.webhook(["*"]);
      expect((await client(hr.gateway, c.key)("POST", "/api/v1/events/batch", { events: [event(`g_${i}`, `fresh.${i}`)] })).body.matched_webhooks).toBe(2);
    }
  });

  it("a batch counts its new events' pairs and names those that matched none, in order, once for an id repeated in it", async () => {
    const d = await customer(hr, admin, `mw-d-${run}`);
    await d.webhook(["order.paid"]);
    await d.webhook(["order.paid", "order.created"]);
    expect((await d.ingest("POST", "/events", event("b0", "nobody.cares"))).status).toBe(202);
    const batch = [
      event("b1", "order.paid"), // 2
      event("b2", "nobody.cares"), // 0
      event("b0", "nobody.cares"), // a duplicate: neither counted nor named
      event("b3", "order.created"), // 1
      event("b2", "nobody.cares"), // repeated in the batch: named once
      event("b4", "other.thing"), // 0
      event("b1", "order.paid"), // repeated: counted once
    ];
    const answer = await d.ingest("POST", "/events/batch", { events: batch });
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ accepted: 4, duplicates: 3, duplicate_ids: ["b0", "b2", "b1"], matched_webhooks: 3, unmatched_ids: ["b2", "b4"] });
    // All of it again: nothing new, nothing counted.
    expect((await d.ingest("POST", "/events/batch", { events: batch })).body).toEqual({
      accepted: 0,
      duplicates: 7,
      duplicate_ids: ["b1", "b2", "b0", "b3", "b2", "b4", "b1"],
      matched_webhooks: 0,
      unmatched_ids: [],
    });
  });
});

describe("matched_webhooks over embedded shards", () => {
  it("counts a webhook created just before the event, whichever shard's process takes each request", async () => {
    const SHARDS = 2;
    const hr = scope.child({ HOOKRELAY_DATABASE_SQLITE_SHARDS: String(SHARDS), ...NO_API_LIMITS });
    await hr.start();
    const admin = client(hr.gateway, await adminToken(hr.gateway));
    const tag = Math.random().toString(36).slice(2, 7);
    const onShard = [0, 0];
    // Each request on a connection of its own, so that the kernel picks the process that takes it.
    const fresh = (base: string, key: string) => async (path: string, body: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method: "POST",
        keepalive: false,
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json", connection: "close" },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    for (let i = 0; i < 12; i++) {
      const id = `mw-sh-${tag}-${i}`;
      onShard[shardOf(id, SHARDS)]!++;
      const c = await customer(hr, admin, id);
      const gateway = fresh(hr.gateway, c.key);
      const ingest = fresh(hr.ingest, c.key);
      expect((await gateway("/api/v1/webhooks", { url: receiver.url(`/${id}`), event_types: ["order.paid"] })).status).toBe(201);
      expect((await ingest("/events", event(`s_${i}`, "order.paid"))).body).toEqual({ id: `s_${i}`, status: "accepted", matched_webhooks: 1 });
      expect((await gateway("/api/v1/webhooks", { url: receiver.url(`/${id}`), event_types: ["*"] })).status).toBe(201);
      expect((await ingest("/events/batch", { events: [event(`t_${i}`, "order.paid"), event(`u_${i}`, "x")] })).body).toMatchObject({ matched_webhooks: 3, unmatched_ids: [] });
    }
    expect(onShard.every((n) => n > 0)).toBe(true);
    hr.proc.kill(9);
  }, 60_000);
});
