// Event type patterns and payload filters, in both deployments, over real sockets with a real receiver.
//
// The invariant, checked on generated events (fast-check: types under and outside a pattern,
// amounts at and around the bounds, missing fields, repeated ids, single sends and batches sent
// concurrently): every webhook receives exactly the accepted events of its types that pass its
// filter, decided here by hand-written predicates, not by hookrelay's evaluator. An ordered webhook
// with a filter receives its passing events in acceptance order. Then: bad filters are refused with
// 422 naming the operator or path, a filter is changed and cleared, and `filter/test` answers.
import { afterAll, describe, expect, it } from "bun:test";
import fc from "fast-check";
import { client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type ChildInstance, startChildWithReceiver } from "../helpers/process.ts";
import { eventIdOf, type Receiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

interface Sent {
  id: string;
  type: string;
  source: string;
  data: { amount?: number; currency?: string; customer?: { id: string; tier?: string }; country?: string; tags?: string[] };
}

/** Ten conditions: what the benchmark puts on every webhook too. */
const INVOICES_FILTER = {
  "data.amount": { $gte: 100, $lt: 100_000 },
  "data.currency": { $in: ["EUR", "USD"] },
  "data.customer.tier": { $exists: true },
  "data.customer.id": { $regex: "^cus_[0-9]+$" },
  source: { $neq: "legacy" },
  $or: [{ "data.country": "DE" }, { "data.country": { $nin: ["DE", "FR"] } }],
  $not: { "data.customer.tier": "blocked" },
  type: { $not: { $eq: "invoice.voided" } },
};

/** The same filters, by hand: the test's oracle. */
const takesInvoices = (e: Sent) => {
  const d = e.data;
  return (
    e.type.startsWith("invoice.") &&
    d.amount !== undefined &&
    d.amount >= 100 &&
    d.amount < 100_000 &&
    (d.currency === "EUR" || d.currency === "USD") &&
    d.customer?.tier !== undefined &&
    /^cus_[0-9]+$/.test(d.customer.id) &&
    e.source !== "legacy" &&
    (d.country === "DE" || (d.country !== "DE" && d.country !== "FR")) &&
    d.customer.tier !== "blocked" &&
    e.type !== "invoice.voided"
  );
};
const BIG_PAID_FILTER = { type: "invoice.paid", "data.amount": { $gt: 1000 }, "data.tags": { $contains: "vip" } };
const takesBigPaid = (e: Sent) => e.type === "invoice.paid" && e.data.amount !== undefined && e.data.amount > 1000 && (e.data.tags ?? []).includes("vip");
const EUR_FILTER = { "data.currency": "EUR" };
const takesEur = (e: Sent) => e.type.startsWith("invoice.") && e.data.currency === "EUR";

/** Mostly `often`, sometimes `rarely`, sometimes left out: the 10-condition filter then passes about one event in six. */
const field = <T>(often: T[], rarely: T[]) =>
  fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...often) }, { weight: 2, arbitrary: fc.constantFrom(...rarely) }, { weight: 1, arbitrary: fc.constant(undefined) });
const sentArb = fc
  .record({
    id: fc.integer({ min: 1, max: 25 }).map((n) => `e${n}`),
    type: fc.oneof({ weight: 3, arbitrary: fc.constantFrom("invoice.paid", "invoice.line.added") }, { weight: 2, arbitrary: fc.constantFrom("invoice.voided", "invoices.paid", "order.created") }),
    source: fc.oneof({ weight: 4, arbitrary: fc.constant("billing") }, { weight: 1, arbitrary: fc.constant("legacy") }),
    amount: field([100, 101, 1000, 1001, 99_999], [0, 99, 100_000]),
    currency: field(["EUR", "USD"], ["GBP"]),
    customer: field([{ id: "cus_1", tier: "gold" }], [{ id: "cus_x", tier: "gold" }, { id: "cus_2" }, { id: "cus_3", tier: "blocked" }]),
    country: field(["DE", "US"], ["FR"]),
    tags: field([["vip"], ["eu", "vip"]], [[], ["eu"], ["vipx"]]),
  })
  .map(({ id, type, source, ...data }): Sent => ({ id, type, source, data: JSON.parse(JSON.stringify(data)) }));
