/**
 * @module Runs the RetrySchedule and RateLimiter contracts on the Redis adapters, plus what only
 * Redis has: claims from several connections, a worker that dies, a Redis crash and restart.
 * Needs HOOKRELAY_TEST_REDIS_URL (`bun run test` sets it after `services:up`); every test uses
 * its own key prefix and deletes its keys.
 */
import { afterAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeRedisClient, createRedisClient, type Redis } from "../../src/adapters/redis/client.ts";
import { RedisConcurrencyLimiter } from "../../src/adapters/redis/concurrency-limiter.ts";
import { RedisRateLimiter } from "../../src/adapters/redis/rate-limiter.ts";
import { RedisRetrySchedule } from "../../src/adapters/redis/retry-schedule.ts";
import { UnavailableError } from "../../src/domain/errors.ts";
import { requireServices } from "../helpers/services.ts";
import { describeConcurrencyLimiterContract } from "./concurrency-limiter.contract.ts";
import { describeRateLimiterContract } from "./rate-limiter.contract.ts";
import { describeRetryScheduleContract } from "./retry-schedule.contract.ts";

const REDIS_URL = process.env.HOOKRELAY_TEST_REDIS_URL;

if (requireServices("Redis", { HOOKRELAY_TEST_REDIS_URL: REDIS_URL })) describeRedisSuites(REDIS_URL!);

/** A key prefix no other test, file or process uses. */
function freshPrefix(): string {
  return `hr-test-${process.pid}-${crypto.randomUUID().slice(0, 8)}:`;
}

