/**
 * @module How embedded shards hand events to each other. Every shard's ingest port takes any
 * customer's events (the kernel spreads connections over the processes, SO_REUSEPORT); events of
 * a customer another shard owns are appended by that shard, over its Unix socket, and the producer
 * is answered only once the owner has them durably, as for its own. A shard that does not answer
 * makes the request a 503: the producer sends again and the owner's `(customer, id)` key dedupes.
 */
import { existsSync, unlinkSync } from "node:fs";
import type { Server } from "bun";
import { RateLimitedError, UnavailableError } from "../../domain/errors.ts";
import type { Event } from "../../domain/model.ts";
import type { AppendOutcome, EventConsumer, EventLog } from "../../domain/ports.ts";
import { Coalescer } from "../../platform/coalesce.ts";
import { byShard, MAX_SOCKET_PATH, shardOf } from "./shards.ts";

/** A shard restarted by its supervisor is back within about this long (Retry-After of the 503). */
const RETRY_AFTER_S = 1;
/** How long a shard waits for another to take its events before answering 503. */
const FORWARD_TIMEOUT_MS = 10_000;

/** One request's events as the owner answers them: their outcomes, or its customer's rate limit refusing them all. */
type Handed = { outcomes: AppendOutcome[] } | { limited: { message: string; retryAfter: number } };

/** Appends to the event log of the shard listening on `socket`. */
export class ShardLink {
  /**
   * The requests of one turn of the loop go over together (one round trip, one commit at the
   * owner), each still charged to its customer's ingest bucket and answered on its own.
   */
  private readonly forwarder = new Coalescer<Event[], Handed>((requests) => this.forward(requests), { maxItems: 500 });

  constructor(
    private readonly shard: number,
    private readonly socket: string,
  ) {}

  async append(events: Event[]): Promise<AppendOutcome[]> {
    const [handed] = await this.forwarder.submit([events]);
    if ("outcomes" in handed!) return handed.outcomes;
    const { message, retryAfter } = handed!.limited;
    throw new RateLimitedError(message, retryAfter, { "retry-after": String(retryAfter) });
  }

  private async forward(requests: Event[][]): Promise<Handed[]> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), FORWARD_TIMEOUT_MS);
    let response: Response;
    try {
      response = await fetch("http://shard/append", {
        unix: this.socket,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(requests),
        signal: abort.signal,
      });
    } catch (err) {
      throw new UnavailableError(`shard ${this.shard} is not answering (${(err as Error).message}); try again`, RETRY_AFTER_S);
    } finally {
      clearTimeout(timer);
    }
    if (response.status === 503) throw new UnavailableError(`shard ${this.shard} cannot take events now; try again`, RETRY_AFTER_S);
    if (!response.ok) throw new Error(`shard ${this.shard} answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as Handed[];
  }
}

/** The event log a shard's ingest writes to: its own for its customers, the owner's for the others. */
export class ShardedEventLog implements EventLog {
  constructor(
    private readonly own: number,
    private readonly local: EventLog,
    /** One per shard; this shard's own entry is not used. */
    private readonly links: ShardLink[],
  ) {}

  ping(): Promise<void> {
    return this.local.ping();
  }

  append(events: Event[]): Promise<AppendOutcome[]> {
    return byShard(
      events,
      (e) => shardOf(e.customerId, this.links.length),
      (shard, part) => (shard === this.own ? this.local.append(part) : this.links[shard]!.append(part)),
    );
  }

  consumer(group: string): EventConsumer {
    return this.local.consumer(group);
  }
}

export interface ShardServerDeps {
  /** This shard's own log: the events handed over are its customers'. */
  eventLog: EventLog;
  /** Charges each request's events to its customer's ingest bucket, which this shard keeps. */
  charge: (customerId: string, events: number) => Promise<unknown>;
  /** This process's metrics exposition, read by the observability role in shard 0. */
  metrics: () => Promise<string>;
}

/** Charges each request to its customer, then appends the events of those allowed in one write. */
async function take(deps: ShardServerDeps, requests: Event[][]): Promise<Handed[]> {
  const refusals = await Promise.all(
    requests.map((events) =>
      events.length === 0
        ? null
        : deps.charge(events[0]!.customerId, events.length).then(
            () => null,
            (err) => {
              if (!(err instanceof RateLimitedError)) throw err;
              return { message: err.message, retryAfter: err.retryAfterSeconds };
            },
          ),
    ),
  );
  const allowed = requests.filter((_, i) => refusals[i] === null);
  const outcomes = await deps.eventLog.append(allowed.flat());
  let at = 0;
  return requests.map((events, i) => {
    const limited = refusals[i];
    if (limited) return { limited };
    const mine = outcomes.slice(at, at + events.length);
    at += events.length;
    return { outcomes: mine };
  });
}

/** Serves `POST /append` and `GET /metrics` on a Unix socket (only this user may connect: the data directory's permissions). */
export function serveShard(socket: string, deps: ShardServerDeps): { stop(): Promise<void> } {
  if (socket.length > MAX_SOCKET_PATH) throw new Error(`the shard socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes: use a shorter database.data_dir`);
  if (existsSync(socket)) unlinkSync(socket); // left by a shard killed -9; its lock is ours now
  const server: Server<undefined> = Bun.serve({
    unix: socket,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === "/append" && request.method === "POST") {
        try {
          return Response.json(await take(deps, (await request.json()) as Event[][]));
        } catch (err) {
          return new Response((err as Error).message, { status: err instanceof UnavailableError ? 503 : 500 });
        }
      }
      if (path === "/metrics" && request.method === "GET") return new Response(await deps.metrics(), { headers: { "content-type": "text/plain; version=0.0.4" } });
      return new Response("not found", { status: 404 });
    },
  });
  return {
    stop: async () => {
      await server.stop(false);
      if (existsSync(socket)) unlinkSync(socket);
    },
  };
}
