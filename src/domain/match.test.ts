/** @module Unit tests of subscription matching: by type, wildcard, status, customer, no duplicates. */
import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { compileFilter } from "./filter.ts";
import { exactTypes, SubscriptionIndex } from "./match.ts";
import { NEW_WEBHOOK_STATE, type Webhook } from "./model.ts";

function webhook(id: string, eventTypes: string[], overrides: Partial<Webhook> = {}): Webhook {
  return {
    id,
    customerId: "acme",
    url: `https://example.com/${id}`,
    eventTypes,
    headers: {},
    description: null,
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    status: "active",
    ...NEW_WEBHOOK_STATE,
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:00.000Z",
    ...overrides,
  };
}

const ids = (webhooks: Webhook[]) => webhooks.map((w) => w.id).sort();

describe("SubscriptionIndex", () => {
  it("matches the webhooks that name the event type and no others", () => {
    const index = new SubscriptionIndex([webhook("a", ["order.created"]), webhook("b", ["order.created", "order.paid"]), webhook("c", ["order.paid"])]);
    expect(ids(index.match("acme", "order.created"))).toEqual(["a", "b"]);
    expect(ids(index.match("acme", "order.paid"))).toEqual(["b", "c"]);
    expect(index.match("acme", "order.refunded")).toEqual([]);
  });

  it("sends every type to a * webhook, alongside the typed ones", () => {
    const index = new SubscriptionIndex([webhook("all", ["*"]), webhook("typed", ["order.created"])]);
    expect(ids(index.match("acme", "order.created"))).toEqual(["all", "typed"]);
    expect(ids(index.match("acme", "anything.else"))).toEqual(["all"]);
  });

  it("lists a webhook with * and a named type only once", () => {
    const index = new SubscriptionIndex([webhook("both", ["order.created", "*"])]);
    expect(ids(index.match("acme", "order.created"))).toEqual(["both"]);
  });

  it("excludes disabled webhooks", () => {
    const index = new SubscriptionIndex([webhook("off", ["order.created"], { status: "disabled" }), webhook("offall", ["*"], { status: "disabled" }), webhook("on", ["order.created"])]);
    expect(ids(index.match("acme", "order.created"))).toEqual(["on"]);
  });

  it("never matches another customer's webhooks", () => {
    const index = new SubscriptionIndex([webhook("mine", ["order.created"]), webhook("theirs", ["order.created"], { customerId: "globex" }), webhook("theirsall", ["*"], { customerId: "globex" })]);
    expect(ids(index.match("acme", "order.created"))).toEqual(["mine"]);
    expect(ids(index.match("globex", "order.created"))).toEqual(["theirs", "theirsall"]);
    expect(index.match("initech", "order.created")).toEqual([]);
  });

  it("lists a webhook once even if it names a type twice", () => {
    const index = new SubscriptionIndex([webhook("twice", ["order.created", "order.created"])]);
    expect(ids(index.match("acme", "order.created"))).toEqual(["twice"]);
  });

  it("matches event type names exactly, not by prefix or case", () => {
    const index = new SubscriptionIndex([webhook("a", ["order.created"])]);
    expect(index.match("acme", "order")).toEqual([]);
    expect(index.match("acme", "Order.Created")).toEqual([]);
  });
});

describe("event type patterns", () => {
  it("prefix.* takes every type under the prefix, at any depth, and not the prefix itself", () => {
    const index = new SubscriptionIndex([webhook("users", ["user.*"]), webhook("profiles", ["user.profile.*"]), webhook("named", ["user.created"])]);
    expect(ids(index.match("acme", "user.created"))).toEqual(["named", "users"]);
    expect(ids(index.match("acme", "user.profile.updated"))).toEqual(["profiles", "users"]);
    expect(index.match("acme", "user")).toEqual([]);
    expect(index.match("acme", "user.")).toEqual([]);
    expect(index.match("acme", "users.created")).toEqual([]);
  });

  it("lists a webhook with a name and a pattern that both take the type once", () => {
    const index = new SubscriptionIndex([webhook("both", ["user.created", "user.*"])]);
    expect(ids(index.match("acme", "user.created"))).toEqual(["both"]);
    expect(ids(index.match("acme", "user.created"))).toEqual(["both"]); // from the cache
  });

  it("exactTypes: the names, or null once a pattern is among them", () => {
    expect(exactTypes(webhook("a", ["x", "y", "x"]))).toEqual(["x", "y"]);
    expect(exactTypes(webhook("a", ["x", "y.*"]))).toBeNull();
    expect(exactTypes(webhook("a", ["*"]))).toBeNull();
  });
});

