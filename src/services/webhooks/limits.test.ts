/** @module The largest fan-out of a customer's webhooks, with type names, prefix patterns and `*`, against counting every type. */
import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { takesType } from "../../domain/match.ts";
import { NEW_WEBHOOK_STATE, type Webhook } from "../../domain/model.ts";
import { largestFanout } from "./limits.ts";

const webhook = (i: number, eventTypes: string[], active = true): Webhook => ({
  id: `wh_${i}`,
  customerId: "acme",
  url: "https://example.com",
  eventTypes,
  headers: {},
  description: null,
  secret: "whsec_x",
  status: active ? "active" : "disabled",
  ...NEW_WEBHOOK_STATE,
  createdAt: "2026-12-05T00:00:00.000Z",
  updatedAt: "2026-12-05T00:00:00.000Z",
});

describe("largestFanout", () => {
  it("counts a pattern toward every type under its prefix, and * toward all", () => {
    expect(largestFanout([webhook(1, ["user.created"]), webhook(2, ["user.*"]), webhook(3, ["*"]), webhook(4, ["order.paid"])])).toBe(3);
    // Two patterns on one branch reach a type no one names: user.profile.x.
    expect(largestFanout([webhook(1, ["user.*"]), webhook(2, ["user.profile.*"]), webhook(3, ["order.paid"])])).toBe(2);
    expect(largestFanout([webhook(1, ["user.*"], false), webhook(2, ["order.*"])])).toBe(1);
    expect(largestFanout([])).toBe(0);
  });

  it("is the most webhooks any one event type reaches (every type of the vocabulary tried)", () => {
    const NAMES = ["a", "a.b", "a.b.c", "b", "b.c"];
    const PATTERNS = ["a.*", "a.b.*", "b.*", "*"];
    const EVERY_TYPE = [...NAMES, "a.z", "a.b.z", "a.b.c.z", "b.z", "b.c.z", "z"];
    const hook = fc.record({ types: fc.array(fc.constantFrom(...NAMES, ...PATTERNS), { minLength: 1, maxLength: 4 }), active: fc.boolean() });
    fc.assert(
      fc.property(fc.array(hook, { maxLength: 10 }), (hooks) => {
        const webhooks = hooks.map((h, i) => webhook(i, h.types, h.active));
        const reach = (type: string) => webhooks.filter((w) => w.status === "active" && takesType(w.eventTypes, type)).length;
        expect(largestFanout(webhooks)).toBe(Math.max(0, ...EVERY_TYPE.map(reach)));
      }),
      { numRuns: 1000 },
    );
  });
});
