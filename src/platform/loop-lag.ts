/**
 * @module How far behind the event loop runs: a timer due every `everyMs` notes how late it fires.
 * Under more load than a process can take, every turn of the loop serves more waiting requests and
 * runs longer; that lateness is how long a new request waits before anything looks at it, which the
 * pending-event count (events parsed and waiting to be stored) cannot see.
 */
export class LoopLag {
  /**
   * The lesser lateness of the last two ticks, ms: a loop that stays behind, not one long turn (a
   * start-up, a collection), which is over by the time anyone would be refused for it.
   */
  ms = 0;
  private readonly timer: Timer;

  constructor(everyMs = 50) {
    let due = performance.now() + everyMs;
    let previous = 0;
    this.timer = setInterval(() => {
      const now = performance.now();
      const late = Math.max(0, now - due);
      this.ms = Math.min(late, previous);
      previous = late;
      due = now + everyMs;
    }, everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
