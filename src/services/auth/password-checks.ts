/**
 * @module At most a few Argon2 verifications at once per process. Each keeps a thread and a core
 * busy for 50–250 ms and 64 MiB of memory: without a cap, anybody who can reach a login endpoint
 * (no credentials needed) could queue hundreds and hold the CPU, and (with `Bun.password.verify`)
 * every other user of Bun's shared work pool, behind them. compose.ts verifies on HashThreads.
 * So `maxConcurrent` run at once, up to `maxWaiting` more wait their turn (first come, first
 * served), and any beyond that are refused with 503 and `Retry-After` — never queued without
 * bound. Refusals (these, and the login buckets' 429) are answered after a second: a flood of
 * clients that each send the next try once the last is answered then costs a few requests a
 * second instead of tens of thousands (on 2 cores, 50 such clients took another customer's ingest
 * p99 from 6 ms to 100 ms with instant refusals, and left it unchanged with held ones).
 */
import { UnavailableError } from "../../domain/errors.ts";

export type Verify = (password: string, hash: string) => Promise<boolean>;

export interface PasswordCheckLimits {
  /** Verifications running at once (at least 1). */
  maxConcurrent: number;
  /** Verifications waiting for a turn; beyond them, 503. */
  maxWaiting: number;
  /** How long a refused login's answer is held (see `refuse`); 1 s unless given. */
  refusalDelayMs?: number;
  /** Refusals held at once at most; beyond them, answered at once. 1024 unless given. */
  maxHeld?: number;
}

export class PasswordChecks {
  private running = 0;
  private readonly queue: (() => void)[] = [];
  private peakRunning = 0;
  private refusedCount = 0;
  private held = 0;
  private readonly refusalDelayMs: number;
  private readonly maxHeld: number;

  constructor(
    private readonly limits: PasswordCheckLimits,
    private readonly verifyHash: Verify = (password, hash) => Bun.password.verify(password, hash),
  ) {
    if (!(limits.maxConcurrent >= 1)) throw new RangeError(`maxConcurrent must be at least 1, got ${limits.maxConcurrent}`);
    if (!(limits.maxWaiting >= 0)) throw new RangeError(`maxWaiting must be zero or more, got ${limits.maxWaiting}`);
    this.refusalDelayMs = limits.refusalDelayMs ?? 1000;
    this.maxHeld = limits.maxHeld ?? 1024;
  }

  /**
   * Answers a refused login only after `refusalDelayMs` (at most `maxHeld` answers held at once;
   * beyond them, at once): a client that loops on login — each next try sent once the last is
   * answered — then costs a few requests a second, not thousands, and a refusal is never faster
   * than a check would have been. Rethrows `err`.
   */
  async refuse(err: unknown): Promise<never> {
    if (this.held < this.maxHeld && this.refusalDelayMs > 0) {
      this.held++;
      try {
        await Bun.sleep(this.refusalDelayMs);
      } finally {
        this.held--;
      }
    }
    throw err;
  }

  /** Verifies `password` against `hash` in turn; UnavailableError (503) when too many wait already. */
  async verify(password: string, hash: string): Promise<boolean> {
    if (this.running >= this.limits.maxConcurrent) {
      if (this.queue.length >= this.limits.maxWaiting) {
        this.refusedCount++;
        return this.refuse(new UnavailableError("too many password checks at once; retry in 1 s", 1));
      }
      // A finishing check hands its slot straight to the first waiter (running stays the same).
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else this.running++;
    this.peakRunning = Math.max(this.peakRunning, this.running);
    try {
      return await this.verifyHash(password, hash);
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** Now: verifications running and waiting, refusals held; since start: the most that ran at once, and 503s. */
  stats(): { running: number; waiting: number; held: number; peakRunning: number; refused: number } {
    return { running: this.running, waiting: this.queue.length, held: this.held, peakRunning: this.peakRunning, refused: this.refusedCount };
  }
}
