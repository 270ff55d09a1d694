// Shards' pieces on real SQLite files and real Unix sockets: which shard owns a customer, the
// hand-over of another shard's events (outcomes in order, duplicates seen by the owner, a 503 with
// Retry-After when the owner is away), the API's merged reads, the owner lock and the shard count.
import { describe, expect, it } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { RateLimitedError, UnavailableError } from "../../domain/errors.ts";
import type { Event } from "../../domain/model.ts";
import { RateGate } from "../../platform/rate-gate.ts";
import { MemoryRateLimiter } from "../memory/rate-limiter.ts";
import { SqliteAccounts } from "./accounts.ts";
import { openDatabase } from "./database.ts";
import { SqliteEventLog } from "./event-log.ts";
import { migrateUp } from "./migrations.ts";
import { ShardedEventLog, ShardLink, serveShard } from "./shard-link.ts";
import { ShardedAccounts } from "./sharded-store.ts";
import { byShard, checkShardCount, holdShard, ShardCountError, shardOf, shardSocketPath } from "./shards.ts";

function shardFiles(count: number) {
  const dataDir = mkdtempSync(join(tmpdir(), "shards-"));
  const dbs = Array.from({ length: count }, (_, shard) => {
    const db = openDatabase({ dataDir, synchronous: "NORMAL", shard });
    migrateUp(db);
    return db;
  });
  return { dataDir, dbs };
}

/** A customer id that shard `shard` of `count` owns. */
function customerOn(shard: number, count: number, tag: string): string {
  for (let n = 0; ; n++) if (shardOf(`${tag}-${n}`, count) === shard) return `${tag}-${n}`;
}

const event = (customerId: string, id: string): Event => ({
  customerId,
  id,
  type: "t",
  source: "s",
  timestamp: "2026-12-05T00:00:00.000Z",
  payload: JSON.stringify({ id, type: "t", source: "s", data: {} }),
  acceptedAt: Date.now(),
});

