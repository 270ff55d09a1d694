/** @module The RetrySchedule port on Redis: one sorted set of delivery ids scored by due time, claimed by a Lua script. */
import type { RetrySchedule, ScheduledRetry } from "../../domain/ports.ts";
import { defineScript, execPipeline, pingRedis, type Redis, unavailableOnFailure } from "./client.ts";

/**
 * KEYS[1] the due set; ARGV now, limit, lease end. Takes up to `limit` members due at `now`
 * (lowest score first) and re-scores them to the lease end, in one step: no other claim sees
 * them until the lease ends, and a worker that dies loses nothing because they never left the set.
 * Returns [member, original score, ...].
 */
const CLAIM_LUA = `
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]), 'WITHSCORES')
local lease = {}
for i = 1, #due, 2 do
  lease[#lease + 1] = ARGV[3]
  lease[#lease + 1] = due[i]
  -- unpack() is bounded by the Lua stack: re-score in chunks
  if #lease >= 1000 then
    redis.call('ZADD', KEYS[1], 'XX', unpack(lease))
    lease = {}
  end
end
if #lease > 0 then redis.call('ZADD', KEYS[1], 'XX', unpack(lease)) end
return due
`;

/** Members per ZADD or ZREM command; a pipeline sends all of them in one round trip. */
const CHUNK = 1000;

export interface RedisRetryScheduleOptions {
  /** Prepended to every key, e.g. `hookrelay:` (config `redis.key_prefix`). */
  keyPrefix: string;
}

export class RedisRetrySchedule implements RetrySchedule {
  /** The sorted set: member = delivery id, score = due time (ms since epoch), or lease end while claimed. */
  readonly key: string;
  private readonly claimScript: (...args: (string | number)[]) => Promise<unknown>;

  constructor(
    private readonly redis: Redis,
    options: RedisRetryScheduleOptions,
  ) {
    this.key = `${options.keyPrefix}retry:due`;
    this.claimScript = defineScript(redis, "hookrelayRetryClaim", CLAIM_LUA, 1);
  }

  ping(): Promise<void> {
    return pingRedis(this.redis);
  }

  schedule(items: ScheduledRetry[]): Promise<void> {
    return this.add(items, false);
  }

  ensureScheduled(items: ScheduledRetry[]): Promise<void> {
    return this.add(items, true);
  }

  /** ZADD in chunks, one round trip; `onlyNew` (NX) leaves a member already there, claimed or not, as it is. */
  private async add(items: ScheduledRetry[], onlyNew: boolean): Promise<void> {
    if (items.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (let i = 0; i < items.length; i += CHUNK) {
      const args: (string | number)[] = [];
      for (const item of items.slice(i, i + CHUNK)) args.push(item.dueAt, item.deliveryId);
      if (onlyNew) pipeline.zadd(this.key, "NX", ...args);
      else pipeline.zadd(this.key, ...args);
    }
    await unavailableOnFailure(() => execPipeline(pipeline));
  }

  async claim(now: number, limit: number, leaseMs: number): Promise<ScheduledRetry[]> {
    if (limit <= 0) return [];
    const reply = (await unavailableOnFailure(() => this.claimScript(this.key, now, Math.floor(limit), now + leaseMs))) as string[];
    const claimed: ScheduledRetry[] = [];
    for (let i = 0; i < reply.length; i += 2) claimed.push({ deliveryId: reply[i]!, dueAt: Number(reply[i + 1]) });
    return claimed;
  }

  async complete(deliveryIds: string[]): Promise<void> {
    if (deliveryIds.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (let i = 0; i < deliveryIds.length; i += CHUNK) pipeline.zrem(this.key, ...deliveryIds.slice(i, i + CHUNK));
    await unavailableOnFailure(() => execPipeline(pipeline));
  }

  async scheduled(deliveryIds: string[]): Promise<Set<string>> {
    if (deliveryIds.length === 0) return new Set();
    const scores = await unavailableOnFailure(() => this.redis.zmscore(this.key, ...deliveryIds));
    return new Set(deliveryIds.filter((_, i) => scores[i] !== null));
  }

  depth(): Promise<number> {
    return unavailableOnFailure(() => this.redis.zcard(this.key));
  }

  async nextDue(): Promise<number | null> {
    const [, score] = await unavailableOnFailure(() => this.redis.zrange(this.key, "0", "0", "WITHSCORES"));
    return score === undefined ? null : Number(score);
  }
}
