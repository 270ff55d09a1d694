/** @module Teardown in reverse order of setup, run once on SIGTERM/SIGINT or on demand; what an uncaught exception does. */
import { flushLog, type Logger } from "./logger.ts";

type Teardown = { name: string; run: () => Promise<void> | void };

export class Lifecycle {
  private readonly teardowns: Teardown[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly log: Logger) {}

  /** Registers a teardown; the last registered runs first. */
  onStop(name: string, run: Teardown["run"]): void {
    this.teardowns.push({ name, run });
  }

  /** Runs every teardown once, last-in-first-out; later calls wait for the first. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const teardown of [...this.teardowns].reverse()) {
        try {
          await teardown.run();
        } catch (err) {
          this.log.error({ err, component: teardown.name }, "teardown failed");
        }
      }
    })();
    return this.stopping;
  }

  /**
   * Stops on SIGTERM or SIGINT, then exits 0 (1 if stopping itself failed). A repeated
   * signal while stopping is ignored: `bun run` forwards Ctrl-C to a process that already
   * got it, and a second signal must not cut the drain short.
   */
  exitOnSignals(): void {
    const handle = (signal: string) => {
      if (this.stopping) {
        this.log.info({ signal }, "already shutting down");
        return;
      }
      this.log.info({ signal }, "shutting down");
      this.stop().then(
        () => {
          this.log.info("stopped");
          exitAfterFlush(this.log, 0);
        },
        () => exitAfterFlush(this.log, 1),
      );
    };
    process.on("SIGTERM", () => handle("SIGTERM"));
    process.on("SIGINT", () => handle("SIGINT"));
  }

  /**
   * An exception nothing caught ends the process, as it would without this, but logged (exit 1).
   * One kind does not: a connection reset reported by a socket its client has already let go of.
   * postgres.js drops every listener of a socket once it closes; under Bun the reset of that
   * connection can still arrive after the close, as an 'error' with no listener, and a PostgreSQL
   * restart killed the ingest role that way (the no-loss property test, production). The client
   * has already failed over to a new connection: nothing is left to handle.
   */
  exitOnUncaught(): void {
    process.on("uncaughtException", (err) => {
      if (isLateSocketReset(err)) {
        this.log.warn({ err }, "a closed connection reported a reset; ignored");
        return;
      }
      this.log.fatal({ err }, "uncaught exception; exiting");
      exitAfterFlush(this.log, 1);
    });
  }
}

/** A socket's report that its peer reset or closed the connection under a read or a write. */
function isLateSocketReset(err: unknown): boolean {
  const { code, syscall } = (err ?? {}) as { code?: unknown; syscall?: unknown };
  return (code === "ECONNRESET" || code === "EPIPE") && (syscall === "read" || syscall === "write");
}

/** How long exiting waits for the log to reach stdout. */
const FLUSH_TIMEOUT_MS = 2000;

/**
 * Exits once the log's asynchronous destination has written everything (the last lines, such
 * as "stopped", would otherwise be lost to `process.exit`), or after FLUSH_TIMEOUT_MS.
 */
function exitAfterFlush(log: Logger, code: number): void {
  const exit = () => process.exit(code);
  setTimeout(exit, FLUSH_TIMEOUT_MS).unref();
  try {
    flushLog(log, exit);
  } catch {
    exit();
  }
}
