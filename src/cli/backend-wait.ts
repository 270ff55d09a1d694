/**
 * @module Waiting for the production backends at start. A role whose PostgreSQL, Redis or Kafka
 * is not ready yet (down, restarting, migrating under another process's lock, creating the topic)
 * tries again with backoff, 0.2 s doubling to 5 s, for as long as it takes, and logs each failure
 * (warn, naming the backend and the error). Meanwhile, once it has waited a second or seen a
 * failure, each of its HTTP ports answers: `/health` 503 naming what it waits for and why, any
 * other path 503 `unavailable`. What retrying cannot fix (credentials or a database the server
 * refuses, a topic name Kafka refuses) ends the wait at once with one line; SIGTERM or SIGINT end
 * it too, and the process stops and exits 0.
 */
import { errorBody, type TlsFiles } from "../platform/http.ts";
import type { Lifecycle } from "../platform/lifecycle.ts";
import { flushLog, type Logger } from "../platform/logger.ts";

/** The first retry comes after FIRST_DELAY_MS, each next one after twice as long, at most MAX_DELAY_MS (plus up to 10 % jitter). */
export const FIRST_DELAY_MS = 200;
export const MAX_DELAY_MS = 5000;
/** A role still waiting this long without a failure (an attempt that hangs) opens its ports anyway. */
const SERVE_AFTER_MS = 1000;

/** One backend to wait for. */
export interface Readiness {
  /** Its name for operators: `PostgreSQL`, `Redis`, `Kafka`. */
  backend: string;
  /** The log `component` of its lines: `postgres`, `redis`, `kafka`. */
  component: string;
  /** The `/health` check that names it once the role serves: `store`, `retry_schedule`, `event_log`. */
  check: string;
  /** The configuration key to look at when it cannot be used. */
  setting: string;
  /** One try; resolves once the backend is ready for this process. */
  attempt(): Promise<void>;
  /** Whether a failure is one that retrying cannot fix. */
  fatal?(err: unknown): boolean;
}

/** A reason the process cannot start, already worded for the operator (one line). */
export class StartupProblem extends Error {
  override name = "StartupProblem";
}

/** SIGTERM or SIGINT came while waiting: everything is stopped, the process should exit 0. */
export class WaitStopped extends Error {
  override name = "WaitStopped";
  constructor(readonly signal: string) {
    super(`stopped by ${signal} while waiting for the backends`);
  }
}

/** What `/health` says about a backend not ready yet. */
export interface Waiting {
  backend: string;
  check: string;
  /** When the wait for it began (ISO 8601). */
  since: string;
  /** Failed attempts so far. */
  attempts: number;
  /** The last failure; null while the first attempt is under way. */
  error: string | null;
}

/** An HTTP role's port, served while waiting. */
export interface WaitingPort {
  role: string;
  port: number;
}

export interface BackendWaitOptions {
  log: Logger;
  lifecycle: Lifecycle;
  /** Secrets (the password of a configured URL) never to show in a log line or `/health`. */
  secrets?: string[];
  /** Where to answer while waiting: the HTTP roles' ports. */
  listen?: { host: string; ports: WaitingPort[]; tls: () => TlsFiles | undefined };
  firstDelayMs?: number;
  maxDelayMs?: number;
}

/** The delay before retry `attempt` (1, 2, …): first, doubling, at most max, plus up to 10 % jitter. */
export function retryDelay(attempt: number, firstMs = FIRST_DELAY_MS, maxMs = MAX_DELAY_MS): number {
  const base = Math.min(maxMs, firstMs * 2 ** Math.min(attempt - 1, 20));
  return Math.round(base + Math.random() * base * 0.1);
}

/**
 * An error as one line: the outer message and the distinct innermost causes (a Kafka error nests
 * `Listing topics failed` → `metadata failed 3 times` → … → `connect ECONNREFUSED 127.0.0.1:9092`).
 */
