/**
 * @module Embedded shards (docs/every-core.md): `hookrelay all` with `database.sqlite_shards` > 1
 * runs one process per shard; shard i owns the customers that hash to it and the file
 * `databasePath(dataDir, i)`, of which it is the only writer on the hot path. Control data every
 * process shares (users, settings) lives in shard 0's file.
 */
import { Database } from "bun:sqlite";
import { availableParallelism } from "node:os";
import { join } from "node:path";

/** The most shards `sqlite_shards: 0` picks (one per core). */
const MAX_AUTO_SHARDS = 16;

/** How many shards a setting means: 0 is one per CPU core, at most MAX_AUTO_SHARDS. */
export function shardCount(setting: number): number {
  return setting > 0 ? setting : Math.max(1, Math.min(MAX_AUTO_SHARDS, availableParallelism()));
}

/**
 * The shard that owns a customer: CRC-32 of its id (a fixed function: the mapping must not change
 * with the runtime's version, or rows would be looked for in the wrong file).
 */
export function shardOf(customerId: string, count: number): number {
  return count === 1 ? 0 : Bun.hash.crc32(customerId) % count;
}

/** Where shard i takes the events other shards accepted for its customers (and serves its `/metrics`). */
export function shardSocketPath(dataDir: string, shard: number): string {
  return join(dataDir, `shard-${shard}.sock`);
}

/** The longest path a Unix socket may have on Linux (sun_path less its terminator). */
export const MAX_SOCKET_PATH = 107;

/**
 * Splits `items` by the shard each belongs to, runs `run` once per shard on its part, and puts the
 * results back in the items' order.
 */
export async function byShard<I, R>(items: I[], shardOfItem: (item: I) => number, run: (shard: number, part: I[]) => Promise<R[]>): Promise<R[]> {
  if (items.length === 0) return [];
  const shards = items.map(shardOfItem);
  if (shards.every((s) => s === shards[0])) return run(shards[0]!, items);
  const parts = new Map<number, number[]>();
  shards.forEach((s, i) => {
    const part = parts.get(s);
    if (part) part.push(i);
    else parts.set(s, [i]);
  });
  const results: R[] = new Array(items.length);
  await Promise.all(
    [...parts].map(async ([shard, indexes]) => {
      const answers = await run(
        shard,
        indexes.map((i) => items[i]!),
      );
      for (const [k, index] of indexes.entries()) results[index] = answers[k]!;
    }),
  );
  return results;
}

/**
 * Holds shard i's ownership for as long as this process lives: an exclusive lock on a small SQLite
 * file of its own (released by the kernel when the process dies, kill -9 included). A second owner
 * (a shard restarted while the old one still drains, a second `hookrelay all` on the same data
 * directory) waits for it instead of writing beside it. Resolves once held; rejects after `timeoutMs`.
 */
export async function holdShard(dataDir: string, shard: number, timeoutMs: number, onWait: () => void): Promise<() => void> {
  const lock = new Database(join(dataDir, `shard-${shard}.lock`), { create: true });
  lock.run("PRAGMA busy_timeout = 0");
  lock.run("PRAGMA locking_mode = EXCLUSIVE");
  const deadline = Date.now() + timeoutMs;
  let warned = false;
  for (;;) {
    try {
      // In EXCLUSIVE locking mode the first write takes the exclusive lock and keeps it.
      lock.run("CREATE TABLE IF NOT EXISTS owner (pid INTEGER)");
      lock.run("DELETE FROM owner");
      lock.run("INSERT INTO owner (pid) VALUES (?)", [process.pid]);
      return () => lock.close();
    } catch (err) {
      if (!/BUSY|LOCKED/.test(String((err as { code?: string }).code ?? err))) throw err;
      if (Date.now() > deadline) {
        lock.close();
        throw new Error(`shard ${shard} of ${dataDir} is held by another process (a hookrelay still running on this data directory?)`);
      }
      if (!warned) onWait();
      warned = true;
      await Bun.sleep(100);
    }
  }
}

/** A data directory and `database.sqlite_shards` that do not agree. */
export class ShardCountError extends Error {
  override name = "ShardCountError";
}

/**
 * Refuses a data directory whose files were written with another number of shards: customers would
 * be looked for in the wrong file. The count is kept in shard 0's settings; a single file written
 * before shards existed may become shard 0 of several only while it holds no customer's data.
 */
export function checkShardCount(control: Database, count: number): void {
  const stamp = control.query<{ value: string }, []>("SELECT value FROM settings WHERE key = 'sqlite_shards'").get();
  const stored = stamp ? Number(stamp.value) : 1;
  if (stamp && stored === count) return;
  const refuse = (why: string) => {
    throw new ShardCountError(`database.sqlite_shards is ${count} but ${why}; set it back (a data directory keeps the number of shards it was started with; another number needs an empty one)`);
  };
  if (stamp) refuse(`this data directory was written with ${stored}`);
  if (count === 1) return;
  const held = control.query<{ n: number }, []>("SELECT (SELECT count(*) FROM webhooks) + (SELECT count(*) FROM events) + (SELECT count(*) FROM api_keys) AS n").get()!.n;
  // The default customer (made at every start, owning nothing yet) is made again in its own shard.
  const elsewhere = control
    .query<{ id: string }, []>("SELECT id FROM customers WHERE id <> 'default'")
    .all()
    .filter((c) => shardOf(c.id, count) !== 0);
  if (held > 0 || elsewhere.length > 0) refuse("this data directory was written by a single process and holds data");
  control.run("INSERT INTO settings (key, value) VALUES ('sqlite_shards', ?) ON CONFLICT (key) DO NOTHING", [String(count)]);
}