describe("shards", () => {
  it("owns each customer by a fixed hash, spread over every shard", () => {
    expect(shardOf("default", 1)).toBe(0);
    expect(shardOf("default", 2)).toBe(Bun.hash.crc32("default") % 2);
    const owners = new Set(Array.from({ length: 200 }, (_, i) => shardOf(`c${i}`, 4)));
    expect([...owners].sort()).toEqual([0, 1, 2, 3]);
  });

  it("runs each shard's part once and puts the answers back in the items' order", async () => {
    const calls: [number, number[]][] = [];
    const answers = await byShard(
      [5, 2, 8, 1, 4],
      (n) => n % 2,
      async (shard, part) => {
        calls.push([shard, part]);
        return part.map((n) => n * 10);
      },
    );
    expect(answers).toEqual([50, 20, 80, 10, 40]);
    expect(calls.sort()).toEqual([
      [0, [2, 8, 4]],
      [1, [5, 1]],
    ]);
  });

  it("hands another shard's events to its owner over its socket, who dedupes them, and answers for its own itself", async () => {
    const { dataDir, dbs } = shardFiles(2);
    const owners = dbs.map((db) => new SqliteEventLog(db));
    const server = serveShard(shardSocketPath(dataDir, 1), { eventLog: owners[1]!, charge: async () => {}, metrics: async () => "m 1\n" });
    try {
      const links = [0, 1].map((i) => new ShardLink(i, shardSocketPath(dataDir, i)));
      const log = new ShardedEventLog(0, owners[0]!, links);
      const near = customerOn(0, 2, "near");
      const far = customerOn(1, 2, "far");
      // One batch mixing both shards, with a repeat of a far id inside it.
      const outcomes = await log.append([event(far, "a"), event(near, "a"), event(far, "b"), event(far, "a")]);
      expect(outcomes).toEqual(["accepted", "accepted", "accepted", "duplicate"]);
      expect(await log.append([event(far, "b"), event(near, "a")])).toEqual(["duplicate", "duplicate"]);
      const rows = (db: (typeof dbs)[number]) => db.query<{ customer_id: string; id: string }, []>("SELECT customer_id, id FROM events ORDER BY seq").all();
      expect(rows(dbs[1]!)).toEqual([
        { customer_id: far, id: "a" },
        { customer_id: far, id: "b" },
      ]);
      expect(rows(dbs[0]!)).toEqual([{ customer_id: near, id: "a" }]);
      expect(await (await fetch("http://shard/metrics", { unix: shardSocketPath(dataDir, 1) })).text()).toBe("m 1\n");
    } finally {
      await server.stop();
    }
  });

  it("charges each handed-over request to its customer's one bucket, kept by the owner: one refused, the rest of the turn taken", async () => {
    const { dataDir, dbs } = shardFiles(2);
    const gate = new RateGate(new MemoryRateLimiter(), { ingestPerIp: 0, ingestPerCustomer: 3, apiPerIp: 0, apiPerCustomer: 0, ownsCustomer: (id) => shardOf(id, 2) === 1 });
    const server = serveShard(shardSocketPath(dataDir, 1), { eventLog: new SqliteEventLog(dbs[1]!), charge: (id, n) => gate.byCustomer("ingest", id, n), metrics: async () => "" });
    try {
      const log = new ShardedEventLog(
        0,
        new SqliteEventLog(dbs[0]!),
        [0, 1].map((i) => new ShardLink(i, shardSocketPath(dataDir, i))),
      );
      const [far, other] = [customerOn(1, 2, "far"), customerOn(1, 2, "other")];
      // Three requests in one turn of the loop, so in one hand-over: far's second would go past its 3/s.
      const results = await Promise.allSettled([log.append([event(far, "1"), event(far, "2")]), log.append([event(far, "3"), event(far, "4")]), log.append([event(other, "1")])]);
      expect(results[0]).toEqual({ status: "fulfilled", value: ["accepted", "accepted"] });
      expect(results[1]!.status).toBe("rejected");
      const refused = (results[1] as PromiseRejectedResult).reason as RateLimitedError;
      expect(refused).toBeInstanceOf(RateLimitedError);
      expect(refused.status).toBe(429);
      expect(refused.message).toContain(`customer '${far}'`);
      expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(results[2]).toEqual({ status: "fulfilled", value: ["accepted"] });
      expect(dbs[1]!.query("SELECT id FROM events WHERE customer_id = ? ORDER BY seq").all(far)).toEqual([{ id: "1" }, { id: "2" }]);
      // The process that took the requests charges nobody else's bucket (the owner does).
      expect(await gate.byCustomer("ingest", customerOn(0, 2, "near"), 100)).toEqual({});
    } finally {
      await server.stop();
    }
  });

  // Property: whatever mix of customers, batch sizes, repeated ids, requests taken by the owner or
  // handed to it, and owner restarts: (1) a customer's accepted events never pass its one bucket
  // (capacity + refill over the run), (2) every event answered "accepted" or "duplicate" is in the
  // owner's file, (3) a refused or unanswered request stored nothing it was not answered for earlier.
  it("keeps each customer's bucket and every answered event, over random hand-overs and owner restarts", async () => {
    const PER_SECOND = 4;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            {
              weight: 6,
              arbitrary: fc.record({
                kind: fc.constant("send" as const),
                customer: fc.integer({ min: 0, max: 2 }),
                via: fc.integer({ min: 0, max: 1 }),
                ids: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 4 }),
              }),
            },
            { weight: 1, arbitrary: fc.record({ kind: fc.constant("restart" as const) }) },
          ),
          { minLength: 1, maxLength: 25 },
        ),
        async (steps) => {
          const { dataDir, dbs } = shardFiles(2);
          const customers = [0, 1, 2].map((c) => customerOn(1, 2, `p${c}`));
          const gate = new RateGate(new MemoryRateLimiter(), { ingestPerIp: 0, ingestPerCustomer: PER_SECOND, apiPerIp: 0, apiPerCustomer: 0, ownsCustomer: (id) => shardOf(id, 2) === 1 });
          const ownerLog = new SqliteEventLog(dbs[1]!);
          const serve = () => serveShard(shardSocketPath(dataDir, 1), { eventLog: ownerLog, charge: (id, n) => gate.byCustomer("ingest", id, n), metrics: async () => "" });
          let server: { stop(): Promise<void> } | undefined = serve();
          const links = [0, 1].map((i) => new ShardLink(i, shardSocketPath(dataDir, i)));
          // via 0: a process that hands over; via 1: the owner itself (charging its own bucket first, as ingest does).
          const takers = [
            new ShardedEventLog(0, new SqliteEventLog(dbs[0]!), links),
            { append: async (events: Event[]) => (await gate.byCustomer("ingest", events[0]!.customerId, events.length), ownerLog.append(events)) },
          ];
          const started = Date.now();
          const answered = new Set<string>();
          const accepted = new Map<string, number>();
          try {
            const inFlight: Promise<void>[] = [];
            for (const step of steps) {
              if (step.kind === "restart") {
                await Promise.allSettled(inFlight.splice(0));
                await server?.stop();
                server = undefined;
                // While it is away, a hand-over is a 503 and stores nothing.
                const away = await takers[0]!.append([event(customers[0]!, "away")]).catch((e) => e);
                expect(away).toBeInstanceOf(UnavailableError);
                server = serve();
                continue;
              }
              const customer = customers[step.customer]!;
              const batch = step.ids.map((n) => event(customer, `e${n}`));
              inFlight.push(
                (async () => {
                  try {
                    const outcomes = await (step.via === 0 ? takers[0]!.append(batch) : takers[1]!.append(batch));
                    outcomes.forEach((o, i) => {
                      answered.add(`${customer} ${batch[i]!.id}`);
                      if (o === "accepted") accepted.set(customer, (accepted.get(customer) ?? 0) + 1);
                    });
                  } catch (err) {
                    if (!(err instanceof RateLimitedError)) throw err;
                  }
                })(),
              );
            }
            await Promise.all(inFlight);
          } finally {
            await server?.stop();
          }
          const seconds = (Date.now() - started) / 1000;
          // Each request charges its whole batch (repeats included), so accepted events are bounded by the bucket.
          for (const [, n] of accepted) expect(n).toBeLessThanOrEqual(PER_SECOND + Math.ceil(PER_SECOND * seconds));
          const stored = new Set(
            dbs[1]!
              .query<{ customer_id: string; id: string }, []>("SELECT customer_id, id FROM events")
              .all()
              .map((r) => `${r.customer_id} ${r.id}`),
          );
          for (const key of answered) expect(stored.has(key)).toBe(true);
          // Nothing stored that no answer covered, and nothing in the file of the process that handed over.
          for (const key of stored) expect(answered.has(key)).toBe(true);
          expect(dbs[0]!.query("SELECT count(*) AS n FROM events").get()).toEqual({ n: 0 });
        },
      ),
      { numRuns: 25, seed: Number(process.env.HOOKRELAY_PROPERTY_SEED ?? Date.now() % 2 ** 31) },
    );
  }, 60_000);

  it("answers 503 with Retry-After when the owner is away, and accepts nothing", async () => {
    const { dataDir, dbs } = shardFiles(2);
    const log = new ShardedEventLog(
      0,
      new SqliteEventLog(dbs[0]!),
      [0, 1].map((i) => new ShardLink(i, shardSocketPath(dataDir, i))),
    );
    const far = customerOn(1, 2, "far");
    const err = await log.append([event(far, "x")]).catch((e) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).status).toBe(503);
    expect((err as UnavailableError).retryAfterSeconds).toBe(1);
    expect(dbs[1]!.query("SELECT count(*) AS n FROM events").get()).toEqual({ n: 0 });
  });

  it("finds an API key in whichever shard holds it, and pages customers over every shard in id order", async () => {
    const { dbs } = shardFiles(3);
    const accounts = new ShardedAccounts(
      dbs.map((db) => new SqliteAccounts(db)),
      0,
    );
    const ids = Array.from({ length: 9 }, (_, i) => `cust-${i}`);
    for (const id of ids) expect(await accounts.createCustomer({ id, name: id, createdAt: 0 })).toBe(true);
    expect(await accounts.createCustomer({ id: "cust-4", name: "again", createdAt: 0 })).toBe(false);
    for (const id of ids) expect(dbs[shardOf(id, 3)]!.query("SELECT count(*) AS n FROM customers WHERE id = ?").get(id)).toEqual({ n: 1 });
    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await accounts.listCustomers(2, cursor);
      seen.push(...page.data.map((c) => c.id));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(ids);
    const far = ids.find((id) => shardOf(id, 3) === 2)!;
    await accounts.createApiKey({ id: "key_1", customerId: far, name: "k", prefix: "hrk_x", hash: "h1", scopes: ["events:write"], createdAt: 1, expiresAt: null, revokedAt: null });
    expect((await accounts.apiKeyByHash("h1"))?.customerId).toBe(far);
    expect(await accounts.apiKeyByHash("nope")).toBeUndefined();
  });

  it("lets one process own a shard at a time: a second waits until the first lets go", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "shard-lock-"));
    const release = await holdShard(dataDir, 1, 1000, () => {});
    let waited = false;
    const second = holdShard(dataDir, 1, 5000, () => (waited = true));
    await Bun.sleep(300);
    expect(waited).toBe(true);
    release();
    (await second)();
    await expect(holdShard(dataDir, 2, 1000, () => {}).then((r) => r())).resolves.toBeUndefined();
  });

  it("keeps a data directory's shard count, and lets a fresh single file become shard 0", () => {
    const { dbs } = shardFiles(1);
    const control = dbs[0]!;
    checkShardCount(control, 1); // nothing stamped: the single file as before
    control.run("INSERT INTO customers (id, name, created_at) VALUES ('default', 'Default', 0)");
    checkShardCount(control, 4);
    checkShardCount(control, 4);
    expect(() => checkShardCount(control, 2)).toThrow(ShardCountError);
    expect(() => checkShardCount(control, 1)).toThrow("this data directory was written with 4");

    const used = shardFiles(1).dbs[0]!;
    used.run("INSERT INTO events (customer_id, id, type, source, timestamp, payload, accepted_at) VALUES ('c', 'e', 't', 's', 'x', '{}', 0)");
    expect(() => checkShardCount(used, 2)).toThrow("written by a single process and holds data");
  });
});
