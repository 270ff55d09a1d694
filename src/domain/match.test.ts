/** @module Unit tests of subscription matching: by type, wildcard, status, customer, no duplicates. */
import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { SubscriptionIndex, subscribes } from "./match.ts";
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

  it("matches event types exactly, not by prefix or case", () => {
    const index = new SubscriptionIndex([webhook("a", ["order.created"])]);
    expect(index.match("acme", "order")).toEqual([]);
    expect(index.match("acme", "Order.Created")).toEqual([]);
  });
});

describe("SubscriptionIndex.count", () => {
  it("is match(…).length for any webhooks and event: types, wildcards, repeats, disabled, other customers", () => {
    const types = fc.constantFrom("a", "b", "c", "*");
    const hook = fc.record({ types: fc.array(types, { maxLength: 4 }), customer: fc.constantFrom("acme", "other"), active: fc.boolean() });
    fc.assert(
      fc.property(fc.array(hook, { maxLength: 12 }), fc.constantFrom("a", "b", "c", "d"), fc.constantFrom("acme", "other", "none"), (hooks, type, customer) => {
        const index = new SubscriptionIndex(hooks.map((h, i) => webhook(`w${i}`, h.types, { customerId: h.customer, status: h.active ? "active" : "disabled" })));
        expect(index.count(customer, type)).toBe(index.match(customer, type).length);
      }),
    );
  });
});

describe("subscribes", () => {
  it("is true for an active webhook of the customer naming the type", () => {
    expect(subscribes(webhook("a", ["order.created"]), "acme", "order.created")).toBe(true);
  });

  it("is true for a * webhook and any type", () => {
    expect(subscribes(webhook("a", ["*"]), "acme", "whatever")).toBe(true);
  });

  it("is false for another type, another customer, or a disabled webhook", () => {
    expect(subscribes(webhook("a", ["order.created"]), "acme", "order.paid")).toBe(false);
    expect(subscribes(webhook("a", ["order.created"]), "globex", "order.created")).toBe(false);
    expect(subscribes(webhook("a", ["*"], { status: "disabled" }), "acme", "order.created")).toBe(false);
  });

  it("agrees with the index on every case", () => {
    const hooks = [webhook("a", ["x"]), webhook("b", ["*"]), webhook("c", ["x"], { status: "disabled" }), webhook("d", ["y"], { customerId: "globex" })];
    const index = new SubscriptionIndex(hooks);
    for (const customer of ["acme", "globex"]) for (const type of ["x", "y", "z"]) expect(ids(index.match(customer, type))).toEqual(ids(hooks.filter((w) => subscribes(w, customer, type))));
  });
});
