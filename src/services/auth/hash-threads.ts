/**
 * @module Argon2 verifications on threads of their own. `Bun.password.verify` runs on Bun's shared
 * work pool (one thread per core), which async fs calls, DNS lookups and other crypto use too: with
 * as many verifications running as the pool has threads, everything else on it waits for them
 * (on 2 cores an fdatasync waited 120 ms behind two). Here each verification runs
 * `Bun.password.verifySync` in a Worker of its own, one per verification allowed at once, so
 * whatever `security.login_max_concurrent` is set to, the shared pool never holds a hash.
 *
 * The threads keep normal priority. At nice 19 (or SCHED_IDLE) a flood's verifications only run on
 * otherwise idle CPU, but that did not lower the cost to ingest measurably (Argon2's cost to others
 * is in the shared caches and memory: 64 MiB per verification), and on a busy machine it starved
 * logins for seconds.
 */
import type { Verify } from "./password-checks.ts";

/** The worker's code, inline (a Blob URL), so the compiled binary needs no extra entry point. */
const HASH_WORKER = `
self.onmessage = (event) => {
  const { id, password, hash } = event.data;
  let ok = false;
  let error = null;
  try { ok = Bun.password.verifySync(password, hash); } catch (err) { error = String(err && err.message); }
  postMessage({ id, ok, error });
};
postMessage({ ready: true });
`;

type Answer = { id: number; ok: boolean; error: string | null } | { ready: true };

interface Thread {
  worker: Worker;
  pending: Map<number, { resolve: (ok: boolean) => void; reject: (err: Error) => void }>;
}

export class HashThreads {
  private readonly threads: Thread[];
  private nextId = 0;
  private closed = false;

  /** @param count threads (one per verification allowed at once). */
  constructor(count: number) {
    if (!(count >= 1)) throw new RangeError(`hash threads: count must be at least 1, got ${count}`);
    const url = URL.createObjectURL(new Blob([HASH_WORKER], { type: "application/javascript" }));
    let loaded = 0;
    this.threads = Array.from({ length: count }, () => {
      const thread: Thread = { worker: new Worker(url), pending: new Map() };
      thread.worker.unref();
      thread.worker.onmessage = (event: MessageEvent<Answer>) => {
        const answer = event.data;
        if ("ready" in answer) {
          // Every worker has read its code: the URL is no longer needed.
          if (++loaded === count) URL.revokeObjectURL(url);
          return;
        }
        const waiter = thread.pending.get(answer.id);
        if (!waiter) return;
        thread.pending.delete(answer.id);
        if (answer.error !== null) waiter.reject(new Error(answer.error));
        else waiter.resolve(answer.ok);
      };
      thread.worker.onerror = (event) => this.fail(thread, new Error(`hash thread failed: ${event.message}`));
      return thread;
    });
  }

  /** Verifies on the thread with the fewest verifications waiting. */
  readonly verify: Verify = (password, hash) =>
    new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error("hash threads are closed"));
      const thread = this.threads.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
      const id = this.nextId++;
      thread.pending.set(id, { resolve, reject });
      thread.worker.postMessage({ id, password, hash });
    });

  /** Ends the threads; verifications still running are rejected. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const thread of this.threads) {
      thread.worker.terminate();
      this.fail(thread, new Error("hash threads closed before the verification finished"));
    }
  }

  private fail(thread: Thread, err: Error): void {
    for (const waiter of thread.pending.values()) waiter.reject(err);
    thread.pending.clear();
  }
}
