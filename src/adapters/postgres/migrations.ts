/**
 * @module Numbered up/down SQL migrations for PostgreSQL, embedded in the binary. Every run
 * holds an advisory lock on the schema, so processes starting at once apply each migration once.
 */

import init_down from "../../../migrations/postgres/0001_init.down.sql" with { type: "text" };
import init_up from "../../../migrations/postgres/0001_init.up.sql" with { type: "text" };
import accounts_down from "../../../migrations/postgres/0002_accounts.down.sql" with { type: "text" };
import accounts_up from "../../../migrations/postgres/0002_accounts.up.sql" with { type: "text" };
import operator_reads_down from "../../../migrations/postgres/0003_operator_reads.down.sql" with { type: "text" };
import operator_reads_up from "../../../migrations/postgres/0003_operator_reads.up.sql" with { type: "text" };
import delivery_state_down from "../../../migrations/postgres/0004_delivery_state.down.sql" with { type: "text" };
import delivery_state_up from "../../../migrations/postgres/0004_delivery_state.up.sql" with { type: "text" };
import webhook_health_down from "../../../migrations/postgres/0005_webhook_health.down.sql" with { type: "text" };
import webhook_health_up from "../../../migrations/postgres/0005_webhook_health.up.sql" with { type: "text" };
import ordering_down from "../../../migrations/postgres/0006_ordering.down.sql" with { type: "text" };
import ordering_up from "../../../migrations/postgres/0006_ordering.up.sql" with { type: "text" };
import secret_rotation_down from "../../../migrations/postgres/0007_secret_rotation.down.sql" with { type: "text" };
import secret_rotation_up from "../../../migrations/postgres/0007_secret_rotation.up.sql" with { type: "text" };
import event_lists_down from "../../../migrations/postgres/0008_event_lists.down.sql" with { type: "text" };
import event_lists_up from "../../../migrations/postgres/0008_event_lists.up.sql" with { type: "text" };
import event_types_down from "../../../migrations/postgres/0009_event_types.down.sql" with { type: "text" };
import event_types_up from "../../../migrations/postgres/0009_event_types.up.sql" with { type: "text" };
import recovery_jobs_down from "../../../migrations/postgres/0010_recovery_jobs.down.sql" with { type: "text" };
import recovery_jobs_up from "../../../migrations/postgres/0010_recovery_jobs.up.sql" with { type: "text" };
import type { Migration, MigrationStatus } from "../migration.ts";
import type { Sql, Tx } from "./client.ts";

export type { Migration, MigrationStatus };

export const MIGRATIONS: Migration[] = [
  { version: 1, name: "init", up: init_up, down: init_down },
  { version: 2, name: "accounts", up: accounts_up, down: accounts_down },
  { version: 3, name: "operator_reads", up: operator_reads_up, down: operator_reads_down },
  { version: 4, name: "delivery_state", up: delivery_state_up, down: delivery_state_down },
  { version: 5, name: "webhook_health", up: webhook_health_up, down: webhook_health_down },
  { version: 6, name: "ordering", up: ordering_up, down: ordering_down },
  { version: 7, name: "secret_rotation", up: secret_rotation_up, down: secret_rotation_down },
  { version: 8, name: "event_lists", up: event_lists_up, down: event_lists_down },
  { version: 9, name: "event_types", up: event_types_up, down: event_types_down },
  { version: 10, name: "recovery_jobs", up: recovery_jobs_up, down: recovery_jobs_down },
];

/**
 * Runs `work` in a transaction that first takes the migration lock of the current schema
 * (the first of search_path), so migrations of other schemas in the database do not wait.
 */
function locked<T>(sql: Sql, work: (tx: Tx) => Promise<T>): Promise<T> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext('hookrelay.migrations.' || coalesce(current_schema(), '')))`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`;
    return work(tx);
  }) as Promise<T>;
}

async function applied(tx: Tx): Promise<Map<number, string>> {
  const rows = await tx<{ version: number; applied_at: Date }[]>`SELECT version, applied_at FROM schema_migrations`;
  return new Map(rows.map((r) => [r.version, r.applied_at.toISOString()]));
}

/** Applies every pending migration in order, each in its own transaction; returns those applied. */
export async function migrateUp(sql: Sql): Promise<Migration[]> {
  const done: Migration[] = [];
  for (const migration of MIGRATIONS) {
    const ran = await locked(sql, async (tx) => {
      if ((await applied(tx)).has(migration.version)) return false;
      await tx.unsafe(migration.up).simple();
      await tx`INSERT INTO schema_migrations (version, name) VALUES (${migration.version}, ${migration.name})`;
      return true;
    });
    if (ran) done.push(migration);
  }
  return done;
}

/** Reverts the newest applied migration; returns it, or undefined when none is applied. */
export function migrateDown(sql: Sql): Promise<Migration | undefined> {
  return locked(sql, async (tx) => {
    const done = await applied(tx);
    const latest = [...MIGRATIONS].reverse().find((m) => done.has(m.version));
    if (!latest) return undefined;
    await tx.unsafe(latest.down).simple();
    await tx`DELETE FROM schema_migrations WHERE version = ${latest.version}`;
    return latest;
  });
}

/**
 * Every migration and when it was applied: read only. A database never migrated has no
 * `schema_migrations` table, and asking does not make one (nor takes the migration lock).
 */
export async function migrationStatus(sql: Sql): Promise<MigrationStatus[]> {
  const [table] = await sql<{ present: boolean }[]>`SELECT to_regclass('schema_migrations') IS NOT NULL AS present`;
  const done = table?.present ? await applied(sql as unknown as Tx) : new Map<number, string>();
  return MIGRATIONS.map((m) => ({ version: m.version, name: m.name, appliedAt: done.get(m.version) ?? null }));
}