export function errorText(err: unknown): string {
  const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, " ").trim();
  const leaves: string[] = [];
  const walk = (e: unknown, depth: number) => {
    const inner: unknown[] = [];
    if (depth < 8 && e && typeof e === "object") {
      const { errors, cause } = e as { errors?: unknown; cause?: unknown };
      if (Array.isArray(errors)) inner.push(...errors.filter(Boolean));
      if (cause) inner.push(cause);
    }
    if (inner.length === 0) {
      const text = message(e);
      if (text && !leaves.includes(text)) leaves.push(text);
    } else for (const i of inner) walk(i, depth + 1);
  };
  walk(err, 0);
  const top = message(err);
  const text = leaves.length === 0 || (leaves.length === 1 && leaves[0] === top) ? top : `${top.replace(/\.$/, "")}: ${leaves.join("; ")}`;
  const code = (err as { code?: unknown })?.code;
  const withCode = typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && !text.includes(code) ? `${text} (${code})` : text;
  return withCode.length > 500 ? `${withCode.slice(0, 497)}...` : withCode;
}

/** The passwords in URLs like `postgres://user:password@host/db` (as written and decoded). */
export function urlPasswords(urls: string[]): string[] {
  const found = new Set<string>();
  for (const url of urls) {
    const raw = /^[a-z][a-z0-9+.-]*:\/\/[^/?#@]*?:([^/?#@]*)@/i.exec(url)?.[1];
    if (!raw) continue;
    found.add(raw);
    try {
      found.add(decodeURIComponent(raw));
    } catch {}
  }
  return [...found].filter((s) => s.length >= 3);
}

/**
 * Starts the production backends, waiting for each until it is ready (see the module comment).
 * `run` may be called once; `stopServing` hands the ports over to the role's own listeners.
 */
export class BackendWait {
  private readonly pending = new Map<string, Waiting>();
  private readonly sleepers = new Set<() => void>();
  private readonly stoppers = new Set<(err: Error) => void>();
  private stopped: Error | undefined;
  private servers: { stop(): Promise<void> } | undefined;
  private serveTimer: Timer | undefined;
  private readonly firstDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(private readonly options: BackendWaitOptions) {
    this.firstDelayMs = options.firstDelayMs ?? FIRST_DELAY_MS;
    this.maxDelayMs = options.maxDelayMs ?? MAX_DELAY_MS;
  }

  /** The backends not ready yet, in the order they were asked for. */
  waiting(): Waiting[] {
    return [...this.pending.values()].map((w) => ({ ...w }));
  }

  /**
   * Runs `build` (which calls {@link until}) with the signal handlers and the waiting ports in
   * place. Rejects with {@link WaitStopped} after stopping the process's lifecycle on a signal,
   * or with a {@link StartupProblem} whose message is the whole reason.
   */
  async run<T>(build: (wait: BackendWait) => Promise<T>): Promise<T> {
    const onSignal = (signal: NodeJS.Signals) => this.stop(new WaitStopped(signal));
    const onTerm = () => onSignal("SIGTERM");
    const onInt = () => onSignal("SIGINT");
    process.on("SIGTERM", onTerm);
    process.on("SIGINT", onInt);
    this.options.lifecycle.onStop("startup ports", () => this.stopServing());
    try {
      return await this.raced(build(this));
    } catch (err) {
      if (err instanceof WaitStopped) {
        const { log, lifecycle } = this.options;
        log.info({ signal: err.signal }, "shutting down while waiting for the backends");
        await lifecycle.stop();
        log.info("stopped");
        await new Promise<void>((done) => {
          setTimeout(done, 2000).unref();
          try {
            flushLog(log, done);
          } catch {
            done();
          }
        });
        throw err;
      }
      if (err instanceof StartupProblem) throw err;
      throw new StartupProblem(`cannot start on the configured backends: ${this.scrub(errorText(err))}`);
    } finally {
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
      clearTimeout(this.serveTimer);
    }
  }

  /** Waits until every backend is ready, trying them side by side. */
  until(steps: Readiness[]): Promise<void> {
    this.serveTimer ??= setTimeout(() => this.serve(), SERVE_AFTER_MS);
    return this.raced(Promise.all(steps.map((step) => this.waitFor(step))).then(() => {}));
  }

  /** Closes the waiting ports (a no-op when they were never opened), so the role's own listeners can take them. */
  async stopServing(): Promise<void> {
    clearTimeout(this.serveTimer);
    const servers = this.servers;
    this.servers = undefined;
    await servers?.stop();
  }

  private stop(reason: Error): void {
    if (this.stopped) return;
    this.stopped = reason;
    for (const wake of this.sleepers) wake();
    for (const reject of this.stoppers) reject(reason);
  }

  /** `work`, or the reason the wait was stopped, whichever comes first. */
  private raced<T>(work: Promise<T>): Promise<T> {
    if (this.stopped) return Promise.reject(this.stopped);
    let reject!: (err: Error) => void;
    const stopped = new Promise<never>((_, r) => (reject = r));
    this.stoppers.add(reject);
    return Promise.race([work, stopped]).finally(() => this.stoppers.delete(reject));
  }

  private scrub(text: string): string {
    let out = text;
    for (const secret of urlPasswords(this.options.secrets ?? [])) out = out.split(secret).join("[redacted]");
    return out;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  private async waitFor(step: Readiness): Promise<void> {
    const began = Date.now();
    const entry: Waiting = { backend: step.backend, check: step.check, since: new Date(began).toISOString(), attempts: 0, error: null };
    this.pending.set(step.backend, entry);
    const log = this.options.log.child({ component: step.component });
    for (;;) {
      try {
        await step.attempt();
      } catch (err) {
        if (this.stopped) return;
        entry.attempts++;
        entry.error = this.scrub(errorText(err));
        if (step.fatal?.(err)) {
          this.stop(new StartupProblem(`cannot start on the configured backends: ${step.backend}: ${entry.error.replace(/\.$/, "")}; retrying cannot fix this: check ${step.setting}`));
          return;
        }
        const delay = retryDelay(entry.attempts, this.firstDelayMs, this.maxDelayMs);
        log.warn({ backend: step.backend, attempt: entry.attempts, retry_in_ms: delay }, `waiting for ${step.backend}: ${entry.error}`);
        this.serve();
        await this.sleep(delay);
        if (this.stopped) return;
        continue;
      }
      this.pending.delete(step.backend);
      if (entry.attempts > 0) log.info({ backend: step.backend, attempts: entry.attempts + 1, waited_ms: Date.now() - began }, `${step.backend} is ready`);
      return;
    }
  }

  /** Opens the waiting ports, once; a port that cannot be had ends the wait as the role's own listener would. */
  private serve(): void {
    const listen = this.options.listen;
    if (this.servers || this.stopped || !listen || listen.ports.length === 0) return;
    let tls: TlsFiles | undefined;
    try {
      tls = listen.tls();
    } catch (err) {
      this.stop(new StartupProblem((err as Error).message));
      return;
    }
    const started: ReturnType<typeof Bun.serve>[] = [];
    this.servers = { stop: async () => void (await Promise.all(started.map((s) => s.stop(true)))) };
    for (const { role, port } of listen.ports) {
      try {
        started.push(
          Bun.serve({
            hostname: listen.host,
            port,
            reusePort: false,
            // No cap of Bun's own: it answered a large body's head with a bare 413 instead of the
            // 503 below. The body is never read; the answer closes the connection instead.
            maxRequestBodySize: Number.MAX_SAFE_INTEGER,
            ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
            fetch: (request) => this.answer(role, request),
          }),
        );
      } catch (err) {
        const inUse = (err as { code?: string }).code === "EADDRINUSE" || /EADDRINUSE|address already in use/i.test((err as Error).message);
        this.stop(new StartupProblem(`${role}: cannot listen on ${listen.host}:${port}${inUse ? ": the port is in use" : `: ${(err as Error).message}`}`));
        return;
      }
    }
  }

  /** `/health`: 503 in the shape of the role's own (`failing`), plus what it waits for; anything else 503 `unavailable`. */
  private answer(role: string, request: Request): Response {
    const waiting = this.waiting();
    const failing = waiting.length > 0 ? waiting.map((w) => `${w.check}: waiting for ${w.backend}${w.error ? `: ${w.error}` : ""}`) : ["starting: the backends are ready, the role is starting"];
    // A body is never read here: the connection closes after the answer instead of draining it.
    const headers = { "content-type": "application/json", "retry-after": "1", ...(request.body ? { connection: "close" } : {}) };
    const body = new URL(request.url).pathname === "/health" ? { status: "unavailable", role, failing, waiting } : errorBody("unavailable", `${role} is starting: ${failing.join("; ")}`);
    return new Response(JSON.stringify(body), { status: 503, headers });
  }
}
