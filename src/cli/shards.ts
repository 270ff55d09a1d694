/**
 * @module `hookrelay all` on embedded SQLite with `database.sqlite_shards` > 1 (docs/every-core.md):
 * this process migrates every shard's file, then runs one child process per shard (the same binary,
 * `HOOKRELAY_SHARD=<i>`) and restarts a child that exits; SIGTERM or SIGINT stops them all, each
 * draining as a single process does. A child whose supervisor dies (kill -9 included) sees its
 * stdin close and stops itself.
 */
import type { Subprocess } from "bun";
import { openDatabase } from "../adapters/sqlite/database.ts";
import { migrateUp } from "../adapters/sqlite/migrations.ts";
import { checkShardCount } from "../adapters/sqlite/shards.ts";
import type { Config } from "../platform/config.ts";

/** The environment variable that makes a process shard `<i>` of a supervised deployment. */
export const SHARD_ENV = "HOOKRELAY_SHARD";
/** What a child sends its supervisor once it serves. */
const READY = "ready";
/** How long after a shard exits it is started again (twice as long each time it fails soon after). */
const FIRST_RESTART_DELAY_MS = 250;
/** A child that fails again waits twice as long before its next start, up to this. */
const MAX_RESTART_DELAY_MS = 30_000;
/** A child that served this long before it exited is restarted after the first delay again. */
const STABLE_MS = 60_000;

/** Applies pending migrations to every shard's file and checks the shard count; returns the migrations applied. */
export function prepareShards(config: Config, count: number): string[] {
  const applied: string[] = [];
  for (let shard = 0; shard < count; shard++) {
    const db = openDatabase({ dataDir: config.database.data_dir, synchronous: "NORMAL", shard });
    try {
      if (config.database.auto_migrate) for (const m of migrateUp(db)) applied.push(`${shard}:${m.version}_${m.name}`);
      if (shard === 0) checkShardCount(db, count);
    } finally {
      db.close();
    }
  }
  return applied;
}

/** How to start this same program again: the compiled binary, or Bun with this entry point. */
function selfCommand(): string[] {
  return Bun.main.startsWith("/$bunfs/") ? [process.execPath] : [process.execPath, Bun.main];
}

function note(message: string): void {
  console.log(JSON.stringify({ level: "info", time: new Date().toISOString(), service: "hookrelay", role: "supervisor", msg: message }));
}

/**
 * Runs the shards until SIGTERM or SIGINT. Resolves with the exit code: 0 after a clean stop, 1
 * when a shard could not start at all (its own log line says why).
 */
export async function superviseShards(config: Config, count: number): Promise<number> {
  const applied = prepareShards(config, count);
  if (applied.length > 0) note(`migrations applied: ${applied.join(", ")}`);
  const children: Subprocess[] = new Array(count);
  const everReady = new Array<boolean>(count).fill(false);
  const delays = new Array<number>(count).fill(FIRST_RESTART_DELAY_MS);
  let stopping = false;
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (finish = resolve));

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const child of children) if (child && child.exitCode === null) child.kill("SIGTERM");
    await Promise.all(children.map((child) => child?.exited));
    finish(code);
  };

  const start = (shard: number) => {
    const startedAt = Date.now();
    const child = Bun.spawn([...selfCommand(), "all"], {
      env: { ...process.env, [SHARD_ENV]: String(shard), HOOKRELAY_DATABASE_SQLITE_SHARDS: String(count) },
      stdin: "pipe",
      stdout: "inherit",
      stderr: "inherit",
      ipc: (message) => {
        if (message === READY) everReady[shard] = true;
      },
    });
    children[shard] = child;
    child.exited.then((code) => {
      if (stopping) return;
      // A shard that never served (its port taken, its files refused): the deployment cannot run.
      if (!everReady[shard]) {
        note(`shard ${shard} could not start (exit ${code}); stopping`);
        void stopAll(1);
        return;
      }
      delays[shard] = Date.now() - startedAt > STABLE_MS ? FIRST_RESTART_DELAY_MS : Math.min(delays[shard]! * 2, MAX_RESTART_DELAY_MS);
      note(`shard ${shard} exited (${code ?? child.signalCode}); starting it again in ${delays[shard]} ms`);
      setTimeout(() => stopping || start(shard), delays[shard]);
    });
  };

  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => void stopAll(0));
  for (let shard = 0; shard < count; shard++) start(shard);
  note(`running ${count} shards`);
  return finished;
}

/**
 * In a shard, from its first moment: when the supervisor is gone (its pipe closes), a shard still
 * starting exits at once (it has answered nobody; it may be waiting for a lock that the next
 * supervisor's shard holds), one that serves stops as on SIGTERM. `ready` tells the supervisor it serves.
 */
export function watchSupervisor(): { ready(): void } {
  let serving = false;
  void (async () => {
    for await (const _ of Bun.stdin.stream()) {
      // The supervisor never writes: this only waits for the end.
    }
    if (serving) process.kill(process.pid, "SIGTERM");
    else process.exit(0);
  })();
  return {
    ready() {
      serving = true;
      process.send?.(READY);
    },
  };
}
