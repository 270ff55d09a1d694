/** @module Ingest's schema checks: compiled once per customer, read again in the background when stale, at once after a change here. */
import { describe, expect, it } from "bun:test";
import type { Event, EventType, Page } from "../../domain/model.ts";
import { createLogger } from "../../platform/logger.ts";
import { EventSchemas } from "./schemas.ts";

const eventType = (name: string, schema: Record<string, unknown> | null): EventType => ({ customerId: "acme", name, description: "", schema, examples: [], createdAt: "t", updatedAt: "t" });
const event = (type: string, data: unknown): Event => ({
  customerId: "acme",
  id: "e",
  type,
  source: "s",
  timestamp: "t",
  payload: JSON.stringify({ id: "e", type, source: "s", data, timestamp: "t" }),
  acceptedAt: 0,
});

/** A catalog port over a list that the test changes, counting its reads. */
function catalogOf(types: EventType[]) {
  const store = {
    types,
    reads: 0,
    async list(_customer: string, limit: number, cursor = ""): Promise<Page<EventType>> {
      store.reads++;
      const after = store.types.filter((t) => t.name > cursor).sort((a, b) => a.name.localeCompare(b.name));
      return { data: after.slice(0, limit), nextCursor: after.length > limit ? after[limit - 1]!.name : null };
    },
  };
  return store;
}

describe("EventSchemas", () => {
  const log = createLogger("silent");

  it("checks a typed event's data and lets other types through; reads a customer's catalog once while fresh", async () => {
    const store = catalogOf([eventType("order.created", { type: "object", required: ["id"] }), eventType("free", null)]);
    const schemas = new EventSchemas(store, log, 1000, () => 0);
    const check = await schemas.checkerFor("acme");
    expect(() => check(event("order.created", {}), "")).toThrow("data: must have required property 'id' (the schema of event type 'order.created')");
    expect(() => check(event("order.created", {}), "events[4].")).toThrow("events[4].data: must have required property 'id'");
    check(event("order.created", { id: 1 }), "");
    check(event("free", "anything"), "");
    check(event("unknown", 42), "");
    await schemas.checkerFor("acme");
    expect(store.reads).toBe(1);
  });

  it("reads again in the background once stale (checking with the old meanwhile), and at once after `changed`", async () => {
    let now = 0;
    const store = catalogOf([eventType("t", { type: "number" })]);
    const schemas = new EventSchemas(store, log, 1000, () => now);
    await schemas.checkerFor("acme");
    expect(store.reads).toBe(1);
    store.types = [eventType("t", { type: "string" })];
    now = 999;
    // Still fresh: the old schema, and no read.
    await expect((async () => (await schemas.checkerFor("acme"))(event("t", "x"), ""))()).rejects.toThrow("must be number");
    expect(store.reads).toBe(1);
    now = 1000;
    // Stale: this check still uses the old schema (the read goes on in the background) ...
    const stale = await schemas.checkerFor("acme");
    await Bun.sleep(0);
    // ... and the next one the new.
    (await schemas.checkerFor("acme"))(event("t", "x"), "");
    expect(() => stale(event("t", "x"), "")).toThrow("must be number");
    store.types = [eventType("t", { type: "boolean" })];
    schemas.changed("acme");
    await expect((async () => (await schemas.checkerFor("acme"))(event("t", "x"), ""))()).rejects.toThrow("must be boolean");
  });

  it("compiles two schemas of one catalog with the same $id each on its own", async () => {
    const store = catalogOf([eventType("a", { $id: "https://example.com/same.json", type: "number" }), eventType("b", { $id: "https://example.com/same.json", type: "string" })]);
    const check = await new EventSchemas(store, log).checkerFor("acme");
    check(event("a", 1), "");
    check(event("b", "x"), "");
    expect(() => check(event("b", 1), "")).toThrow("must be string");
  });
});
