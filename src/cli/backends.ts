/**
 * @module Picks and builds the adapters behind the ports for this process: embedded
 * (SQLite in the data directory) when no server is configured, production (PostgreSQL,
 * Redis, Kafka) when all three are, each waited for until it is ready (./backend-wait.ts).
 * Each registers its teardown, closed after the roles.
 */
import { findErrorBy } from "@platformatic/kafka";
import { KafkaEventLog } from "../adapters/kafka/event-log.ts";
import { MemoryConcurrencyLimiter } from "../adapters/memory/concurrency-limiter.ts";
import { MemoryRateLimiter } from "../adapters/memory/rate-limiter.ts";
import { PostgresAccounts } from "../adapters/postgres/accounts.ts";
import { createPool, pingPostgres } from "../adapters/postgres/client.ts";
import { migrateUp as migratePostgres } from "../adapters/postgres/migrations.ts";
import { PostgresOutbox } from "../adapters/postgres/outbox.ts";
import { PostgresStore } from "../adapters/postgres/store.ts";
import { closeRedisClient, createRedisClient } from "../adapters/redis/client.ts";
import { RedisConcurrencyLimiter } from "../adapters/redis/concurrency-limiter.ts";
import { RedisRateLimiter } from "../adapters/redis/rate-limiter.ts";
import { RedisRetrySchedule } from "../adapters/redis/retry-schedule.ts";
import type { SecretBox } from "../adapters/secret-box.ts";
import { SqliteAccounts } from "../adapters/sqlite/accounts.ts";
import { databasePath, openDatabase } from "../adapters/sqlite/database.ts";
import { SqliteEventLog } from "../adapters/sqlite/event-log.ts";
import { migrateUp as migrateSqlite } from "../adapters/sqlite/migrations.ts";
import { SqliteRetrySchedule } from "../adapters/sqlite/retry-schedule.ts";
import { ShardedEventLog, ShardLink } from "../adapters/sqlite/shard-link.ts";
import { ShardedAccounts, ShardedSchedule, ShardedStore } from "../adapters/sqlite/sharded-store.ts";
import { checkShardCount, shardSocketPath } from "../adapters/sqlite/shards.ts";
import { SqliteStore } from "../adapters/sqlite/store.ts";
import { WalSync } from "../adapters/sqlite/wal-sync.ts";
import type { Accounts, ConcurrencyLimiter, EventLog, RateLimiter, RetrySchedule, Store } from "../domain/ports.ts";
import type { Config } from "../platform/config.ts";
import { durationMs } from "../platform/duration.ts";
import type { Lifecycle } from "../platform/lifecycle.ts";
import type { Logger } from "../platform/logger.ts";
import type { Metrics } from "../platform/metrics.ts";
import { type BackendWait, type Readiness, StartupProblem } from "./backend-wait.ts";

export interface Backends {
  kind: "embedded" | "production";
  store: Store;
  accounts: Accounts;
  eventLog: EventLog;
  schedule: RetrySchedule;
  rateLimiter: RateLimiter;
  /** Webhooks' `max_in_flight` over every dispatcher. */
  concurrencyLimiter: ConcurrencyLimiter;
  /** Starts background upkeep this process owns as an event producer (the Kafka outbox). */
  startProducerUpkeep(): void;
  /**
   * Embedded shards: this process's own shard, which its delivery roles work on (the ports above
   * then span every shard, for the API). Absent otherwise: the delivery roles use the ports above.
   */
  own?: { store: Store; schedule: RetrySchedule; eventLog: EventLog };
}

/** Which embedded shard this process is, of how many (src/adapters/sqlite/shards.ts). */
export interface ShardPlace {
  index: number;
  count: number;
}

export interface BackendDeps {
  config: Config;
  lifecycle: Lifecycle;
  log: Logger;
  metrics: Metrics;
  /** Seals webhook secrets at rest (a box without keys keeps them as given). */
  secrets: SecretBox;
  /** Production: waits for each server until it is ready instead of failing at the first try. */
  wait?: BackendWait;
  /** Embedded: the shard this process owns; one shard (the single file) when absent. */
  shard?: ShardPlace;
}

/** True when PostgreSQL, Redis and Kafka are configured (config validation makes it all or none). */
export function isProduction(config: Config): boolean {
  return config.database.url !== "";
}

export async function buildBackends(deps: BackendDeps): Promise<Backends> {
  return isProduction(deps.config) ? productionBackends(deps) : embeddedBackends(deps);
}