/** Deletes every key under `prefix`. */
async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== "0");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function describeRedisSuites(url: string): void {
  const clients: Redis[] = [];
  /** A client closed after the file; tests that need separate connections ask for several. */
  const client = (name = "hookrelay-test") => {
    const redis = createRedisClient(url, { connectionName: name });
    clients.push(redis);
    return redis;
  };
  const shared = client();

  afterAll(async () => {
    await Promise.all(clients.map((c) => closeRedisClient(c)));
  });

  describeRetryScheduleContract("redis", async () => {
    const keyPrefix = freshPrefix();
    return { schedule: new RedisRetrySchedule(shared, { keyPrefix }), close: () => deleteKeys(shared, keyPrefix) };
  });

  describeRateLimiterContract("redis", async () => {
    const keyPrefix = freshPrefix();
    return { limiter: new RedisRateLimiter(shared, { keyPrefix }), close: () => deleteKeys(shared, keyPrefix) };
  });

  describeConcurrencyLimiterContract("redis", async () => {
    const keyPrefix = freshPrefix();
    return { limiter: new RedisConcurrencyLimiter(shared, { keyPrefix }), close: () => deleteKeys(shared, keyPrefix) };
  });

  describe("redis retry schedule", () => {
    const T = 1_800_000_000_000;
    const LEASE = 60_000;

    it("keeps the schedule in one sorted set under the prefix, scored by due time", async () => {
      const keyPrefix = freshPrefix();
      try {
        const schedule = new RedisRetrySchedule(shared, { keyPrefix });
        await schedule.schedule([{ deliveryId: "del_1", dueAt: T + 5 }]);
        expect(await shared.keys(`${keyPrefix}*`)).toEqual([`${keyPrefix}retry:due`]);
        expect(Number(await shared.zscore(`${keyPrefix}retry:due`, "del_1"))).toBe(T + 5);
        await schedule.claim(T + 5, 1, LEASE);
        // Claimed: still in the set, scored at the lease end.
        expect(Number(await shared.zscore(`${keyPrefix}retry:due`, "del_1"))).toBe(T + 5 + LEASE);
      } finally {
        await deleteKeys(shared, keyPrefix);
      }
    });

    it("never hands the same item to two of 20 parallel claims on 4 connections over 500 items", async () => {
      const keyPrefix = freshPrefix();
      try {
        const ids = Array.from({ length: 500 }, (_, i) => `del_${String(i).padStart(3, "0")}`);
        await new RedisRetrySchedule(shared, { keyPrefix }).schedule(ids.map((deliveryId, i) => ({ deliveryId, dueAt: T - 1000 + (i % 37) })));
        const workers = Array.from({ length: 4 }, (_, i) => new RedisRetrySchedule(client(`hookrelay-test-claimer-${i}`), { keyPrefix }));
        const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => workers[i % 4]!.claim(T, 30, LEASE)));
        const claimed = claims.flatMap((c) => c.map((item) => item.deliveryId));
        expect(new Set(claimed).size).toBe(claimed.length);
        expect(claimed.sort()).toEqual(ids);
        // Every claim got the lowest due times still free when it ran.
        for (const c of claims) expect(c.map((item) => item.dueAt)).toEqual(c.map((item) => item.dueAt).sort((a, b) => a - b));
        expect(await workers[0]!.claim(T, 30, LEASE)).toEqual([]);
        expect(await workers[0]!.depth()).toBe(500);
      } finally {
        await deleteKeys(shared, keyPrefix);
      }
    });

    it("hands an item claimed by a worker that died to another worker once the lease ends", async () => {
      const keyPrefix = freshPrefix();
      const doomed = client("hookrelay-test-doomed");
      try {
        const survivor = new RedisRetrySchedule(client("hookrelay-test-survivor"), { keyPrefix });
        await survivor.schedule([{ deliveryId: "del_1", dueAt: Date.now() - 1 }]);
        const claimed = await new RedisRetrySchedule(doomed, { keyPrefix }).claim(Date.now(), 10, 300);
        expect(claimed.map((item) => item.deliveryId)).toEqual(["del_1"]);
        doomed.disconnect(); // dies without completing
        expect(await survivor.claim(Date.now(), 10, 300)).toEqual([]);
        await sleep(350);
        expect((await survivor.claim(Date.now(), 10, 300)).map((item) => item.deliveryId)).toEqual(["del_1"]);
        await survivor.complete(["del_1"]);
        expect(await survivor.depth()).toBe(0);
      } finally {
        await deleteKeys(shared, keyPrefix);
      }
    });

    it("schedules, claims and completes thousands of items in one call each", async () => {
      const keyPrefix = freshPrefix();
      try {
        const schedule = new RedisRetrySchedule(shared, { keyPrefix });
        const items = Array.from({ length: 2500 }, (_, i) => ({ deliveryId: `del_${i}`, dueAt: T - 10_000 + i }));
        await schedule.schedule(items);
        expect(await schedule.depth()).toBe(2500);
        const claimed = await schedule.claim(T, 1200, LEASE);
        expect(claimed).toEqual(items.slice(0, 1200));
        expect((await schedule.claim(T, 5000, LEASE)).length).toBe(1300);
        await schedule.complete(items.map((item) => item.deliveryId));
        expect(await schedule.depth()).toBe(0);
        expect(await shared.exists(schedule.key)).toBe(0);
      } finally {
        await deleteKeys(shared, keyPrefix);
      }
    });
  });

  describe("redis rate limiter", () => {
    const T = 1_800_000_000_000;

    it("shares a bucket between processes (separate connections)", async () => {
      const keyPrefix = freshPrefix();
      try {
        const a = new RedisRateLimiter(client("hookrelay-test-a"), { keyPrefix });
        const b = new RedisRateLimiter(client("hookrelay-test-b"), { keyPrefix });
        const limit = { capacity: 3, refillPerSecond: 1 };
        expect(await a.take("customer:1", limit, 2, T)).toMatchObject({ allowed: true, remaining: 1 });
        expect(await b.take("customer:1", limit, 2, T)).toMatchObject({ allowed: false, remaining: 1, retryAfterMs: 1000 });
      } finally {
        await deleteKeys(shared, keyPrefix);
      }
    });

    it("lets a bucket's key expire when it would be full, and keeps no key for a full bucket", async () => {
      const keyPrefix = freshPrefix();
      try {
        const limiter = new RedisRateLimiter(shared, { keyPrefix });
        const limit = { capacity: 10, refillPerSecond: 2 };
        const decision = await limiter.take("k", limit, 4, T);
        expect(decision.resetMs).toBe(2000);
        const ttl = await shared.pttl(limiter.bucketKey("k"));
        expect(ttl).toBeGreaterThan(1900);
        expect(ttl).toBeLessThanOrEqual(2000);
        await limiter.take("full", limit, 0, T);
        await limiter.take("too-much", limit, 11, T);
        expect(await shared.exists(limiter.bucketKey("full"), limiter.bucketKey("too-much"))).toBe(0);
      } finally {
        await deleteKeys(shared, keyPrefix);
      }
    });
  });

  describe("redis client", () => {
    it("fails fast with a 503 UnavailableError while Redis is unreachable", async () => {
      const port = await freePort();
      const down = createRedisClient(`redis://127.0.0.1:${port}`, { commandTimeoutMs: 1000 });
      clients.push(down);
      const schedule = new RedisRetrySchedule(down, { keyPrefix: freshPrefix() });
      const started = performance.now();
      const err = await schedule.ping().catch((e) => e);
      expect(err).toBeInstanceOf(UnavailableError);
      expect(err.status).toBe(503);
      expect(err.message).toStartWith("redis unavailable");
      expect(await schedule.claim(Date.now(), 10, 1000).catch((e) => e)).toBeInstanceOf(UnavailableError);
      expect(performance.now() - started).toBeLessThan(2500);
    });

    it("survives a Redis crash and restart: fails fast while down, then serves again on its own, scripts reloaded", async () => {
      const server = await PrivateRedis.start();
      const redis = createRedisClient(server.url, { commandTimeoutMs: 1000, maxReconnectDelayMs: 200 });
      clients.push(redis);
      try {
        const schedule = new RedisRetrySchedule(redis, { keyPrefix: "hookrelay:" });
        const limiter = new RedisRateLimiter(redis, { keyPrefix: "hookrelay:" });
        const now = Date.now();
        await schedule.schedule(Array.from({ length: 10 }, (_, i) => ({ deliveryId: `del_${i}`, dueAt: now - 100 + i })));
        expect((await schedule.claim(now, 3, 60_000)).length).toBe(3);

        await server.kill();
        const started = performance.now();
        expect(await schedule.ping().catch((e) => e)).toBeInstanceOf(UnavailableError);
        expect(await schedule.claim(now, 3, 60_000).catch((e) => e)).toBeInstanceOf(UnavailableError);
        expect(await limiter.take("k", { capacity: 1, refillPerSecond: 1 }, 1, now).catch((e) => e)).toBeInstanceOf(UnavailableError);
        expect(performance.now() - started).toBeLessThan(3000);

        await server.restart();
        await waitFor(() => schedule.ping(), 5000);
        // The append-only file kept every item and lease; the script cache is empty after a
        // restart, so this claim also proves the script is loaded again.
        expect(await schedule.depth()).toBe(10);
        expect((await schedule.claim(now, 100, 120_000)).map((item) => item.deliveryId)).toEqual(["del_3", "del_4", "del_5", "del_6", "del_7", "del_8", "del_9"]);
        await redis.script("FLUSH");
        expect(await schedule.claim(now + 60_000, 100, 60_000)).toHaveLength(3);
        expect(await limiter.take("k", { capacity: 1, refillPerSecond: 1 }, 1, now)).toMatchObject({ allowed: true });
      } finally {
        await closeRedisClient(redis);
        await server.stop();
      }
    }, 30_000);
  });
}

