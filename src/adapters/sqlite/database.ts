/** @module Opens the embedded SQLite database in WAL mode under the data directory. */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { UnavailableError } from "../../domain/errors.ts";

export interface SqliteOptions {
  dataDir: string;
  synchronous: "FULL" | "NORMAL";
  /** Which shard's file (see shards.ts); 0, the default, is `hookrelay.db`. */
  shard?: number;
}

/** The database file of a shard under a data directory: shard 0 keeps the name of the single file. */
export function databasePath(dataDir: string, shard = 0): string {
  return join(dataDir, shard === 0 ? "hookrelay.db" : `shard-${shard}.db`);
}

/** The database file, created with its directory when absent. */
export function openDatabase(options: SqliteOptions): Database {
  mkdirSync(options.dataDir, { recursive: true });
  const db = new Database(databasePath(options.dataDir, options.shard), { create: true, strict: true });
  // Several processes may share the file; wait for the writer instead of failing. First of all:
  // switching to WAL needs a lock too, and a supervisor restarted after a kill -9 failed its start
  // with SQLITE_BUSY while a shard of the old one still held the file (no-loss property, sharded).
  db.run("PRAGMA busy_timeout = 5000");
  db.run("PRAGMA journal_mode = WAL");
  db.run(`PRAGMA synchronous = ${options.synchronous}`);
  return db;
}

/** SQLite result codes that mean "not now" rather than "wrong": the caller may try again. */
const TRANSIENT = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY)/;

/** A transient database failure as a 503 the client can retry; anything else unchanged. */
export function asUnavailable(err: unknown): unknown {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string" && TRANSIENT.test(code)) return new UnavailableError(`database unavailable (${code}); try again`);
  return err;
}

/** Liveness: a trivial query answers. */
export function pingDatabase(db: Database): Promise<void> {
  db.query("SELECT 1").get();
  return Promise.resolve();
}
