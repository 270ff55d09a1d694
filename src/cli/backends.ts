/**
 * @module Picks and builds the adapters behind the ports for this process: embedded
 * (SQLite in the data directory) when no server is configured, production (PostgreSQL,
 * Redis, Kafka) when all three are. Each registers its teardown, closed after the roles.
 */
import { KafkaEventLog } from "../adapters/kafka/event-log.ts";
import { MemoryRateLimiter } from "../adapters/memory/rate-limiter.ts";
import { createPool } from "../adapters/postgres/client.ts";
import { migrateUp as migratePostgres } from "../adapters/postgres/migrations.ts";
import { PostgresOutbox } from "../adapters/postgres/outbox.ts";
import { PostgresAccounts } from "../adapters/postgres/accounts.ts";
import { PostgresStore } from "../adapters/postgres/store.ts";
import { closeRedisClient, createRedisClient } from "../adapters/redis/client.ts";
import { RedisRateLimiter } from "../adapters/redis/rate-limiter.ts";
import { RedisRetrySchedule } from "../adapters/redis/retry-schedule.ts";
import { databasePath, openDatabase } from "../adapters/sqlite/database.ts";
import { WalSync } from "../adapters/sqlite/wal-sync.ts";
import { SqliteEventLog } from "../adapters/sqlite/event-log.ts";
import { migrateUp as migrateSqlite } from "../adapters/sqlite/migrations.ts";
import { SqliteRetrySchedule } from "../adapters/sqlite/retry-schedule.ts";
import { SqliteAccounts } from "../adapters/sqlite/accounts.ts";
import type { SecretBox } from "../adapters/secret-box.ts";
import { SqliteStore } from "../adapters/sqlite/store.ts";
import type { Accounts, EventLog, RateLimiter, RetrySchedule, Store } from "../domain/ports.ts";
import type { Config } from "../platform/config.ts";
import { durationMs } from "../platform/duration.ts";
import type { Lifecycle } from "../platform/lifecycle.ts";
import type { Logger } from "../platform/logger.ts";
import type { Metrics } from "../platform/metrics.ts";

export interface Backends {
  kind: "embedded" | "production";
  store: Store;
  accounts: Accounts;
  eventLog: EventLog;
  schedule: RetrySchedule;
  rateLimiter: RateLimiter;
  /** Starts background upkeep this process owns as an event producer (the Kafka outbox). */
  startProducerUpkeep(): void;
}

export interface BackendDeps {
  config: Config;
  lifecycle: Lifecycle;
  log: Logger;
  metrics: Metrics;
  /** Seals webhook secrets at rest (a box without keys keeps them as given). */
  secrets: SecretBox;
}

/** True when PostgreSQL, Redis and Kafka are configured (config validation makes it all or none). */
export function isProduction(config: Config): boolean {
  return config.database.url !== "";
}

export async function buildBackends(deps: BackendDeps): Promise<Backends> {
  return isProduction(deps.config) ? productionBackends(deps) : embeddedBackends(deps);
}

/** Embedded backends on one SQLite file. */
function embeddedBackends({ config, lifecycle, log, secrets }: BackendDeps): Backends {
  // Two connections to one file: accepted events are committed with the configured durability
  // (FULL: the WAL fsynced before 202, off the event loop by WalSync); delivery bookkeeping with
  // NORMAL, which survives a process crash and at worst, after power loss, re-sends an event
  // whose outcome was not yet on disk.
  const db = openDatabase({ dataDir: config.database.data_dir, synchronous: "NORMAL" });
  lifecycle.onStop("sqlite", () => db.close());
  const eventsDb = openDatabase({ dataDir: config.database.data_dir, synchronous: "NORMAL" });
  const walSync = config.database.sqlite_synchronous === "FULL" ? new WalSync(`${databasePath(config.database.data_dir)}-wal`) : undefined;
  lifecycle.onStop("sqlite event log", () => eventsDb.close());
  if (config.database.auto_migrate) {
    const applied = migrateSqlite(db);
    if (applied.length > 0) log.info({ migrations: applied.map((m) => `${m.version}_${m.name}`) }, "migrations applied");
  }
  return {
    kind: "embedded",
    store: new SqliteStore(db, secrets),
    accounts: new SqliteAccounts(db),
    eventLog: new SqliteEventLog(eventsDb, walSync),
    schedule: new SqliteRetrySchedule(db),
    rateLimiter: new MemoryRateLimiter(),
    startProducerUpkeep: () => {},
  };
}

/** PostgreSQL for configuration and history, Redis for retries and rate limits, Kafka for the event stream. */
async function productionBackends({ config, lifecycle, log, metrics, secrets }: BackendDeps): Promise<Backends> {
  const sql = createPool({ url: config.database.url, maxConnections: config.database.max_connections, applicationName: "hookrelay" });
  lifecycle.onStop("postgres", () => sql.end({ timeout: 5 }));
  if (config.database.auto_migrate) {
    const applied = await migratePostgres(sql);
    if (applied.length > 0) log.info({ migrations: applied.map((m) => `${m.version}_${m.name}`) }, "migrations applied");
  }

  const redisLog = log.child({ component: "redis" });
  const redis = createRedisClient(config.redis.url, { connectionName: "hookrelay", onError: (err) => redisLog.warn({ err }, "redis connection error") });
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
  await eventLog.ensureTopic();

  return {
    kind: "production",
    store: new PostgresStore(sql, secrets),
    accounts: new PostgresAccounts(sql),
    eventLog,
    schedule: new RedisRetrySchedule(redis, { keyPrefix: config.redis.key_prefix }),
    rateLimiter: new RedisRateLimiter(redis, { keyPrefix: config.redis.key_prefix }),
    startProducerUpkeep: () => eventLog.startRepublishing(),
  };
}
