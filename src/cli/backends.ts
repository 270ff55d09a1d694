/** @module Picks and builds the adapters behind the ports for this process. */
import { openDatabase } from "../adapters/sqlite/database.ts";
import { SqliteEventLog } from "../adapters/sqlite/event-log.ts";
import { migrateUp } from "../adapters/sqlite/migrations.ts";
import { SqliteRetrySchedule } from "../adapters/sqlite/retry-schedule.ts";
import { SqliteStore } from "../adapters/sqlite/store.ts";
import type { EventLog, RetrySchedule, Store } from "../domain/ports.ts";
import type { Config } from "../platform/config.ts";
import type { Lifecycle } from "../platform/lifecycle.ts";
import type { Logger } from "../platform/logger.ts";

export interface Backends {
  kind: "embedded";
  store: Store;
  eventLog: EventLog;
  schedule: RetrySchedule;
}

/** Embedded backends on one SQLite file; closed last on shutdown (after migrations, when enabled). */
export function buildBackends(config: Config, lifecycle: Lifecycle, log: Logger): Backends {
  if (config.database.url || config.redis.url || config.kafka.brokers.length > 0)
    log.warn("DATABASE_URL, REDIS_URL and KAFKA_BROKERS are not supported yet; running on the embedded backends");
  // Two connections to one file: accepted events are committed with the configured durability
  // (FULL: fsync before 202); delivery bookkeeping with NORMAL, which survives a process crash
  // and at worst, after power loss, re-sends an event whose outcome was not yet on disk.
  const db = openDatabase({ dataDir: config.database.data_dir, synchronous: "NORMAL" });
  lifecycle.onStop("sqlite", () => db.close());
  const eventsDb = openDatabase({ dataDir: config.database.data_dir, synchronous: config.database.sqlite_synchronous });
  lifecycle.onStop("sqlite event log", () => eventsDb.close());
  if (config.database.auto_migrate) {
    const applied = migrateUp(db);
    if (applied.length > 0) log.info({ migrations: applied.map((m) => `${m.version}_${m.name}`) }, "migrations applied");
  }
  return { kind: "embedded", store: new SqliteStore(db), eventLog: new SqliteEventLog(eventsDb), schedule: new SqliteRetrySchedule(db) };
}