/** Embedded backends on SQLite: one file, or this process's shard of several (docs/every-core.md). */
function embeddedBackends({ config, lifecycle, log, secrets, shard = { index: 0, count: 1 } }: BackendDeps): Backends {
  const dataDir = config.database.data_dir;
  const open = (file: number) => {
    const db = openDatabase({ dataDir, synchronous: "NORMAL", shard: file });
    lifecycle.onStop(`sqlite ${file}`, () => db.close());
    return db;
  };
  // Two connections to one file: accepted events are committed with the configured durability
  // (FULL: the WAL fsynced before 202 by WalSync, on a thread of its own); delivery bookkeeping with
  // NORMAL, which survives a process crash and at worst, after power loss, re-sends an event
  // whose outcome was not yet on disk.
  const db = open(shard.index);
  const eventsDb = open(shard.index);
  const walSync = config.database.sqlite_synchronous === "FULL" ? new WalSync(`${databasePath(dataDir, shard.index)}-wal`) : undefined;
  if (walSync) lifecycle.onStop("wal fsync thread", () => walSync.close());
  // Shards: the supervisor migrated every file before starting them (src/cli/shards.ts).
  if (config.database.auto_migrate && shard.count === 1) {
    const applied = migrateSqlite(db);
    if (applied.length > 0) log.info({ migrations: applied.map((m) => `${m.version}_${m.name}`) }, "migrations applied");
  }
  if (shard.count === 1) checkShardCount(db, 1);
  const store = new SqliteStore(db, secrets);
  const accounts = new SqliteAccounts(db);
  const eventLog = new SqliteEventLog(eventsDb, walSync);
  const schedule = new SqliteRetrySchedule(db);
  // One process has all of a webhook's deliveries (one customer's are on one shard): in memory.
  const common = { kind: "embedded" as const, rateLimiter: new MemoryRateLimiter(), concurrencyLimiter: new MemoryConcurrencyLimiter(), startProducerUpkeep: () => {} };
  if (shard.count === 1) return { ...common, store, accounts, eventLog, schedule };
  // The API's view spans every shard's file; this shard's own adapters serve its part of it.
  const files = Array.from({ length: shard.count }, (_, i) => (i === shard.index ? db : open(i)));
  const stores = files.map((file) => (file === db ? store : new SqliteStore(file, secrets)));
  const spanning = new ShardedStore(stores);
  return {
    ...common,
    store: spanning,
    accounts: new ShardedAccounts(
      files.map((file) => (file === db ? accounts : new SqliteAccounts(file))),
      shard.index,
    ),
    eventLog: new ShardedEventLog(
      shard.index,
      eventLog,
      files.map((_, i) => new ShardLink(i, shardSocketPath(dataDir, i))),
    ),
    schedule: new ShardedSchedule(
      files.map((file) => (file === db ? schedule : new SqliteRetrySchedule(file))),
      (id) => spanning.shardOfDelivery(id),
    ),
    own: { store, schedule, eventLog },
  };
}

/**
 * What is wrong with the production settings that no server could fix: a URL of the wrong kind,
 * a broker without its port, a topic name Kafka refuses. Never quotes a URL (it may hold a password).
 */
export function productionSettingsProblem(config: Config): string | null {
  const problems: string[] = [];
  if (!/^postgres(ql)?:\/\/./i.test(config.database.url)) problems.push("database.url (DATABASE_URL): not a PostgreSQL URL; expected postgres://user:password@host:5432/database");
  if (!/^rediss?:\/\/./i.test(config.redis.url)) problems.push("redis.url (REDIS_URL): not a Redis URL; expected redis://[user:password@]host:6379[/db] or rediss://");
  for (const broker of config.kafka.brokers) if (!/^(\[[0-9a-f:.]+\]|[^\s:/@[\]]+):\d{1,5}$/i.test(broker)) problems.push(`kafka.brokers (KAFKA_BROKERS): '${broker}' is not host:port`);
  const topic = config.kafka.topic;
  if (!/^[a-zA-Z0-9._-]{1,249}$/.test(topic) || topic === "." || topic === "..") problems.push(`kafka.topic: '${topic}' is not a Kafka topic name (up to 249 of a-z, A-Z, 0-9, '.', '_', '-')`);
  return problems.length > 0 ? problems.join("; ") : null;
}

/** A client built from a setting; a setting its library cannot even parse is a configuration problem. */
function fromSetting<T>(setting: string, build: () => T): T {
  try {
    return build();
  } catch (err) {
    throw new StartupProblem(`${setting}: not a valid URL (${(err as Error).message})`);
  }
}

/** PostgreSQL refusals no retry changes: credentials or access (class 28), an unknown database, missing privileges or a bad statement (class 42). */
function postgresFatal(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && (/^(28|42)/.test(code) || code === "3D000" || code === "SASL_SIGNATURE_MISMATCH");
}

