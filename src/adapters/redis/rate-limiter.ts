/** @module The RateLimiter port on Redis: one hash per bucket, read, refilled and taken from in one Lua script. */
import type { RateDecision, RateLimit, RateLimiter } from "../../domain/ports.ts";
import { checkRateArgs } from "../memory/rate-limiter.ts";
import { defineScript, pingRedis, type Redis, unavailableOnFailure } from "./client.ts";

/**
 * KEYS[1] the bucket (hash: tokens, at); ARGV capacity, refill per second, cost, now.
 * The same arithmetic as the memory adapter, step for step (both use IEEE doubles), so both
 * answer alike: `now` is the caller's clock, not Redis TIME, and a `now` behind the bucket's
 * neither refills nor drains it. Only a take writes; a full bucket is deleted (same as
 * absent), any other expires when it would be full. Returns {allowed 0|1, remaining, retryAfterMs (-1 = never), resetMs}.
 */
const TAKE_LUA = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])

local function ms_until(tokens, target)
  if tokens >= target then return 0 end
  local ms = math.ceil(((target - tokens) / rate) * 1000)
  local i = 0
  while i < 4 and tokens + (ms / 1000) * rate < target do ms = ms + 1; i = i + 1 end
  i = 0
  while i < 4 and ms > 1 and tokens + ((ms - 1) / 1000) * rate >= target do ms = ms - 1; i = i + 1 end
  return ms
end

local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = capacity
local at = now
local stored, stored_at = tonumber(state[1]), tonumber(state[2])
if stored and stored_at then
  at = math.max(stored_at, now)
  tokens = math.min(capacity, stored + (math.max(0, now - stored_at) / 1000) * rate)
end
local allowed = 0
if cost <= tokens then
  allowed = 1
  tokens = tokens - cost
end
local reset = ms_until(tokens, capacity)
-- only a call that takes something moves the bucket, so refill is always counted from the last take
if allowed == 1 and cost > 0 then
  if reset == 0 then
    redis.call('DEL', KEYS[1])
  else
    -- %.17g round-trips a double exactly, so the next call starts from the very same tokens
    redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', at))
    redis.call('PEXPIRE', KEYS[1], reset + (at - now))
  end
end
local retry = 0
if allowed == 0 then
  if cost > capacity then retry = -1 else retry = ms_until(tokens, cost) + (at - now) end
end
return {allowed, math.floor(tokens), retry, reset + (at - now)}
`;

export interface RedisRateLimiterOptions {
  /** Prepended to every key, e.g. `hookrelay:` (config `redis.key_prefix`). */
  keyPrefix: string;
}

export class RedisRateLimiter implements RateLimiter {
  private readonly prefix: string;
  private readonly takeScript: (...args: (string | number)[]) => Promise<unknown>;

  constructor(
    private readonly redis: Redis,
    options: RedisRateLimiterOptions,
  ) {
    this.prefix = `${options.keyPrefix}rate:`;
    this.takeScript = defineScript(redis, "hookrelayRateTake", TAKE_LUA, 1);
  }

  ping(): Promise<void> {
    return pingRedis(this.redis);
  }

  /** The Redis key of `key`'s bucket. */
  bucketKey(key: string): string {
    return this.prefix + key;
  }

  async take(key: string, limit: RateLimit, cost: number, now: number): Promise<RateDecision> {
    checkRateArgs(limit, cost);
    const reply = (await unavailableOnFailure(() => this.takeScript(this.bucketKey(key), limit.capacity, limit.refillPerSecond, cost, now))) as [number, number, number, number];
    const [allowed, remaining, retryAfterMs, resetMs] = reply;
    return {
      allowed: allowed === 1,
      remaining,
      retryAfterMs: retryAfterMs < 0 ? Number.POSITIVE_INFINITY : retryAfterMs,
      resetMs,
    };
  }
}
