/** @module Tracks promises still running in the background so shutdown can wait for them. */

export class Settling {
  private readonly pending = new Set<Promise<unknown>>();

  add(promise: Promise<unknown>): void {
    this.pending.add(promise);
    promise.finally(() => this.pending.delete(promise));
  }

  get size(): number {
    return this.pending.size;
  }

  /** Resolves when every promise added so far has settled. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