const payloadOf = (type: string, data: unknown) => JSON.stringify({ id: "e", type, source: "s", data, timestamp: "2026-12-05T00:00:00.000Z" });

describe("filters", () => {
  it("recipients: the subscribed webhooks whose filter the payload passes; no filter passes all", () => {
    const index = new SubscriptionIndex([
      webhook("big", ["invoice.*"], { filter: { "data.amount": { $gte: 100 } } }),
      webhook("eur", ["invoice.paid"], { filter: { "data.currency": "EUR" } }),
      webhook("any", ["*"]),
    ]);
    const event = (data: unknown) => ({ customerId: "acme", type: "invoice.paid", payload: payloadOf("invoice.paid", data) });
    expect(ids(index.recipients(event({ amount: 150, currency: "USD" })))).toEqual(["any", "big"]);
    expect(ids(index.recipients(event({ amount: 5, currency: "EUR" })))).toEqual(["any", "eur"]);
    expect(index.count(event({ amount: 500, currency: "EUR" }))).toBe(3);
    expect(index.takes(index.match("acme", "invoice.paid").find((w) => w.id === "big")!, event({ amount: 1 }))).toBe(false);
  });

  it("recipients does not parse the payload when no subscribed webhook has a filter", () => {
    const index = new SubscriptionIndex([webhook("filtered", ["other"], { filter: { "data.x": 1 } }), webhook("plain", ["t"])]);
    expect(ids(index.recipients({ customerId: "acme", type: "t", payload: "not JSON" }))).toEqual(["plain"]);
  });

  it("a stored filter that no longer compiles lets every event of the webhook's types through (none lost)", () => {
    const index = new SubscriptionIndex([webhook("old", ["t"], { filter: { "data.x": { $unknown: 1 } } })]);
    expect(ids(index.recipients({ customerId: "acme", type: "t", payload: payloadOf("t", {}) }))).toEqual(["old"]);
  });
});

/** The reference: one webhook at a time, straight off its fields. */
function takesByScan(w: Webhook, customerId: string, type: string, data: unknown): boolean {
  if (w.status !== "active" || w.customerId !== customerId) return false;
  const typed = w.eventTypes.some((t) => t === "*" || t === type || (t.endsWith(".*") && type.startsWith(t.slice(0, -1)) && type.length > t.length - 1));
  return typed && (!w.filter || compileFilter(w.filter)({ id: "e", type, source: "s", data, timestamp: "2026-12-05T00:00:00.000Z" }));
}

describe("SubscriptionIndex against a scan of every webhook", () => {
  it("recipients and count agree with the scan for any webhooks and event: names, patterns, repeats, filters, disabled, other customers", () => {
    const types = fc.constantFrom("a.b", "a.c", "a.b.c", "b", "a.*", "a.b.*", "*", "b.*");
    const filter = fc.constantFrom(undefined, { "data.n": { $gt: 1 } }, { "data.s": { $in: ["x", "y"] } }, { $or: [{ "data.n": 0 }, { "data.s": { $exists: false } }] });
    const hook = fc.record({ types: fc.array(types, { minLength: 1, maxLength: 4 }), customer: fc.constantFrom("acme", "other"), active: fc.boolean(), filter });
    const data = fc.record({ n: fc.constantFrom(0, 1, 2, 3), s: fc.constantFrom("x", "y", "z") }, { requiredKeys: [] });
    fc.assert(
      fc.property(
        fc.array(hook, { maxLength: 12 }),
        fc.array(fc.tuple(fc.constantFrom("a.b", "a.c", "a.b.c", "a", "b", "b.x", "c"), data), { minLength: 1, maxLength: 6 }),
        fc.constantFrom("acme", "other", "none"),
        (hooks, events, customer) => {
          const webhooks = hooks.map((h, i) => webhook(`w${i}`, h.types, { customerId: h.customer, status: h.active ? "active" : "disabled", filter: h.filter ?? null }));
          const index = new SubscriptionIndex(webhooks);
          for (const [type, d] of events) {
            const event = { customerId: customer, type, payload: payloadOf(type, d) };
            const expected = webhooks
              .filter((w) => takesByScan(w, customer, type, d))
              .map((w) => w.id)
              .sort();
            expect(ids(index.recipients(event))).toEqual(expected);
            expect(index.count(event)).toBe(expected.length);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
