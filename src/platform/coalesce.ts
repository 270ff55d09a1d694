/**
 * @module Group commit: calls made in the same tick (or within `maxWaitMs`) are written
 * together by one flush, and each caller gets its own share of the result.
 */

export interface CoalescerOptions {
  /** Flush as soon as this many are waiting (default 1000). */
  maxItems?: number;
  /** How long the first item waits for company; 0 (default) = the next turn of the event loop. */
  maxWaitMs?: number;
  /**
   * One flush at a time: what arrives while one runs waits and goes in the next, so batches grow
   * with the load (a remote write: one round trip carries them all).
   */
  serial?: boolean;
  /**
   * A flush starts at least this long after the previous one started, unless `maxItems` are
   * waiting. A commit has a fixed price (SQLite writes every page it touched to the WAL, whole):
   * under load this turns many small commits into fewer, larger ones; idle, it adds nothing.
   */
  minIntervalMs?: number;
  /**
   * When a flush of several callers' items fails with an error this accepts, each caller's items
   * are written again on their own, so that one caller's bad item (text the database cannot hold)
   * fails only that caller. Leave it out for errors of the backend itself (unreachable): every
   * caller fails alike, and trying each alone would only repeat the failure.
   */
  isolate?: (err: unknown) => boolean;
}

interface Pending<I, O> {
  items: I[];
  resolve: (out: O[]) => void;
  reject: (err: unknown) => void;
}

export class Coalescer<I, O> {
  private queue: Pending<I, O>[] = [];
  private queued = 0;
  private timer: Timer | undefined;
  private immediate = false;
  private flushing = false;
  private lastStart = Number.NEGATIVE_INFINITY;
  private readonly maxItems: number;
  private readonly maxWaitMs: number;
  private readonly serial: boolean;
  private readonly minIntervalMs: number;
  private readonly isolate: ((err: unknown) => boolean) | undefined;

  /** @param flush writes every item at once and returns one output per item, in order. */
  constructor(
    private readonly flush: (items: I[]) => Promise<O[]> | O[],
    options: CoalescerOptions = {},
  ) {
    this.maxItems = options.maxItems ?? 1000;
    this.maxWaitMs = options.maxWaitMs ?? 0;
    this.serial = options.serial ?? false;
    this.minIntervalMs = options.minIntervalMs ?? 0;
    this.isolate = options.isolate;
  }

  submit(items: I[]): Promise<O[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<O[]>((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      this.queued += items.length;
      if (this.serial) {
        // Never a flush inside submit: a synchronous flush (SQLite) after another in the same tick
        // would hold the event loop for all of them; the next turn of the loop takes the next batch.
        if (!this.flushing) this.arm(this.queued >= this.maxItems);
        return;
      }
      if (this.queued >= this.maxItems) this.flushNow();
      else this.arm();
    });
  }

  private arm(now = false): void {
    if (this.serial && this.flushing) return;
    if (now && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (now && !this.immediate) {
      this.immediate = true;
      setImmediate(() => this.flushNow());
      return;
    }
    if (this.timer || this.immediate) return;
    const delay = Math.max(this.maxWaitMs, this.lastStart + this.minIntervalMs - performance.now());
    if (delay <= 0) {
      this.immediate = true;
      setImmediate(() => this.flushNow());
    } else {
      this.timer = setTimeout(() => this.flushNow(), delay);
    }
  }

  /** Writes everything waiting now. */
  async flushNow(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.immediate = false;
    if (this.serial && this.flushing) return;
    let batch = this.queue;
    if (batch.length === 0) return;
    if (this.serial && this.queued > this.maxItems) {
      // Take whole submissions up to maxItems (at least one); the rest go in the next flush.
      let taken = 0;
      let count = 0;
      while (count < batch.length && (count === 0 || taken + batch[count]!.items.length <= this.maxItems)) taken += batch[count++]!.items.length;
      this.queue = batch.slice(count);
      this.queued -= taken;
      batch = batch.slice(0, count);
    } else {
      this.queue = [];
      this.queued = 0;
    }
    this.flushing = true;
    this.lastStart = performance.now();
    try {
      const out = await this.flush(batch.flatMap((p) => p.items));
      let offset = 0;
      for (const pending of batch) {
        pending.resolve(out.slice(offset, offset + pending.items.length));
        offset += pending.items.length;
      }
    } catch (err) {
      if (batch.length > 1 && this.isolate?.(err)) {
        // through then(): a synchronous flush (SQLite) that throws rejects its caller, not this loop
        for (const pending of batch)
          await Promise.resolve(pending.items)
            .then((items) => this.flush(items))
            .then(pending.resolve, pending.reject);
      } else for (const pending of batch) pending.reject(err);
    } finally {
      this.flushing = false;
      if (this.serial && this.queue.length > 0) this.arm(this.queued >= this.maxItems);
    }
  }
}