/** A port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Retries `fn` until it resolves or `timeoutMs` has passed. */
async function waitFor(fn: () => Promise<unknown>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fn();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
}

/** A redis-server of this test's own (never the shared one), with an fsync-always append-only file so a crash keeps the data. */
class PrivateRedis {
  private proc: ReturnType<typeof Bun.spawn> | undefined;

  private constructor(
    private readonly binary: string,
    private readonly port: number,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<PrivateRedis> {
    const binary = Bun.which("redis-server") ?? Bun.which("redis-server", { PATH: "/usr/bin:/usr/sbin:/usr/local/bin" });
    if (!binary) throw new Error("redis-server is not installed: `bun run services:up` installs it");
    const server = new PrivateRedis(binary, await freePort(), mkdtempSync(join(tmpdir(), "hookrelay-redis-")));
    await server.restart();
    return server;
  }

  /** Starts (again) on the same port and data directory, and waits until it accepts connections. */
  async restart(): Promise<void> {
    this.proc = Bun.spawn([this.binary, "--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always"], {
      stdout: "ignore",
      stderr: "inherit",
    });
    const probe = createRedisClient(this.url, { maxReconnectDelayMs: 50 });
    try {
      await waitFor(() => probe.ping(), 5000);
    } finally {
      await closeRedisClient(probe);
    }
  }

  /** A crash: SIGKILL, no shutdown. */
  async kill(): Promise<void> {
    this.proc?.kill("SIGKILL");
    await this.proc?.exited;
    this.proc = undefined;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
