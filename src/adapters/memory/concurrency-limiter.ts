/** @module The ConcurrencyLimiter port in memory: slots for one process (embedded mode, where one process has all of a webhook's deliveries). */
import type { ConcurrencyLimiter } from "../../domain/ports.ts";

export class MemoryConcurrencyLimiter implements ConcurrencyLimiter {
  /** Per key, each holder's token and when its lease ends. */
  private readonly held = new Map<string, Map<string, number>>();
  private next = 0;

  async acquire(key: string, limit: number, leaseMs: number, now: number): Promise<string | null> {
    let holders = this.held.get(key);
    if (!holders) {
      holders = new Map();
      this.held.set(key, holders);
    }
    for (const [token, until] of holders) if (until <= now) holders.delete(token);
    if (holders.size >= limit) return null;
    const token = String(++this.next);
    holders.set(token, now + leaseMs);
    return token;
  }

  async release(key: string, token: string): Promise<void> {
    const holders = this.held.get(key);
    holders?.delete(token);
    if (holders?.size === 0) this.held.delete(key);
  }
}
