/**
 * @module Keep-alive HTTP/1.1 connections over `Bun.connect`, pooled per origin: one exchange
 * at a time per connection, idle ones kept (a bounded number per origin, for a bounded time)
 * for the next request to the same origin.
 */
import type { Socket } from "bun";
import { ResponseParser } from "./response-parser.ts";

export interface Origin {
  /** `host:port`, the pool's key. */
  key: string;
  hostname: string;
  port: number;
}

export interface ConnectionsOptions {
  /** Idle connections kept per origin. */
  maxIdlePerOrigin: number;
  /** An idle connection unused this long is closed. */
  idleTimeoutMs: number;
}

/** The outcome of one exchange: a complete answer, or why there is none. */
export type Exchange =
  | { ok: true; parser: ResponseParser }
  | { ok: false; error: string; /** Nothing came back on a reused connection: the request may go again on a new one. */ stale: boolean };

/** Set `cancelled` and call `run` to give up on an exchange. */
export interface Cancel {
  cancelled: boolean;
  run?: () => void;
}

interface Pending {
  parser: ResponseParser;
  settle: (exchange: Exchange) => void;
  /** Bytes of the request not yet taken by the socket (back-pressure). */
  unsent: Buffer | null;
}

class Connection {
  pending: Pending | null = null;
  idleSince = 0;
  closed = false;

  constructor(
    readonly origin: Origin,
    readonly socket: Socket<Connection>,
  ) {}
}

export class Connections {
  private readonly idle = new Map<string, Connection[]>();
  private readonly sweeper: Timer;
  private readonly handlers = {
    data: (socket: Socket<Connection>, chunk: Buffer) => this.onData(socket.data, chunk),
    drain: (socket: Socket<Connection>) => this.onDrain(socket.data),
    end: (socket: Socket<Connection>) => this.onClose(socket.data, null),
    close: (socket: Socket<Connection>, error?: Error) => this.onClose(socket.data, error ?? null),
    error: (socket: Socket<Connection>, error: Error) => this.onClose(socket.data, error),
    connectError: () => {},
  };

  constructor(private readonly options: ConnectionsOptions) {
    this.sweeper = setInterval(() => this.closeExpired(), Math.max(100, Math.min(options.idleTimeoutMs, 5000)));
    this.sweeper.unref();
  }

  /**
   * Sends `request` (a whole HTTP/1.1 request) and waits for the complete answer. `cancel.run()`
   * (a timeout) drops the connection, whose answer may still come; an exchange cancelled while
   * it connects never sends.
   */
  async exchange(origin: Origin, request: string, maxBodyBytes: number, cancel: Cancel): Promise<Exchange> {
    const reused = this.takeIdle(origin);
    const connection = reused ?? (await this.connect(origin));
    if (cancel.cancelled) {
      this.destroy(connection);
      return { ok: false, error: "cancelled", stale: false };
    }
    const parser = new ResponseParser(maxBodyBytes);
    return new Promise<Exchange>((resolve) => {
      connection.pending = {
        parser,
        unsent: null,
        settle: (exchange) => {
          connection.pending = null;
          if (exchange.ok && exchange.parser.reusable && !connection.closed) this.putIdle(connection);
          else this.destroy(connection);
          resolve(exchange.ok ? exchange : { ...exchange, stale: reused !== undefined && exchange.stale && parser.receivedBytes === 0 });
        },
      };
      cancel.run = () => {
        if (connection.pending?.parser !== parser) return;
        connection.pending = null;
        this.destroy(connection);
      };
      const written = connection.socket.write(request);
      const total = Buffer.byteLength(request);
      if (written < 0) connection.pending.settle({ ok: false, error: "connection closed", stale: true });
      else if (written < total) connection.pending.unsent = Buffer.from(request).subarray(written);
    });
  }

  /** Closes every idle connection and stops the sweeper (in-flight ones finish or time out). */
  close(): void {
    clearInterval(this.sweeper);
    for (const list of this.idle.values()) for (const connection of list) this.destroy(connection);
    this.idle.clear();
  }

  private async connect(origin: Origin): Promise<Connection> {
    let connection: Connection | undefined;
    const socket = await Bun.connect<Connection>({
      hostname: origin.hostname,
      port: origin.port,
      socket: {
        ...this.handlers,
        open: (s) => {
          connection = new Connection(origin, s);
          s.data = connection;
        },
      },
    });
    socket.setNoDelay(true);
    return connection ?? (socket.data = new Connection(origin, socket));
  }

  private takeIdle(origin: Origin): Connection | undefined {
    const list = this.idle.get(origin.key);
    while (list && list.length > 0) {
      const connection = list.pop()!;
      if (!connection.closed) return connection;
    }
    return undefined;
  }

  private putIdle(connection: Connection): void {
    const key = connection.origin.key;
    let list = this.idle.get(key);
    if (!list) this.idle.set(key, (list = []));
    if (list.length >= this.options.maxIdlePerOrigin) {
      this.destroy(connection);
      return;
    }
    connection.idleSince = performance.now();
    list.push(connection);
  }

  private onData(connection: Connection | undefined, chunk: Buffer): void {
    if (!connection) return;
    const pending = connection.pending;
    if (!pending) {
      // An answer nobody asked for: the connection cannot be trusted.
      this.destroy(connection);
      return;
    }
    try {
      if (pending.parser.push(chunk)) pending.settle({ ok: true, parser: pending.parser });
    } catch (err) {
      pending.settle({ ok: false, error: `invalid response: ${(err as Error).message}`, stale: false });
    }
  }

  private onDrain(connection: Connection | undefined): void {
    const pending = connection?.pending;
    if (!connection || !pending?.unsent) return;
    const written = connection.socket.write(pending.unsent);
    if (written < 0) return;
    pending.unsent = written < pending.unsent.byteLength ? pending.unsent.subarray(written) : null;
  }

  private onClose(connection: Connection | undefined, error: Error | null): void {
    if (!connection || connection.closed) return;
    connection.closed = true;
    const pending = connection.pending;
    if (!pending) return;
    if (!error && pending.parser.end()) {
      pending.settle({ ok: true, parser: pending.parser });
      return;
    }
    const code = (error as (Error & { code?: string }) | null)?.code;
    const what = error ? (code ?? error.message) : pending.parser.receivedBytes === 0 ? "connection closed without an answer" : "connection closed mid-answer";
    pending.settle({ ok: false, error: what, stale: true });
  }

  private destroy(connection: Connection): void {
    if (!connection.closed) {
      connection.closed = true;
      connection.socket.terminate();
    }
    const list = this.idle.get(connection.origin.key);
    if (list) {
      const at = list.indexOf(connection);
      if (at >= 0) list.splice(at, 1);
      if (list.length === 0) this.idle.delete(connection.origin.key);
    }
  }

  private closeExpired(): void {
    const cutoff = performance.now() - this.options.idleTimeoutMs;
    for (const list of [...this.idle.values()]) for (const connection of [...list]) if (connection.idleSince < cutoff) this.destroy(connection);
  }
}
