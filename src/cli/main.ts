#!/usr/bin/env bun
/** @module `hookrelay <role>`: runs roles, migrations, health probes, or prints the version. */
// Only what every command needs is imported here; each command loads the rest when it runs, so a
// shard supervisor holds no HTTP, gRPC, Kafka or PostgreSQL code (115 MiB of RSS when it did).
import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { databasePath, openDatabase } from "../adapters/sqlite/database.ts";
import { MIGRATIONS, migrateDown, migrateUp, migrationStatus } from "../adapters/sqlite/migrations.ts";
import { ShardCountError, shardCount } from "../adapters/sqlite/shards.ts";
import { type Config, ConfigError, loadConfig } from "../platform/config.ts";
import { ROLES, type Role } from "./roles.ts";
import { SHARD_ENV, superviseShards, watchSupervisor } from "./shards.ts";
import { VERSION } from "./version.ts";

const USAGE = `usage: hookrelay <command>

commands:
  all                     every role in one process
  gateway                 REST API (8080)
  registry                gRPC WebhookRegistry (8081)
  ingest                  event intake (8082)
  dispatcher              delivers events to webhooks (8083)
  retry                   retry manager (8084)
  observability           stats and metrics (8085)
  migrate up|down|status  database schema
  probe <role>|all        health check of a role running here, on its configured port:
                          exit 0 when /health answers 200 (registry: gRPC health SERVING), else 1
  version                 print the version

configuration: config.yaml (or HOOKRELAY_CONFIG) and HOOKRELAY_<SECTION>_<KEY> variables`;

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

function config(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}

/** The three migration operations of one database, whichever it is. */
interface Migrator {
  up(): Promise<{ version: number; name: string }[]>;
  down(): Promise<{ version: number; name: string } | undefined>;
  status(): Promise<{ version: number; name: string; appliedAt: string | null }[]>;
}

/** One line per migration: `<version>_<name>\tapplied <time>` or `\tpending`. */
function printStatus(migrations: { version: number; name: string; appliedAt: string | null }[]): void {
  for (const m of migrations) console.log(`${m.version}_${m.name}\t${m.appliedAt ? `applied ${m.appliedAt}` : "pending"}`);
}

/**
 * `migrate status` of the embedded database (shard 0's file), read only: asked before the first
 * start, or of a mistyped directory, it creates neither the directory nor the file, and says so.
 */
function embeddedStatus(cfg: Config): void {
  const path = databasePath(cfg.database.data_dir);
  if (!existsSync(path)) {
    console.log(`no database yet: ${path} does not exist (\`hookrelay migrate up\` or starting hookrelay creates it); every migration is pending`);
    printStatus(MIGRATIONS.map((m) => ({ ...m, appliedAt: null })));
    return;
  }
  let db: Database | undefined;
  try {
    db = new Database(path, { readonly: true });
    printStatus(migrationStatus(db));
  } catch (err) {
    fail(`hookrelay migrate status: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    db?.close();
  }
}

/** `migrate up|down|status`: PostgreSQL when `database.url` is set, the embedded SQLite file otherwise. */
async function migrate(action: string | undefined): Promise<void> {
  if (action !== "up" && action !== "down" && action !== "status") fail(`unknown migrate action '${action ?? ""}'; use up, down or status`);
  const cfg = config();
  if (action === "status" && !cfg.database.url) return embeddedStatus(cfg);
  let migrator: Migrator;
  let close: () => Promise<void>;
  if (cfg.database.url) {
    const { createPool } = await import("../adapters/postgres/client.ts");
    const { migrateDown: pgMigrateDown, migrateUp: pgMigrateUp, migrationStatus: pgMigrationStatus } = await import("../adapters/postgres/migrations.ts");
    // One connection, no statement timeout: a migration may rewrite a large table.
    const sql = createPool({ url: cfg.database.url, maxConnections: 1, statementTimeoutMs: 0, applicationName: "hookrelay migrate" });
    migrator = { up: () => pgMigrateUp(sql), down: () => pgMigrateDown(sql), status: () => pgMigrationStatus(sql) };
    close = () => sql.end({ timeout: 5 });
  } else {
    // Every shard's file (one unless database.sqlite_shards says more), in step; status is shard 0's.
    const dbs = Array.from({ length: shardCount(cfg.database.sqlite_shards) }, (_, shard) => openDatabase({ dataDir: cfg.database.data_dir, synchronous: cfg.database.sqlite_synchronous, shard }));
    migrator = {
      up: async () => dbs.map((db) => migrateUp(db))[0]!,
      down: async () => dbs.map((db) => migrateDown(db))[0],
      status: async () => migrationStatus(dbs[0]!),
    };
    close = async () => {
      for (const db of dbs) db.close();
    };
  }
  try {
    if (action === "up") {
      const applied = await migrator.up();
      console.log(applied.length ? applied.map((m) => `applied ${m.version}_${m.name}`).join("\n") : "nothing to apply");
    } else if (action === "down") {
      const reverted = await migrator.down();
      console.log(reverted ? `reverted ${reverted.version}_${reverted.name}` : "nothing to revert");
    } else {
      printStatus(await migrator.status());
    }
  } catch (err) {
    await close().catch(() => {});
    fail(`hookrelay migrate ${action}: ${err instanceof Error ? err.message : String(err)}`);
  }
  await close();
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === "help" || command === "--help" || command === "-h") {
    console.log(USAGE);
    return;
  }
  if (command === "version" || command === "--version") {
    console.log(`hookrelay ${VERSION} (bun ${Bun.version})`);
    return;
  }
  if (command === "migrate") return migrate(rest[0]);
  if (command === "probe") {
    const { probe, probeTargets } = await import("./probe.ts");
    const targets = probeTargets(rest[0]);
    if (typeof targets === "string") fail(targets);
    const result = await probe(config(), targets);
    const line = result.reason.replace(/\s*\n\s*/g, " ");
    if (!result.ok) fail(line);
    console.log(line);
    process.exit(0);
  }
  const roles: readonly Role[] | undefined = command === "all" ? ROLES : ROLES.includes(command as Role) ? [command as Role] : undefined;
  if (!roles) fail(`unknown command '${command}'\n\n${USAGE}`);
  const cfg = config();
  // Embedded `all` over several shards: this process supervises them, or is one of them.
  const shards = command === "all" && !cfg.database.url ? shardCount(cfg.database.sqlite_shards) : 1;
  const ownShard = process.env[SHARD_ENV];
  if (shards > 1 && ownShard === undefined) {
    const code = await superviseShards(cfg, shards).catch((err) => (err instanceof ShardCountError ? fail(`hookrelay: ${err.message}`) : Promise.reject(err)));
    process.exit(code);
  }
  const shard = shards > 1 ? { index: Number(ownShard), count: shards } : undefined;
  const supervisor = shard ? watchSupervisor() : undefined;
  const { compose, StartupError } = await import("./compose.ts");
  const { WaitStopped } = await import("./backend-wait.ts");
  try {
    const running = await compose(roles, cfg, { shard });
    running.lifecycle.exitOnSignals();
    running.lifecycle.exitOnUncaught();
    supervisor?.ready();
  } catch (err) {
    if (err instanceof StartupError) fail(`hookrelay: ${err.message}`);
    // SIGTERM/SIGINT while waiting for the backends: already stopped and logged.
    if (err instanceof WaitStopped) process.exit(0);
    throw err;
  }
}

await main(process.argv.slice(2));
