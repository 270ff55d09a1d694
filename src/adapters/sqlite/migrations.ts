/** @module Numbered up/down SQL migrations for the embedded database, embedded in the binary. */
import type { Database } from "bun:sqlite";
import init_down from "../../../migrations/sqlite/0001_init.down.sql" with { type: "text" };
import init_up from "../../../migrations/sqlite/0001_init.up.sql" with { type: "text" };
import retention_down from "../../../migrations/sqlite/0002_retention_indexes.down.sql" with { type: "text" };
import retention_up from "../../../migrations/sqlite/0002_retention_indexes.up.sql" with { type: "text" };
import accounts_down from "../../../migrations/sqlite/0003_accounts.down.sql" with { type: "text" };
import accounts_up from "../../../migrations/sqlite/0003_accounts.up.sql" with { type: "text" };
import operator_reads_down from "../../../migrations/sqlite/0004_operator_reads.down.sql" with { type: "text" };
import operator_reads_up from "../../../migrations/sqlite/0004_operator_reads.up.sql" with { type: "text" };
import delivery_state_down from "../../../migrations/sqlite/0005_delivery_state.down.sql" with { type: "text" };
import delivery_state_up from "../../../migrations/sqlite/0005_delivery_state.up.sql" with { type: "text" };
import webhook_health_down from "../../../migrations/sqlite/0006_webhook_health.down.sql" with { type: "text" };
import webhook_health_up from "../../../migrations/sqlite/0006_webhook_health.up.sql" with { type: "text" };
import ordering_down from "../../../migrations/sqlite/0007_ordering.down.sql" with { type: "text" };
import ordering_up from "../../../migrations/sqlite/0007_ordering.up.sql" with { type: "text" };
import secret_rotation_down from "../../../migrations/sqlite/0008_secret_rotation.down.sql" with { type: "text" };
import secret_rotation_up from "../../../migrations/sqlite/0008_secret_rotation.up.sql" with { type: "text" };
import event_lists_down from "../../../migrations/sqlite/0009_event_lists.down.sql" with { type: "text" };
import event_lists_up from "../../../migrations/sqlite/0009_event_lists.up.sql" with { type: "text" };
import event_types_down from "../../../migrations/sqlite/0010_event_types.down.sql" with { type: "text" };
import event_types_up from "../../../migrations/sqlite/0010_event_types.up.sql" with { type: "text" };
import recovery_jobs_down from "../../../migrations/sqlite/0011_recovery_jobs.down.sql" with { type: "text" };
import recovery_jobs_up from "../../../migrations/sqlite/0011_recovery_jobs.up.sql" with { type: "text" };
import type { Migration, MigrationStatus } from "../migration.ts";

export type { Migration, MigrationStatus };

export const MIGRATIONS: Migration[] = [
  { version: 1, name: "init", up: init_up, down: init_down },
  { version: 2, name: "retention_indexes", up: retention_up, down: retention_down },
  { version: 3, name: "accounts", up: accounts_up, down: accounts_down },
  { version: 4, name: "operator_reads", up: operator_reads_up, down: operator_reads_down },
  { version: 5, name: "delivery_state", up: delivery_state_up, down: delivery_state_down },
  { version: 6, name: "webhook_health", up: webhook_health_up, down: webhook_health_down },
  { version: 7, name: "ordering", up: ordering_up, down: ordering_down },
  { version: 8, name: "secret_rotation", up: secret_rotation_up, down: secret_rotation_down },
  { version: 9, name: "event_lists", up: event_lists_up, down: event_lists_down },
  { version: 10, name: "event_types", up: event_types_up, down: event_types_down },
  { version: 11, name: "recovery_jobs", up: recovery_jobs_up, down: recovery_jobs_down },
];

function ensureTable(db: Database): void {
  db.run("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)");
}

function applied(db: Database): Map<number, string> {
  const rows = db.query<{ version: number; applied_at: string }, []>("SELECT version, applied_at FROM schema_migrations").all();
  return new Map(rows.map((r) => [r.version, r.applied_at]));
}

/** Applies every pending migration in order, each in its own transaction; returns those applied. */
export function migrateUp(db: Database): Migration[] {
  ensureTable(db);
  const done = applied(db);
  const pending = MIGRATIONS.filter((m) => !done.has(m.version));
  for (const migration of pending) {
    db.transaction(() => {
      db.run(migration.up);
      db.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", [migration.version, migration.name, new Date().toISOString()]);
    })();
  }
  return pending;
}

/** Reverts the newest applied migration; returns it, or undefined when none is applied. */
export function migrateDown(db: Database): Migration | undefined {
  ensureTable(db);
  const done = applied(db);
  const latest = [...MIGRATIONS].reverse().find((m) => done.has(m.version));
  if (!latest) return undefined;
  db.transaction(() => {
    db.run(latest.down);
    db.run("DELETE FROM schema_migrations WHERE version = ?", [latest.version]);
  })();
  return latest;
}

/** Read only (`migrate status` opens the file read-only): without the migrations table, every migration is pending. */
export function migrationStatus(db: Database): MigrationStatus[] {
  const tracked = db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get() !== null;
  const done = tracked ? applied(db) : new Map<number, string>();
  return MIGRATIONS.map((m) => ({ version: m.version, name: m.name, appliedAt: done.get(m.version) ?? null }));
}
