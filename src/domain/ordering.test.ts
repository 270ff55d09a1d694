/** @module Unit tests of ordered delivery's queues: which ordering key an event joins, and which paths a webhook may name. */
import { describe, expect, it } from "bun:test";
import { NEW_WEBHOOK_STATE, type Webhook } from "./model.ts";
import { orderingKeyProblems, orderKeyOf } from "./ordering.ts";

const webhook = (key: string | null): Webhook => ({
  id: "wh_1",
  customerId: "c",
  url: "https://example.com",
  eventTypes: ["*"],
  headers: {},
  description: null,
  secret: "whsec_x",
  status: "active",
  ...NEW_WEBHOOK_STATE,
  ordering: { key, sinceSeq: 0 },
  createdAt: "2026-12-05T00:00:00.000Z",
  updatedAt: "2026-12-05T00:00:00.000Z",
});

const event = (data: unknown) => ({
  customerId: "c",
  id: "evt_1",
  type: "account.updated",
  source: "billing",
  timestamp: "2026-12-05T00:00:00.000Z",
  payload: JSON.stringify({ id: "evt_1", type: "account.updated", source: "billing", data, timestamp: "2026-12-05T00:00:00.000Z" }),
  acceptedAt: 0,
});

describe("orderKeyOf", () => {
  it.each([
    ["no key: the webhook's one queue", null, { account: "a" }, ""],
    ["a string", "data.account", { account: "acc_1" }, "acc_1"],
    ["a number, as text", "data.account", { account: 42 }, "42"],
    ["a boolean, as text", "data.flag", { flag: false }, "false"],
    ["nested", "data.customer.id", { customer: { id: "cus_9" } }, "cus_9"],
    ["a top-level field", "type", {}, "account.updated"],
    ["missing: the default queue", "data.account", { other: 1 }, ""],
    ["an object there: the default queue", "data.account", { account: { id: 1 } }, ""],
    ["null there: the default queue", "data.account", { account: null }, ""],
    ["through an array: the default queue", "data.list.id", { list: [{ id: 1 }] }, ""],
    ["data not an object: the default queue", "data.account", "text", ""],
  ])("%s", (_, key, data, expected) => {
    expect(orderKeyOf(webhook(key), event(data))).toBe(expected);
  });

  it("cuts a long value to 256 characters", () => {
    expect(orderKeyOf(webhook("data.account"), event({ account: "x".repeat(1000) }))).toHaveLength(256);
  });
});

describe("orderingKeyProblems", () => {
  it.each(["data.account_id", "type", "source", "id", "timestamp", "data.a.b.c.d.e.f.g", "data.customer-id"])("accepts %s", (path) => {
    expect(orderingKeyProblems(path)).toEqual([]);
  });

  it.each([
    ["payload.account", "must start with one of id, type, source, data, timestamp"],
    ["data..account", "is not a dot path of names"],
    ["data.acc ount", "is not a dot path of names"],
    ["", "is not a dot path of names"],
    ["data.a.b.c.d.e.f.g.h", "has more than 8 segments"],
    [`data.${"x".repeat(65)}`, "is not a dot path of names"],
  ])("refuses %p, naming it", (path, problem) => {
    const problems = orderingKeyProblems(path);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith(`ordering_key: '${path}'`);
    expect(problems[0]).toContain(problem);
  });
});
