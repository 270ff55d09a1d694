/** @module The Redis connection for the production adapters: bounded timeouts, fail fast while Redis is down, reconnect on its own. */
import Redis from "ioredis";
import { UnavailableError } from "../../domain/errors.ts";

export type { Redis };

export interface RedisClientOptions {
  /** Gives up on one connection attempt after this long (then the retry strategy waits and tries again). */
  connectTimeoutMs?: number;
  /** Rejects a command that has no reply after this long, queued or sent. */
  commandTimeoutMs?: number;
  /** Upper bound of the wait between reconnection attempts; they never stop. */
  maxReconnectDelayMs?: number;
  /** Shown in `CLIENT LIST`, e.g. `hookrelay-retry`. */
  connectionName?: string;
  /** Connection errors, for logging. ioredis reports each failed attempt; the client recovers by itself. */
  onError?: (err: Error) => void;
}

/** Reconnection delay: 50 ms doubling to `maxMs`, plus up to 10% jitter so many processes do not reconnect in step. */
export function reconnectDelay(attempt: number, maxMs: number): number {
  const base = Math.min(maxMs, 50 * 2 ** Math.min(attempt - 1, 16));
  return Math.round(base + Math.random() * base * 0.1);
}

/**
 * A client for `url` (`redis://[user:pass@]host:port[/db]`, `rediss://` for TLS). It connects at
 * once, and while Redis is unreachable every command rejects (after at most one reconnection
 * attempt or `commandTimeoutMs`) instead of queueing for ever, so `/health` can say so; when
 * Redis is back, the same client serves again. The caller owns it: close it with {@link closeRedisClient}.
 */
export function createRedisClient(url: string, options: RedisClientOptions = {}): Redis {
  const maxDelay = options.maxReconnectDelayMs ?? 1000;
  const client = new Redis(url, {
    connectTimeout: options.connectTimeoutMs ?? 2000,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    // 0: commands waiting for a connection are rejected at each failed reconnection attempt.
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => reconnectDelay(attempt, maxDelay),
    // A failover turns the old primary into a replica: reconnect to whichever is primary now.
    reconnectOnError: (err) => err.message.startsWith("READONLY"),
    connectionName: options.connectionName,
  });
  client.on("error", (err: Error) => options.onError?.(err));
  return client;
}

/** Closes gracefully (QUIT after pending replies), or drops the connection when Redis does not answer in time. */
export async function closeRedisClient(client: Redis, timeoutMs = 1000): Promise<void> {
  if (client.status === "end") return;
  let timer: Timer | undefined;
  try {
    await Promise.race([client.quit(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("quit timed out")), timeoutMs)))]);
  } catch {
    client.disconnect();
  } finally {
    clearTimeout(timer);
  }
}

/** Liveness for `/health`: PING answers PONG. */
export async function pingRedis(client: Redis): Promise<void> {
  try {
    const reply = await client.ping();
    if (reply !== "PONG") throw new Error(`unexpected PING reply ${JSON.stringify(reply)}`);
  } catch (err) {
    throw asUnavailable(err);
  }
}

/** Redis replies that mean "not now" rather than "wrong". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|READONLY|OOM|TRYAGAIN|MASTERDOWN|CLUSTERDOWN|NOREPLICAS)\b/;

/**
 * A failure to reach Redis (refused, timed out, closed, loading) as a retryable 503; a reply
 * error that says the command itself is wrong is returned unchanged.
 */
export function asUnavailable(err: unknown): unknown {
  if (!(err instanceof Error) || err instanceof UnavailableError) return err;
  if (err.name === "ReplyError" && !TRANSIENT_REPLY.test(err.message)) return err;
  return new UnavailableError(`redis unavailable (${err.message}); try again`);
}

/** Runs `fn`, turning connection failures into {@link UnavailableError}. */
export async function unavailableOnFailure<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asUnavailable(err);
  }
}

/**
 * A Lua script as a method of `client`, sent with EVALSHA; ioredis loads it with EVAL on a
 * connection that has not seen it and retries on NOSCRIPT (after a Redis restart or SCRIPT FLUSH).
 * Defined once per client and name.
 */
export function defineScript(client: Redis, name: string, lua: string, numberOfKeys: number): (...args: (string | number)[]) => Promise<unknown> {
  const commands = client as unknown as Record<string, ((...args: (string | number)[]) => Promise<unknown>) | undefined>;
  if (typeof commands[name] !== "function") client.defineCommand(name, { lua, numberOfKeys });
  return (...args) => commands[name]!.apply(client, args);
}

/** Answers of a pipeline, throwing the first error any command got. */
export async function execPipeline(pipeline: ReturnType<Redis["pipeline"]>): Promise<unknown[]> {
  const results = (await pipeline.exec()) ?? [];
  return results.map(([err, reply]) => {
    if (err) throw err;
    return reply;
  });
}