/** Redis refusing the credentials or the commands. */
function redisFatal(err: unknown): boolean {
  return /^(WRONGPASS|NOAUTH|NOPERM)\b/.test((err as Error)?.message ?? "");
}

/** Kafka refusing access, the topic name or its settings (not a replication factor: brokers may still be joining). */
const KAFKA_FATAL = ["TOPIC_AUTHORIZATION_FAILED", "CLUSTER_AUTHORIZATION_FAILED", "SASL_AUTHENTICATION_FAILED", "INVALID_TOPIC_EXCEPTION", "INVALID_PARTITIONS", "INVALID_CONFIG", "POLICY_VIOLATION"];
function kafkaFatal(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return findErrorBy(err, "code", "PLT_KFK_AUTHENTICATION") !== null || KAFKA_FATAL.some((id) => findErrorBy(err, "apiId", id) !== null);
}

/**
 * PostgreSQL for configuration and history, Redis for retries and rate limits, Kafka for the event
 * stream. With `wait`, each is tried until it is ready (migrated, answering, the topic there);
 * without, once.
 */
async function productionBackends({ config, lifecycle, log, metrics, secrets, wait }: BackendDeps): Promise<Backends> {
  const problem = productionSettingsProblem(config);
  if (problem) throw new StartupProblem(problem);
  const sql = fromSetting("database.url (DATABASE_URL)", () => createPool({ url: config.database.url, maxConnections: config.database.max_connections, applicationName: "hookrelay" }));
  lifecycle.onStop("postgres", () => sql.end({ timeout: 5 }));

  const redisLog = log.child({ component: "redis" });
  // While the start waits for Redis it logs each failure itself; the client's own reports are the cause it names.
  let redisWaited = false;
  let redisError: Error | undefined;
  const redis = fromSetting("redis.url (REDIS_URL)", () =>
    createRedisClient(config.redis.url, {
      connectionName: "hookrelay",
      onError: (err) => {
        redisError = err;
        if (redisWaited) redisLog.warn({ err }, "redis connection error");
      },
    }),
  );
  lifecycle.onStop("redis", () => closeRedisClient(redis));

  const eventLog = new KafkaEventLog(
    {
      brokers: config.kafka.brokers,
      topic: config.kafka.topic,
      partitions: config.kafka.partitions,
      clientId: "hookrelay",
      produceTimeoutMs: durationMs(config.kafka.produce_timeout),
      republishAfterMs: durationMs(config.kafka.republish_after),
    },
    new PostgresOutbox(sql),
    log.child({ component: "kafka" }),
    metrics,
  );
  lifecycle.onStop("kafka", () => eventLog.close());

  const steps: Readiness[] = [
    {
      backend: "PostgreSQL",
      component: "postgres",
      check: "store",
      setting: "database.url (DATABASE_URL)",
      attempt: async () => {
        if (!config.database.auto_migrate) return pingPostgres(sql);
        const applied = await migratePostgres(sql);
        if (applied.length > 0) log.info({ migrations: applied.map((m) => `${m.version}_${m.name}`) }, "migrations applied");
      },
      fatal: postgresFatal,
    },
    {
      backend: "Redis",
      component: "redis",
      check: "retry_schedule",
      setting: "redis.url (REDIS_URL)",
      attempt: async () => {
        try {
          const reply = await redis.ping();
          if (reply !== "PONG") throw new Error(`unexpected PING reply ${JSON.stringify(reply)}`);
        } catch (err) {
          // A command refused for want of a connection says only that; the connection's error says why.
          throw /max retries per request/i.test((err as Error).message) && redisError ? redisError : err;
        }
      },
      fatal: redisFatal,
    },
    { backend: "Kafka", component: "kafka", check: "event_log", setting: "kafka.brokers (KAFKA_BROKERS)", attempt: () => eventLog.ensureTopic(), fatal: kafkaFatal },
  ];
  if (wait) await wait.until(steps);
  else for (const step of steps) await step.attempt();
  redisWaited = true;

  return {
    kind: "production",
    store: new PostgresStore(sql, secrets),
    accounts: new PostgresAccounts(sql),
    eventLog,
    schedule: new RedisRetrySchedule(redis, { keyPrefix: config.redis.key_prefix }),
    rateLimiter: new RedisRateLimiter(redis, { keyPrefix: config.redis.key_prefix }),
    concurrencyLimiter: new RedisConcurrencyLimiter(redis, { keyPrefix: config.redis.key_prefix }),
    startProducerUpkeep: () => eventLog.startRepublishing(),
  };
}
