// The Standard Webhooks `webhook-id` over real sockets, in both deployments: one per (customer,
// event), so two customers sending the same event id to one receiver are two messages, and the same
// on every attempt of one event: a failed first try and its retry, a manual retry, and the re-send
// after a kill -9 mid-delivery.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { messageIdFor } from "../../src/domain/ids.ts";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type ChildInstance, fileScope } from "../helpers/process.ts";
import { eventIdOf, type Receiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const scope = fileScope();
/** Requests a test holds unanswered; answered when the file ends. */
const held: (() => void)[] = [];
afterAll(() => {
  for (const release of held.splice(0)) release();
});

describe.each(MODES)("webhook-id (%s)", (mode) => {
  let hr: ChildInstance;
  let receiver: Receiver;
  let admin: ReturnType<typeof client>;
  const run = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    receiver = scope.receiver();
    hr = scope.child({ ...(await modeEnv(mode)), HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "200ms", HOOKRELAY_RETRY_MANAGER_JITTER: "0" });
    await hr.start();
    admin = client(hr.gateway, await adminToken(hr.gateway));
  }, 60_000);

  afterAll(() => {
    hr.proc?.kill(9);
  });

  /** A new customer with one key for everything this file does. */
  async function customer(name: string) {
    const id = `${name}-${run}`;
    expect((await admin("POST", "/api/v1/customers", { id, name })).status).toBe(201);
    const scopes = ["webhooks:write", "events:write", "deliveries:read", "deliveries:write"];
    const key = (await admin("POST", `/api/v1/customers/${id}/api-keys`, { name, scopes })).body.key as string;
    return { id, api: () => client(hr.gateway, key), ingest: () => client(hr.ingest, key) };
  }

  const at = (path: string) => receiver.received.filter((r) => r.path === path);

  it("gives two customers' same event id, sent to one receiver, two different webhook-ids, each signed with its own webhook's secret", async () => {
    const path = `/shared-${run}`;
    const a = await customer("wid-a");
    const b = await customer("wid-b");
    const secrets: Record<string, string> = {};
    for (const c of [a, b]) {
      const hook = await c.api()("POST", "/api/v1/webhooks", { url: receiver.url(path), event_types: ["same.id"] });
      expect(hook.status).toBe(201);
      secrets[c.id] = hook.body.secret;
      expect((await c.ingest()("POST", "/events", { id: "evt_same", type: "same.id", source: "t", data: { from: c.id } })).status).toBe(202);
    }
    await waitFor("both deliveries", () => at(path).length >= 2);
    await Bun.sleep(300);
    const requests = at(path);
    expect(requests).toHaveLength(2);
    expect(requests.map((r) => eventIdOf(r.body))).toEqual(["evt_same", "evt_same"]);
    const ids = requests.map((r) => r.headers["webhook-id"]!);
    expect(new Set(ids).size).toBe(2);
    for (const r of requests) {
      const from = (JSON.parse(r.body) as { data: { from: string } }).data.from;
      expect(r.headers["webhook-id"]).toBe(messageIdFor(from, "evt_same"));
      expect(r.headers["webhook-id"]).toMatch(/^msg_[0-9a-z]{26}$/);
      // Verifies with its own webhook's secret only.
      expect(() => new StandardWebhook(secrets[from]!).verify(r.body, r.headers)).not.toThrow();
      const other = from === a.id ? b.id : a.id;
      expect(() => new StandardWebhook(secrets[other]!).verify(r.body, r.headers)).toThrow();
    }
    // Each customer finds its own message id on its event, to match what its receiver logged.
    for (const c of [a, b]) expect((await c.api()("GET", "/api/v1/events/evt_same")).body.message_id).toBe(messageIdFor(c.id, "evt_same"));
  });

  it("keeps the webhook-id of an event across a failed first try, its retry and a manual retry", async () => {
    const path = `/fails-first-${run}`;
    receiver.onPath(path, (_req, n) => (n === 1 ? new Response("first try fails", { status: 500 }) : new Response("ok")));
    const c = await customer("wid-retry");
    const hook = await c.api()("POST", "/api/v1/webhooks", { url: receiver.url(path), event_types: ["retry.id"] });
    expect((await c.ingest()("POST", "/events", { id: "evt_retried", type: "retry.id", source: "t", data: {} })).status).toBe(202);
    await waitFor("the first try and its retry", () => at(path).length >= 2, 10_000);
    const delivery = async () => (await c.api()("GET", `/api/v1/deliveries?webhook_id=${hook.body.id}`)).body.data[0];
    await waitFor("the delivery succeeded", async () => (await delivery())?.status === "succeeded", 10_000);
    expect((await c.api()("POST", `/api/v1/deliveries/${(await delivery()).id}/retry`)).status).toBe(202);
    await waitFor("the manual retry", () => at(path).length >= 3, 10_000);
    expect(at(path).map((r) => r.headers["webhook-id"])).toEqual(Array(3).fill(messageIdFor(c.id, "evt_retried")));
    // A signature per attempt (the timestamp changes), each verifying.
    for (const r of at(path)) expect(() => new StandardWebhook(hook.body.secret).verify(r.body, r.headers)).not.toThrow();
  });

  it("re-sends an event whose delivery was cut short by kill -9 with the same webhook-id after the restart", async () => {
    const path = `/cut-${run}`;
    // The first request is never answered: hookrelay dies with it in flight, its outcome unrecorded.
    receiver.onPath(path, (_req, n) => (n === 1 ? new Promise<Response>((resolve) => held.push(() => resolve(new Response("too late")))) : new Response("ok")));
    const c = await customer("wid-crash");
    const hook = await c.api()("POST", "/api/v1/webhooks", { url: receiver.url(path), event_types: ["crash.id"] });
    expect((await c.ingest()("POST", "/events", { id: "evt_cut", type: "crash.id", source: "t", data: {} })).status).toBe(202);
    await waitFor("the request in flight", () => at(path).length >= 1, 10_000);
    hr.proc.kill(9);
    await hr.proc.exited;
    expect(at(path)).toHaveLength(1);

    await hr.start();
    await waitFor("the re-send after the restart", () => at(path).length >= 2, 30_000, 50);
    const [before, after] = at(path);
    expect(after!.headers["webhook-id"]).toBe(before!.headers["webhook-id"]!);
    expect(after!.headers["webhook-id"]).toBe(messageIdFor(c.id, "evt_cut"));
    expect(() => new StandardWebhook(hook.body.secret).verify(after!.body, after!.headers)).not.toThrow();
  });
});
