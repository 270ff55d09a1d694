// Finding events and a webhook's deliveries, in both deployments, over real sockets with a real
// receiver: `GET /api/v1/events` lists a customer's events newest first, page after page with each
// event once, by type, acceptance time and delivery status; `GET /api/v1/webhooks/{id}/deliveries`
// a webhook's deliveries the same way. Another customer sees none of it, and bad input is refused
// naming the parameter.
import { afterAll, describe, expect, it } from "bun:test";
import { client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type ChildInstance, startChildWithReceiver } from "../helpers/process.ts";
import type { Receiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe.each(MODES)("finding events and deliveries (%s)", (mode) => {
  let hr: ChildInstance;
  let rx: Receiver;
  let api: ReturnType<typeof client>;
  let ok: string;
  let failing: string;
  /** The events sent, oldest first, with when the gateway answered each batch. */
  const sent: { id: string; type: string; fails: boolean }[] = [];
  let middle = "";

  /** Every page of a list, following next_cursor; each page within the limit. */
  async function allPages(path: string, limit: number): Promise<any[]> {
    const items: any[] = [];
    let cursor: string | null = null;
    do {
      const res = await api("GET", `${path}${path.includes("?") ? "&" : "?"}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expect(res.body.data.length).toBeLessThanOrEqual(limit);
      items.push(...res.body.data);
      cursor = res.body.next_cursor;
    } while (cursor);
    return items;
  }
  const newestFirst = (ids: string[]) => [...ids].reverse();

  it("starts, and delivers 30 events of three types to two webhooks, one of whose endpoint fails for some", async () => {
    ({ hr, rx, api } = await startChildWithReceiver({ ...(await modeEnv(mode)), HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "300s" }, cleanups));
    ok = (await api("POST", "/api/v1/webhooks", { url: rx.url("/ok"), event_types: ["*"] })).body.id;
    failing = (await api("POST", "/api/v1/webhooks", { url: rx.url("/failing"), event_types: ["order.*"] })).body.id;
    rx.onPath("/failing", (req) => new Response(null, { status: JSON.parse(req.body).data.fails ? 500 : 204 }));
    const types = ["order.created", "order.paid", "user.signed_up"];
    for (let batch = 0; batch < 3; batch++) {
      const events = Array.from({ length: 10 }, (_, i) => {
        const n = batch * 10 + i;
        return { id: `${mode}-find-${String(n).padStart(2, "0")}`, type: types[n % 3]!, source: "t", data: { n, fails: n % 4 === 0 } };
      });
      expect((await api("POST", "/api/v1/events/batch", { events })).status).toBe(202);
      for (const e of events) sent.push({ id: e.id, type: e.type, fails: e.data.fails });
      if (batch === 0) {
        await Bun.sleep(20); // the next batches are accepted after this time
        middle = new Date().toISOString();
        await Bun.sleep(20);
      }
    }
    const orders = sent.filter((e) => e.type.startsWith("order."));
    await waitFor("every delivery tried once", () => rx.received.filter((r) => r.path === "/ok").length >= 30 && rx.received.filter((r) => r.path === "/failing").length >= orders.length);
    // Each delivery is stored by its first outcome: wait until the lists have them all.
    await waitFor("the deliveries stored", async () => (await allPages(`/api/v1/webhooks/${failing}/deliveries`, 1000)).length === orders.length);
  });

  it("lists the customer's events newest first, each once across pages, without their data", async () => {
    const all = await allPages("/api/v1/events", 7);
    const mine = all.filter((e) => e.id.startsWith(`${mode}-find-`));
    expect(mine.map((e) => e.id)).toEqual(newestFirst(sent.map((e) => e.id)));
    expect(Object.keys(mine[0]).sort()).toEqual(["accepted_at", "id", "message_id", "source", "timestamp", "type"]);
    const times = all.map((e) => Date.parse(e.accepted_at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it("filters by type, by acceptance time, and by delivery status (failed: a failed or dead delivery; pending: one not finished)", async () => {
    const ids = (items: any[]) => items.map((e) => e.id).filter((id: string) => id.startsWith(`${mode}-find-`));
    expect(ids(await allPages("/api/v1/events?type=order.paid", 3))).toEqual(newestFirst(sent.filter((e) => e.type === "order.paid").map((e) => e.id)));
    expect(ids(await allPages(`/api/v1/events?since=${encodeURIComponent(middle)}`, 4))).toEqual(newestFirst(sent.slice(10).map((e) => e.id)));
    expect(ids(await allPages(`/api/v1/events?until=${encodeURIComponent(middle)}`, 4))).toEqual(newestFirst(sent.slice(0, 10).map((e) => e.id)));
    const failed = newestFirst(sent.filter((e) => e.fails && e.type.startsWith("order.")).map((e) => e.id));
    expect(failed.length).toBeGreaterThan(3);
    expect(ids(await allPages("/api/v1/events?delivery_status=failed", 2))).toEqual(failed);
    // The failed deliveries wait for a retry an hour away: not finished.
    expect(ids(await allPages("/api/v1/events?delivery_status=pending", 2))).toEqual(failed);
    expect(ids(await allPages(`/api/v1/events?delivery_status=failed&type=order.created&since=${encodeURIComponent(middle)}`, 2))).toEqual(
      newestFirst(
        sent
          .slice(10)
          .filter((e) => e.fails && e.type === "order.created")
          .map((e) => e.id),
      ),
    );
  });

  it("lists a webhook's deliveries newest event first, by status and time; another webhook's are not among them", async () => {
    // A batch's events share their acceptance time: its deliveries come together, in no order among themselves.
    const batchOf = (eventId: string) => Math.floor(Number(eventId.slice(-2)) / 10);
    const expectNewestFirst = (items: any[], events: { id: string }[]) => {
      const batches = items.map((d) => batchOf(d.event_id));
      expect(batches).toEqual([...batches].sort((a, b) => b - a));
      expect(items.map((d) => d.event_id).sort()).toEqual(events.map((e) => e.id).sort());
      expect(new Set(items.map((d) => d.id)).size).toBe(items.length);
    };
    const orders = sent.filter((e) => e.type.startsWith("order."));
    const deliveries = await allPages(`/api/v1/webhooks/${failing}/deliveries`, 4);
    expectNewestFirst(deliveries, orders);
    expect(new Set(deliveries.map((d) => d.webhook_id))).toEqual(new Set([failing]));
    expectNewestFirst(
      await allPages(`/api/v1/webhooks/${failing}/deliveries?status=failed`, 3),
      orders.filter((e) => e.fails),
    );
    expectNewestFirst(
      await allPages(`/api/v1/webhooks/${failing}/deliveries?status=succeeded&since=${encodeURIComponent(middle)}`, 3),
      orders.filter((e) => !e.fails && batchOf(e.id) >= 1),
    );
    expect((await allPages(`/api/v1/webhooks/${ok}/deliveries`, 50)).length).toBe(30);
  });

  it("shows another customer none of it: its list is empty, the webhook not found", async () => {
    const customer = (await api("POST", "/api/v1/customers", { name: `other ${mode}` })).body.id;
    const key = (await api("POST", `/api/v1/customers/${customer}/api-keys`, { name: "reader", scopes: ["deliveries:read", "events:write"] })).body.key;
    const other = client(hr.gateway, key);
    expect((await other("GET", "/api/v1/events")).body).toEqual({ data: [], next_cursor: null });
    expect((await other("GET", "/api/v1/events?delivery_status=failed")).body).toEqual({ data: [], next_cursor: null });
    const res = await other("GET", `/api/v1/webhooks/${failing}/deliveries`);
    expect({ status: res.status, code: res.body.error.code }).toEqual({ status: 404, code: "not_found" });
    // A cursor from the first customer's list reads nothing of it either.
    const cursor = (await api("GET", "/api/v1/events?limit=1")).body.next_cursor;
    expect((await other("GET", `/api/v1/events?cursor=${encodeURIComponent(cursor)}`)).body.data).toEqual([]);
  });

  it("refuses bad parameters naming them, with 422 (or 400 where the query itself is malformed)", async () => {
    for (const [query, names] of [
      ["cursor=bm9wZQ", "cursor"],
      ["since=yesterday", "since"],
      ["until=2026-13-45T00:00:00Z", "until"],
      [`since=${encodeURIComponent(middle)}&until=${encodeURIComponent(middle)}`, "since"],
      ["delivery_status=dead", "delivery_status"],
      ["limit=0", "limit"],
      ["limit=1001", "limit"],
      ["colour=red", "colour"],
      [`type=${"x".repeat(129)}`, "type"],
    ] as const) {
      const res = await api("GET", `/api/v1/events?${query}`);
      expect({ query, status: [400, 422].includes(res.status), code: res.body.error?.code }).toEqual({ query, status: true, code: res.status === 400 ? "bad_request" : "validation_failed" });
      expect({ query, message: res.body.error.message }).toEqual({ query, message: expect.stringContaining(names) });
    }
    expect((await api("GET", `/api/v1/webhooks/${failing}/deliveries?status=lost`)).status).toBe(422);
    expect((await api("GET", "/api/v1/webhooks/wh_nope/deliveries")).status).toBe(404);
  });
});
