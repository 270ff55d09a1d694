/** @module The ConcurrencyLimiter port on Redis: one sorted set of holders per key, scored by lease end, taken in one Lua script. */
import type { ConcurrencyLimiter } from "../../domain/ports.ts";
import { defineScript, type Redis, unavailableOnFailure } from "./client.ts";

/**
 * KEYS[1] the holders (member: token, score: lease end); ARGV now, limit, lease end, token.
 * Drops the holders whose lease ended, then adds this one if fewer than `limit` are left. The key
 * expires with its newest lease. Returns 1 when taken, 0 when full.
 */
const ACQUIRE_LUA = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
-- every lease is as long: the newest ends last
redis.call('PEXPIRE', KEYS[1], math.floor(tonumber(ARGV[3]) - tonumber(ARGV[1])) + 1)
return 1
`;

export class RedisConcurrencyLimiter implements ConcurrencyLimiter {
  private readonly acquireScript: (...args: (string | number)[]) => Promise<unknown>;

  constructor(
    private readonly redis: Redis,
    private readonly options: { keyPrefix: string },
  ) {
    this.acquireScript = defineScript(redis, "hookrelayConcurrencyAcquire", ACQUIRE_LUA, 1);
  }

  async acquire(key: string, limit: number, leaseMs: number, now: number): Promise<string | null> {
    const token = crypto.randomUUID();
    const taken = await unavailableOnFailure(() => this.acquireScript(this.keyOf(key), now, limit, now + leaseMs, token));
    return taken === 1 ? token : null;
  }

  async release(key: string, token: string): Promise<void> {
    await unavailableOnFailure(() => this.redis.zrem(this.keyOf(key), token));
  }

  private keyOf(key: string): string {
    return `${this.options.keyPrefix}slots:${key}`;
  }
}
