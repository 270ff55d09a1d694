/** @module Creates the PostgreSQL connection pool and turns connection failures into retryable 503s. */
import postgres from "postgres";
import { UnavailableError, ValidationError } from "../../domain/errors.ts";

/** BIGINT columns (millisecond times, counts) read as numbers: every value we store fits in 2^53. */
const TYPES = {
  bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) },
};

/** The pool every PostgreSQL adapter shares; one per process, made by the composition root. */
export type Sql = postgres.Sql<{ bigint: number }>;
/** The same, inside `sql.begin(...)`. */
export type Tx = postgres.TransactionSql<{ bigint: number }>;

export interface PostgresOptions {
  /** `postgres://user:pass@host:port/db`; query parameters such as `options=-c search_path=x` pass through. */
  url: string;
  /** Pool size (`database.max_connections`). */
  maxConnections: number;
  /** Give up on connecting after this long. */
  connectTimeoutSeconds?: number;
  /** Close a connection left idle this long (the pool reopens it when needed). */
  idleTimeoutSeconds?: number;
  /** Server-side `statement_timeout`; 0 disables it (migrations on large tables). */
  statementTimeoutMs?: number;
  /** `application_name` shown in `pg_stat_activity`. */
  applicationName?: string;
  /** Server notices (e.g. "relation already exists, skipping"); ignored when omitted. */
  onNotice?: (message: string) => void;
}

/** Opens nothing yet: connections are made on first use, up to `maxConnections`. Call `end()` to close. */
export function createPool(options: PostgresOptions): Sql {
  return postgres(options.url, {
    max: options.maxConnections,
    connect_timeout: options.connectTimeoutSeconds ?? 10,
    idle_timeout: options.idleTimeoutSeconds ?? 60,
    types: TYPES,
    onnotice: (notice) => options.onNotice?.(String(notice.message ?? notice)),
    connection: {
      application_name: options.applicationName ?? "hookrelay",
      statement_timeout: options.statementTimeoutMs ?? 30_000,
      // A prepared statement's generic plan is made once and kept until the table's statistics
      // change: planned on a new deployment's empty tables, the dispatcher's lookups scanned the
      // whole table on every batch (5 ms a batch at 60,000 deliveries, until autovacuum's first
      // ANALYZE a minute or more later). A plan for each execution's own values costs far less.
      plan_cache_mode: "force_custom_plan",
    },
  });
}

/** Liveness: a trivial query answers. */
export async function pingPostgres(sql: Sql): Promise<void> {
  await sql`select 1`;
}

/**
 * SQLSTATE classes and client codes that mean "the database is not reachable right now":
 * connection exceptions (08), operator intervention such as a restart (57P0x), too many
 * connections (53300), a statement cancelled by the timeout (57014), and the driver's own.
 */
const UNREACHABLE_SQLSTATE = /^(08|57P0)|^(53300|57014)$/;
const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT"]);

/**
 * Text PostgreSQL cannot store: NUL (22021), or a character without an equivalent in the server's
 * encoding (22P05). SQLite stores both, so the same request is refused alike in both deployments
 * where a field's schema says so; elsewhere this keeps it a 422 naming the cause instead of a 500.
 */
const UNSTORABLE_TEXT = new Set(["22021", "22P05"]);

/** A failure to reach the database as a 503 the client can retry, text it cannot store as a 422; anything else unchanged. */
export function asUnavailable(err: unknown): unknown {
  if (err instanceof UnavailableError) return err;
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== "string") return err;
  if (UNREACHABLE_CODES.has(code) || UNREACHABLE_SQLSTATE.test(code)) return new UnavailableError(`database unavailable (${code}); try again`);
  if (UNSTORABLE_TEXT.has(code)) return new ValidationError("a text value cannot be stored: it holds a NUL character (U+0000) or one the database's encoding lacks");
  return err;
}

/** Rejections of `work` that mean "not reachable" become UnavailableError. */
export function guarded<T>(work: Promise<T>): Promise<T> {
  return work.catch((err) => Promise.reject(asUnavailable(err)));
}

/** deadlock_detected and serialization_failure: the statement had no effect and may simply run again. */
const RETRYABLE = new Set(["40P01", "40001"]);

/** Runs a self-contained statement again (up to `tries` times) when the server aborted it for a deadlock. */
export async function retryConflicts<T>(work: () => Promise<T>, tries = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      const code = (err as { code?: unknown })?.code;
      if (attempt >= tries || typeof code !== "string" || !RETRYABLE.has(code)) throw err;
      await Bun.sleep(attempt * 5 + Math.random() * 10);
    }
  }
}
