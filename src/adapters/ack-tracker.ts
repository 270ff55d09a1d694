/**
 * @module The committed position of one ordered stream (a SQLite log, a Kafka partition):
 * positions are handed out in increasing order and finished in any order; the committed
 * position only moves past a run of finished ones, never past an unfinished one.
 */

export class AckTracker {
  /** Positions handed out and not yet passed by the committed position, in order. */
  private outstanding: number[] = [];
  private head = 0;
  private readonly finished = new Set<number>();

  /** @param committed the position everything up to (and including) is finished. */
  constructor(private committed: number) {}

  get position(): number {
    return this.committed;
  }

  /** Positions handed out and not yet committed past. */
  get pending(): number {
    return this.outstanding.length - this.head;
  }

  /** Records a position handed out; positions must arrive in increasing order. */
  track(position: number): void {
    this.outstanding.push(position);
  }

  /** Marks a position finished; returns the new committed position when it moved, else null. */
  finish(position: number): number | null {
    this.finished.add(position);
    const before = this.committed;
    while (this.head < this.outstanding.length && this.finished.has(this.outstanding[this.head]!)) {
      const next = this.outstanding[this.head++]!;
      this.finished.delete(next);
      this.committed = next;
    }
    if (this.head > 1024 && this.head * 2 > this.outstanding.length) {
      this.outstanding = this.outstanding.slice(this.head);
      this.head = 0;
    }
    return this.committed === before ? null : this.committed;
  }
}
