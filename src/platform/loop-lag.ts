/**
 * @module How far behind the event loop runs: a timer due every `everyMs` notes how late it fires.
 * Under more load than a process can take, every turn of the loop serves more waiting requests and
 * runs longer; that lateness is how long a new request waits before anything looks at it, which the
 * pending-event count (events parsed and waiting to be stored) cannot see.
 *
 * The timer runs only while someone reads the figure (event posts arrive): a process at rest wakes
 * for nothing (20 wake-ups a second cost an idle process 0.16% of a core, measured).
 */
export class LoopLag {
  private lateness = 0;
  private timer: Timer | undefined;
  private lastRead = 0;

  constructor(
    private readonly everyMs = 50,
    /** Unread this long, the timer stops; the next read starts it again (and reads 0 until it has ticked twice). */
    private readonly idleStopMs = 2000,
  ) {}

  /**
   * The lesser lateness of the last two ticks, ms: a loop that stays behind, not one long turn (a
   * start-up, a collection), which is over by the time anyone would be refused for it.
   */
  get ms(): number {
    this.lastRead = performance.now();
    if (!this.timer) this.start();
    return this.lateness;
  }

  private start(): void {
    const everyMs = this.everyMs;
    let due = performance.now() + everyMs;
    let previous = 0;
    this.timer = setInterval(() => {
      const now = performance.now();
      if (now - this.lastRead > this.idleStopMs) return this.stop();
      const late = Math.max(0, now - due);
      this.lateness = Math.min(late, previous);
      previous = late;
      due = now + everyMs;
    }, everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.lateness = 0;
  }

  /** True while the timer runs (for tests). */
  get ticking(): boolean {
    return this.timer !== undefined;
  }
}