/** Events, and how they are sent: alone or in batches of the next few, some batches at once. */
const runArb = fc.record({
  events: fc.array(sentArb, { minLength: 10, maxLength: 40 }),
  batches: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 40, maxLength: 40 }),
  concurrent: fc.boolean(),
});

describe.each(MODES)("event type patterns and payload filters (%s)", (mode) => {
  let hr: ChildInstance;
  let rx: Receiver;
  let api: ReturnType<typeof client>;

  it("starts", async () => {
    // The generated runs send and create faster than a customer's default request rates allow.
    const unlimited = {
      HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_IP: "0",
      HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_CUSTOMER: "0",
      HOOKRELAY_SECURITY_RATE_LIMIT_INGEST_PER_IP: "0",
      HOOKRELAY_SECURITY_RATE_LIMIT_INGEST_PER_CUSTOMER: "0",
    };
    ({ hr, rx, api } = await startChildWithReceiver({ ...(await modeEnv(mode)), ...unlimited }, cleanups));
  });

  it("delivers to each webhook exactly the accepted events of its types that pass its filter; an ordered one in order (generated runs)", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(runArb, async ({ events, batches, concurrent }) => {
        run++;
        const path = (name: string) => `/${mode}/run${run}/${name}`;
        const create = async (name: string, body: object) => {
          const res = await api("POST", "/api/v1/webhooks", { url: rx.url(path(name)), ...body });
          expect({ name, status: res.status, body: res.body }).toMatchObject({ name, status: 201 });
          return res.body.id as string;
        };
        const hooks: string[] = [];
        try {
          hooks.push(await create("invoices", { event_types: ["invoice.*"], filter: INVOICES_FILTER }));
          hooks.push(await create("big-paid", { event_types: ["invoice.paid", "order.created"], filter: BIG_PAID_FILTER }));
          hooks.push(await create("eur-ordered", { event_types: ["invoice.*"], filter: EUR_FILTER, ordering: "fifo" }));
          hooks.push(await create("all", { event_types: ["*"] }));
          await checkRun(run, path, events, batches, concurrent);
        } finally {
          // Each run's webhooks go with it (a failing one's too, so shrinking runs stay within the fan-out bound).
          for (const id of hooks) expect((await api("DELETE", `/api/v1/webhooks/${id}`)).status).toBe(204);
        }
      }),
      { numRuns: 3 },
    );
  }, 240_000);

  async function checkRun(run: number, path: (name: string) => string, events: Sent[], batches: number[], concurrent: boolean): Promise<void> {
    // Ids of this run; a repeated id is accepted once, as first sent (later ones are duplicates).
    const withIds = events.map((e) => ({ ...e, id: `${mode}-r${run}-${e.id}` }));
    const groups: Sent[][] = [];
    for (let i = 0, b = 0; i < withIds.length; b++) {
      groups.push(withIds.slice(i, i + batches[b]!));
      i += batches[b]!;
    }
    const send = async (group: Sent[]) => {
      const res = group.length === 1 ? await api("POST", "/api/v1/events", group[0]) : await api("POST", "/api/v1/events/batch", { events: group });
      // 202 accepted; 200 a single event already accepted (a duplicate).
      expect([200, 202]).toContain(res.status);
      return res.body;
    };
    const answers = concurrent
      ? await Promise.all(groups.map(send))
      : await (async () => {
          const out = [];
          for (const g of groups) out.push(await send(g));
          return out;
        })();
    // Each id accepted once over the run: sent n times in all, listed as a duplicate n - 1 times.
    const count = (ids: string[], id: string) => ids.filter((x) => x === id).length;
    const sentIds = groups.flat().map((e) => e.id);
    const duplicateIds = groups.flatMap((group, i) => (group.length === 1 ? (answers[i].status === "duplicate" ? [group[0]!.id] : []) : (answers[i].duplicate_ids as string[])));
    const order = [...new Set(sentIds)];
    for (const id of order) expect({ id, times: count(sentIds, id) - count(duplicateIds, id) }).toEqual({ id, times: 1 });
    // What was accepted under each id, as the store kept it: sent one after another, the first sent;
    // sent at once with different contents, whichever the store took first.
    const accepted = new Map<string, Sent>();
    for (const id of order) {
      const stored = (await api("GET", `/api/v1/events/${encodeURIComponent(id)}`)).body;
      accepted.set(id, { id, type: stored.type, source: stored.source, data: stored.data });
      if (!concurrent) expect(accepted.get(id)).toEqual(groups.flat().find((e) => e.id === id)!);
    }
    // A single event's answer counts the webhooks it goes to, filters applied.
    for (const [i, group] of groups.entries()) {
      const e = group[0]!;
      if (group.length === 1 && answers[i].status === "accepted")
        expect({ id: e.id, matched: answers[i].matched_webhooks }).toEqual({ id: e.id, matched: [takesInvoices, takesBigPaid, takesEur].filter((take) => take(e)).length + 1 });
    }
    const expected = {
      invoices: [...accepted.values()].filter(takesInvoices).map((e) => e.id),
      "big-paid": [...accepted.values()].filter(takesBigPaid).map((e) => e.id),
      "eur-ordered": [...accepted.values()].filter(takesEur).map((e) => e.id),
      all: [...accepted.keys()],
    };
    const got = (name: string) => rx.received.filter((r) => r.path === path(name)).map((r) => eventIdOf(r.body));
    await waitFor(
      () => `every expected delivery of run ${run}: ${JSON.stringify(Object.fromEntries(Object.entries(expected).map(([k, ids]) => [k, `${new Set(got(k)).size}/${ids.length}`])))}`,
      () => Object.entries(expected).every(([name, ids]) => ids.every((id) => got(name).includes(id))),
      60_000,
    );
    // Everything was dispatched once `all` has it; a moment more for any wrongly sent delivery to land.
    await Bun.sleep(500);
    for (const [name, ids] of Object.entries(expected)) expect({ name, got: [...new Set(got(name))].sort() }).toEqual({ name, got: [...ids].sort() });
    console.log(
      `filters run ${run}: ${JSON.stringify(Object.fromEntries(Object.entries(expected).map(([k, ids]) => [k, ids.length])))} of ${accepted.size} accepted (${events.length} sent, ${groups.length} requests${concurrent ? " at once" : ""})`,
    );
    // Ordered: in acceptance order (a batch's events in the batch's order; concurrent sends as the store took them).
    if (!concurrent) expect(got("eur-ordered")).toEqual(order.filter((id) => expected["eur-ordered"].includes(id)));
  }

  it("refuses a bad filter or event type pattern with 422 naming the operator or path, and nothing is created", async () => {
    const before = (await api("GET", "/api/v1/webhooks?limit=1000")).body.data.length;
    const cases: [object, string][] = [
      [{ filter: { "data.amount": { $gtx: 1 } } }, "filter.data.amount: unknown operator '$gtx'"],
      [{ filter: { "payload.amount": 1 } }, "filter.payload.amount: 'payload.amount' must start with one of id, type, source, data, timestamp"],
      [{ filter: { $or: [{ "data.a": 1 }, { "data.b": { $regex: "(?<=x)y" } }] } }, "filter.$or[1].data.b.$regex: '(?<=x)y' is not an RE2 regular expression"],
      [{ filter: { "data.a": { $in: "x" } } }, "filter.data.a.$in: must be an array of 1 to 256 values"],
      [{ filter: { $and: [] } }, "filter.$and: must be an array of 1 to 32 filters"],
      [{ filter: Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`data.f${i}`, i])) }, "filter: more than 64 conditions"],
      [{ filter: "data.amount > 5" }, "filter: must be a filter object"],
      [{ event_types: ["invoice.*.paid"] }, "event_types: 'invoice.*.paid' is not a valid event type"],
    ];
    for (const [change, message] of cases) {
      const res = await api("POST", "/api/v1/webhooks", { url: rx.url("/refused"), event_types: ["invoice.*"], ...change });
      expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 422, code: "validation_failed" });
      expect(res.body.error.message).toContain(message);
    }
    // Past the gateway's body bound: 413, not a 500 or a slow parse.
    const huge = await api("POST", "/api/v1/webhooks", { url: rx.url("/refused"), event_types: ["x"], filter: { "data.a": { $in: Array.from({ length: 20_000 }, (_, i) => `v${i}`) } } });
    expect(huge.status).toBe(413);
    expect((await api("GET", "/api/v1/webhooks?limit=1000")).body.data.length).toBe(before);
  });

  it("changes a filter with PATCH, keeps it through a PATCH of another field, clears it with null and with a PUT that leaves it out", async () => {
    const created = await api("POST", "/api/v1/webhooks", { url: rx.url("/changing"), event_types: ["invoice.*"], filter: { "data.amount": { $gte: 1 } } });
    expect(created.body.filter).toEqual({ "data.amount": { $gte: 1 } });
    const id = created.body.id;
    expect((await api("PATCH", `/api/v1/webhooks/${id}`, { filter: { source: "billing" } })).body.filter).toEqual({ source: "billing" });
    expect((await api("PATCH", `/api/v1/webhooks/${id}`, { description: "kept" })).body.filter).toEqual({ source: "billing" });
    expect((await api("GET", `/api/v1/webhooks/${id}`)).body.filter).toEqual({ source: "billing" });
    expect((await api("PATCH", `/api/v1/webhooks/${id}`, { filter: null })).body.filter).toBeNull();
    await api("PATCH", `/api/v1/webhooks/${id}`, { filter: { source: "billing" } });
    expect((await api("PUT", `/api/v1/webhooks/${id}`, { url: rx.url("/changing"), event_types: ["invoice.*"] })).body.filter).toBeNull();
    const bad = await api("PATCH", `/api/v1/webhooks/${id}`, { filter: { "data.x": { $eq: 1, y: 2 } } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.message).toContain("filter.data.x: mixes operators ($eq) with fields (y)");
  });

  it("filter/test: answers whether the webhook would receive a sample event, with its filter or one given; refuses bad input", async () => {
    const created = await api("POST", "/api/v1/webhooks", { url: rx.url("/tried"), event_types: ["invoice.*"], filter: { "data.amount": { $gte: 100 } } });
    const id = created.body.id;
    const tryIt = (body: unknown) => api("POST", `/api/v1/webhooks/${id}/filter/test`, body);
    expect((await tryIt({ event: { type: "invoice.paid", data: { amount: 150 } } })).body).toEqual({
      matches: true,
      type_matches: true,
      filter_matches: true,
      filter: { "data.amount": { $gte: 100 } },
    });
    expect((await tryIt({ event: { type: "invoice.paid", data: { amount: 50 } } })).body).toMatchObject({ matches: false, type_matches: true, filter_matches: false });
    expect((await tryIt({ event: { type: "order.created", data: { amount: 150 } } })).body).toMatchObject({ matches: false, type_matches: false, filter_matches: true });
    // A filter given is tried instead, and not saved.
    const given = await tryIt({ event: { type: "invoice.paid", source: "crm", data: { amount: 50 } }, filter: { source: "crm" } });
    expect(given.body).toEqual({ matches: true, type_matches: true, filter_matches: true, filter: { source: "crm" } });
    expect((await api("GET", `/api/v1/webhooks/${id}`)).body.filter).toEqual({ "data.amount": { $gte: 100 } });
    expect((await tryIt({ event: { type: "invoice.paid", data: { amount: 1 } }, filter: null })).body).toMatchObject({ matches: true, filter: null });
    for (const [body, message] of [
      [{ event: { type: "invoice.paid", data: {} }, filter: { "data.a": { $nope: 1 } } }, "filter.data.a: unknown operator '$nope'"],
      [{ event: { type: "invoice.*", data: {} } }, "event.type: 'invoice.*' is a pattern"],
      [{ event: { data: {} } }, "type"],
      [{}, "event"],
    ] as const) {
      const res = await tryIt(body);
      expect({ status: res.status }).toEqual({ status: 422 });
      expect(res.body.error.message).toContain(message);
    }
    expect((await api("POST", "/api/v1/webhooks/wh_nope/filter/test", { event: { type: "x", data: {} } })).status).toBe(404);
    // Reading is enough: nothing is sent or changed.
    const key = await api("POST", "/api/v1/customers/default/api-keys", { name: "filter reader", scopes: ["webhooks:read"] });
    expect((await client(hr.gateway, key.body.key)("POST", `/api/v1/webhooks/${id}/filter/test`, { event: { type: "invoice.paid", data: { amount: 150 } } })).body.matches).toBe(true);
  });
});
