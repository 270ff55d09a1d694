/**
 * @module The one HTTP bootstrap every role uses: health, metrics, error shape, access
 * metrics and bounded JSON bodies. Each role adds its own routes.
 */

import { Type } from "@sinclair/typebox";
import type { ValueError } from "@sinclair/typebox/value";
import { type AnyElysia, Elysia } from "elysia";
import { AppError, BadRequestError, PayloadTooLargeError, RateLimitedError, RequestTimeoutError, UnavailableError, ValidationError } from "../domain/errors.ts";
import type { Pingable } from "../domain/ports.ts";
import { durationMs } from "./duration.ts";
import type { Logger } from "./logger.ts";
import type { Metrics } from "./metrics.ts";
import { invalid } from "./validate.ts";

export interface HttpDeps {
  role: string;
  log: Logger;
  metrics: Metrics;
  /** Dependencies `/health` checks, by name. */
  checks: Record<string, Pingable>;
  /** What `/metrics` answers; this process's registry when absent (the observability role adds the others'). */
  exposition?: () => Promise<string>;
  /**
   * Why this request is refused now (the process is at capacity for it), or null. When it says so,
   * the request is answered 503 with Retry-After before its body is read or parsed: a refusal costs
   * about what a bare request does, so twice the load this process can take does not eat the work it can.
   */
  shed?: (request: Request) => string | null;
  /** What a request no route matched is told instead of "no route", or null: where this role knows it belongs (the gateway: events go to ingest). */
  notFound?: (request: Request) => string | null;
}

const HEALTH_TIMEOUT_MS = 2000;
/** Longest request URL served (path and query), characters; beyond it 414. */
export const MAX_URL_CHARS = 8192;
/** Most request headers, and their total size in bytes (names and values); beyond either 431. Bun itself refuses a head over ~16 KiB (a bare 431). */
export const MAX_HEADERS = 100;
export const MAX_HEADER_BYTES = 12 * 1024;

/**
 * Seconds a connection may go without finishing a request (its head, its body and the answer)
 * or stay idle between requests; then Bun closes it without an answer. At least 10 s more than
 * `security.body_timeout`, so a slow body gets its 408 first.
 */
export const IDLE_TIMEOUT_S = 30;

/** Bun's idle timeout for a listener with these limits, seconds (Bun allows at most 255). */
export function idleTimeoutSeconds(limits: EdgeLimits): number {
  return Math.min(255, Math.max(IDLE_TIMEOUT_S, Math.ceil(limits.bodyTimeoutMs / 1000) + 10));
}

/** What every HTTP listener bounds for each client before any costly work (SECURITY.md). */
export interface EdgeLimits {
  /** Deepest nesting of arrays and objects in a JSON body (the body's own value counts 1); deeper: 422 before parsing. */
  maxJsonDepth: number;
  /** Longest a request body may take to arrive, counted from its head; past it 408 and the connection is closed. */
  bodyTimeoutMs: number;
  /** Requests one client IP may have in progress at once on one listener; past it 429 at once and the connection is closed. 0 = no limit. */
  maxConnectionsPerIp: number;
  /** The client IP is X-Forwarded-For's last entry (the rate limits' rule). */
  trustForwardedFor: boolean;
}

export const DEFAULT_EDGE_LIMITS: EdgeLimits = { maxJsonDepth: 64, bodyTimeoutMs: 10_000, maxConnectionsPerIp: 512, trustForwardedFor: false };

/** The edge limits of the `security` configuration section. */
export function edgeLimits(security: { max_json_depth: number; body_timeout: string; max_connections_per_ip: number; trust_forwarded_for: boolean }): EdgeLimits {
  return {
    maxJsonDepth: security.max_json_depth,
    bodyTimeoutMs: durationMs(security.body_timeout),
    maxConnectionsPerIp: security.max_connections_per_ip,
    trustForwardedFor: security.trust_forwarded_for,
  };
}

/** A listener's limits and the requests each client IP has in progress on it. */
interface Edge {
  limits: EdgeLimits;
  inProgress: Map<string, number>;
}

/** Each listening server's edge, set by `listen` (apps served by `handle` in tests have none: the defaults apply). */
const edges = new WeakMap<object, Edge>();

/** A request's limits, when its head arrived, the IP it counts against until its answer, and whether its body was abandoned part-read. */
interface Admitted {
  limits: EdgeLimits;
  began: number;
  edge?: Edge;
  ip?: string;
  cutShort?: boolean;
}
const admitted = new WeakMap<Request, Admitted>();

/**
 * Counts the request against its client IP's requests in progress, or refuses it at once (429,
 * connection closed) when that IP already has `maxConnectionsPerIp`: a client trickling bodies
 * over thousands of connections holds at most that many of the process's file descriptors.
 */
function limitConnectionsPerIp(request: Request, server: { requestIP(request: Request): { address: string } | null } | null, began: number): Response | null {
  const edge = server ? edges.get(server) : undefined;
  if (!edge) {
    admitted.set(request, { limits: DEFAULT_EDGE_LIMITS, began });
    return null;
  }
  const { limits } = edge;
  const ip = limits.maxConnectionsPerIp > 0 ? clientIp({ request, set: { headers: {} }, server }, limits.trustForwardedFor) : null;
  if (ip === null) {
    admitted.set(request, { limits, began });
    return null;
  }
  const open = edge.inProgress.get(ip) ?? 0;
  if (open >= limits.maxConnectionsPerIp)
    return jsonResponse(429, errorBody("too_many_connections", `${ip} has ${open} requests in progress; at most ${limits.maxConnectionsPerIp} at once`), {
      "retry-after": "1",
      connection: "close",
    });
  edge.inProgress.set(ip, open + 1);
  admitted.set(request, { limits, began, edge, ip });
  return null;
}

/** Ends the request's count against its IP (once). */
function release(request: Request): void {
  const entry = admitted.get(request);
  if (!entry?.edge || entry.ip === undefined) return;
  const open = (entry.edge.inProgress.get(entry.ip) ?? 1) - 1;
  if (open > 0) entry.edge.inProgress.set(entry.ip, open);
  else entry.edge.inProgress.delete(entry.ip);
  entry.ip = undefined;
}

/**
 * Whether the request came with a body nobody read, or one abandoned part-read (too slow, too
 * large): its answer closes the connection, or Bun would keep it open (and no longer counted)
 * while the rest of the body trickles in.
 */
function bodyLeftUnread(request: Request): boolean {
  if (admitted.get(request)?.cutShort) return true;
  if (request.bodyUsed) return false;
  return request.headers.has("transfer-encoding") || Number(request.headers.get("content-length") ?? 0) > 0;
}

/** A refusal for a request line or headers out of bounds, or null when they are within them. */
function requestTooLarge(request: Request): Response | null {
  if (request.url.length > MAX_URL_CHARS) return jsonResponse(414, errorBody("uri_too_long", `the request URL is ${request.url.length} characters; at most ${MAX_URL_CHARS}`));
  let count = 0;
  let bytes = 0;
  for (const [name, value] of request.headers) {
    count++;
    bytes += name.length + value.length;
  }
  if (count > MAX_HEADERS) return jsonResponse(431, errorBody("headers_too_large", `the request has ${count} headers; at most ${MAX_HEADERS}`));
  if (bytes > MAX_HEADER_BYTES) return jsonResponse(431, errorBody("headers_too_large", `the request's headers are ${bytes} bytes; at most ${MAX_HEADER_BYTES}`));
  return null;
}

/** The error shape every refusal answers with, as the OpenAPI documents show it. */
export const ErrorSchema = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({ description: "stable, machine-readable: validation_failed, not_found, rate_limited, …" }),
        message: Type.String({ description: "for people: names the bad value and where it came from" }),
        details: Type.Optional(Type.Array(Type.String(), { description: "every problem, when validation found several" })),
      },
      { additionalProperties: false },
    ),
  },
  {
    additionalProperties: false,
    description: "Every error of the API (except /oauth/token's, which are RFC 6749's). Never a stack trace.",
    examples: [{ error: { code: "not_found", message: "webhook 'wh_nope' not found" } }],
  },
);

export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

/** Pings every dependency in parallel; names the ones that fail or do not answer in time. */
export async function checkHealth(checks: Record<string, Pingable>): Promise<{ ok: boolean; failing: string[] }> {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, dep]) => {
      let timer: Timer | undefined;
      try {
        await Promise.race([dep.ping(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("no answer in time")), HEALTH_TIMEOUT_MS)))]);
        return null;
      } catch (err) {
        return `${name}: ${(err as Error).message}`;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const failing = results.filter((r): r is string => r !== null);
  return { ok: failing.length === 0, failing };
}

/** /health's answer. */
export const HealthSchema = Type.Object(
  {
    status: Type.Union([Type.Literal("ok"), Type.Literal("unavailable")]),
    role: Type.String(),
    failing: Type.Optional(Type.Array(Type.String(), { description: "the dependencies that failed, with why" })),
  },
  {
    additionalProperties: false,
    examples: [
      { status: "ok", role: "gateway" },
      { status: "unavailable", role: "ingest", failing: ["event_log: no answer in time"] },
    ],
  },
);

/** An Elysia app with `/health`, `/metrics`, the error shape and request counting. */
export function createHttpApp(deps: HttpDeps) {
  const { role, log, metrics } = deps;
  const began = new WeakMap<Request, number>();
  // normalize off: an unknown field or query parameter is refused (422), not silently dropped.
  return new Elysia({ name: `hookrelay-${role}`, normalize: false })
    .onRequest(({ request, set, server }) => {
      const now = performance.now();
      began.set(request, now);
      const shedding = deps.shed?.(request) ?? null;
      if (shedding !== null) {
        set.status = 503; // read by the request counter below
        // The body is left unread: Bun discards it and keeps the connection (tests/e2e/overload.test.ts).
        return jsonResponse(503, errorBody("unavailable", shedding), { "retry-after": "1" });
      }
      const refused = requestTooLarge(request) ?? limitConnectionsPerIp(request, server, now);
      if (refused) {
        set.status = refused.status; // read by the request counter below
        if (bodyLeftUnread(request)) refused.headers.set("connection", "close");
      }
      return refused ?? undefined;
    })
    .onError(({ code, error: thrown, request, set }) => {
      let error: unknown = thrown;
      const respond = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        set.status = status; // read by the request counter below
        // A body cut short (too slow, too large) or never read: close rather than wait for the rest of it.
        return jsonResponse(status, body, bodyLeftUnread(request) ? { ...headers, connection: "close" } : headers);
      };
      // The access macros check credentials and read the body in `parse`: Elysia wraps what they throw.
      const cause = code === "PARSE" ? (error as Error).cause : undefined;
      if (cause instanceof AppError) error = cause;
      if (code === "VALIDATION") {
        const failed = error as unknown as { type: string; all: ValueError[] };
        // An answer that does not match its own schema is this process's bug, not the caller's.
        if (failed.type !== "response") error = invalid(failed.all, failed.type === "body" ? "body" : failed.type);
        else log.error({ err: error, method: request.method, url: new URL(request.url).pathname }, "an answer does not match its schema");
      }
      if (error instanceof AppError) {
        const details = error instanceof ValidationError && error.details.length > 1 ? { details: error.details } : {};
        const retryAfter: Record<string, string> =
          error instanceof RateLimitedError ? error.headers : error instanceof UnavailableError && error.retryAfterSeconds !== undefined ? { "retry-after": String(error.retryAfterSeconds) } : {};
        return respond(error.status, { error: { ...errorBody(error.code, error.message).error, ...details } }, retryAfter);
      }
      if (code === "NOT_FOUND") return respond(404, errorBody("not_found", deps.notFound?.(request) ?? `no route for ${request.method} ${new URL(request.url).pathname}`));
      if (code === "PARSE") return respond(400, errorBody("invalid_json", "request body is not valid JSON"));
      log.error({ err: error, method: request.method, url: new URL(request.url).pathname }, "unhandled error");
      return respond(500, errorBody("internal", "internal error"));
    })
    .onAfterHandle(({ request, set }) => {
      if (bodyLeftUnread(request)) set.headers.connection = "close";
    })
    .onAfterResponse(({ request, route, set }) => {
      release(request);
      const status = typeof set.status === "number" ? set.status : 200;
      const matched = route || "unmatched";
      metrics.httpRequests.inc({ role, method: request.method, route: matched, status: String(status) });
      const start = began.get(request);
      if (start !== undefined) metrics.httpDuration.observe({ role, method: request.method, route: matched }, (performance.now() - start) / 1000);
    })
    .get(
      "/health",
      async ({ set }) => {
        const { ok, failing } = await checkHealth(deps.checks);
        if (!ok) {
          set.status = 503;
          return { status: "unavailable", role, failing };
        }
        return { status: "ok", role };
      },
      {
        detail: {
          operationId: "health",
          tags: ["Service"],
          summary: "Health: 200, or 503 naming the failing dependency",
          responses: {
            200: { description: "Every dependency answers", content: { "application/json": { schema: HealthSchema } } },
            503: { description: "A dependency fails", content: { "application/json": { schema: HealthSchema } } },
          },
        },
      },
    )
    .get(
      "/metrics",
      async ({ set }) => {
        set.headers["content-type"] = metrics.registry.contentType;
        return deps.exposition ? deps.exposition() : metrics.registry.metrics();
      },
      {
        detail: {
          operationId: "metrics",
          tags: ["Service"],
          summary: "Prometheus metrics of this process",
          responses: { 200: { description: "Prometheus text exposition format", content: { "text/plain": {} } } },
        },
      },
    );
}

export type HttpApp = AnyElysia;

/** What a handler passes on to shared checks (who calls, rate limits): its request, response headers and server. */
export interface RequestContext {
  request: Request;
  set: { headers: Record<string, string | number> };
  server: { requestIP(request: Request): { address: string } | null } | null;
}

/** Each request's socket peer, once looked up. */
const peers = new WeakMap<Request, string | null>();

/**
 * The client's address: the peer of the socket, or, behind a proxy trusted to add it, the last
 * address of `X-Forwarded-For` (the one that proxy saw; earlier entries are the client's own word).
 */
export function clientIp(ctx: RequestContext, trustForwardedFor: boolean): string | null {
  if (trustForwardedFor) {
    const forwarded = ctx.request.headers.get("x-forwarded-for");
    const last = forwarded?.split(",").at(-1)?.trim();
    if (last) return last;
  }
  // Looked up once per request: the connection cap and the rate limits both ask (2% of the loop at 5k/s).
  const known = peers.get(ctx.request);
  if (known !== undefined) return known;
  const peer = ctx.server?.requestIP(ctx.request)?.address ?? null;
  peers.set(ctx.request, peer);
  return peer;
}

/**
 * Reads a JSON body, refusing more than `limitBytes` before reading it all: 413 for too
 * large, 408 for a body slower than the listener's body timeout, 400 for malformed JSON or a
 * wrong content type, 422 for nesting deeper than its JSON depth (found before parsing). An empty
 * body is 400 too, or `{}` when the body is `optional`.
 */
export async function readJson(request: Request, limitBytes: number, optional = false): Promise<unknown> {
  const contentType = request.headers.get("content-type") ?? "";
  if (contentType && !/^application\/(.+\+)?json\b/i.test(contentType)) throw new BadRequestError(`content-type '${contentType}' is not application/json`, "unsupported_media_type");
  const text = await readBody(request, limitBytes);
  if (text.length === 0) {
    // {} and not undefined: Elysia would take undefined as "not parsed" and try its own parser.
    if (optional) return {};
    throw new BadRequestError("request body is empty; send a JSON object", "invalid_json");
  }
  const { maxJsonDepth } = (admitted.get(request) ?? { limits: DEFAULT_EDGE_LIMITS }).limits;
  const tooDeep = nestedBeyond(text, maxJsonDepth);
  if (tooDeep >= 0) throw new ValidationError(`request body nests arrays and objects deeper than ${maxJsonDepth} levels (at character ${tooDeep})`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadRequestError(`request body is not valid JSON: ${(err as Error).message}`, "invalid_json");
  }
}

/**
 * The body as text, refusing more than `limitBytes` (413) before reading it all, and a body slower
 * than the listener's body timeout (408). Every route that reads a body on a `listen` listener goes
 * through here: the listener itself sets no size limit (see `listen`), so this is the only cap.
 */
export async function readBody(request: Request, limitBytes: number): Promise<string> {
  const entry = admitted.get(request) ?? { limits: DEFAULT_EDGE_LIMITS, began: performance.now() };
  const { limits, began } = entry;
  const declared = Number(request.headers.get("content-length") ?? NaN);
  // Refused from the head, the body unread: the answer closes the connection (bodyLeftUnread).
  if (declared > limitBytes) throw new PayloadTooLargeError(limitBytes);
  const reading = Number.isFinite(declared) ? request.text() : readCapped(request, limitBytes);
  let text: string;
  try {
    text = await beforeDeadline(reading, began + limits.bodyTimeoutMs, limits.bodyTimeoutMs);
  } catch (err) {
    entry.cutShort = true;
    throw err;
  }
  if (Buffer.byteLength(text) > limitBytes) throw new PayloadTooLargeError(limitBytes);
  return text;
}

/** The body, or 408 once `deadline` (performance.now() time) has passed; an abandoned read ends when the connection closes. */
async function beforeDeadline(reading: Promise<string>, deadline: number, limitMs: number): Promise<string> {
  let timer: Timer | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RequestTimeoutError(limitMs)), Math.max(0, deadline - performance.now()));
  });
  try {
    return await Promise.race([reading, late]);
  } finally {
    clearTimeout(timer);
    reading.catch(() => {});
  }
}

/**
 * The index of the first `[` or `{` that opens level `maxDepth + 1` of JSON `text`, or -1: one
 * pass over the text, skipping strings with indexOf, so a body nested 100,000 deep is refused
 * at its 65th character instead of costing the parser (and every JSON.stringify after it) a
 * stack overflow. Malformed text is left to JSON.parse.
 */
export function nestedBeyond(text: string, maxDepth: number): number {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // To the closing quote: the next one not escaped by an odd run of backslashes.
      let j = i;
      for (;;) {
        j = text.indexOf('"', j + 1);
        if (j < 0) return -1;
        let k = j - 1;
        while (text.charCodeAt(k) === 0x5c) k--;
        if ((j - 1 - k) % 2 === 0) break;
      }
      i = j;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return i;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return -1;
}

async function readCapped(request: Request, limitBytes: number): Promise<string> {
  if (!request.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limitBytes) throw new PayloadTooLargeError(limitBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export interface Listening {
  port: number;
  stop(): Promise<void>;
}

/** A PEM certificate chain and its key: the listener serves HTTPS. */
export interface TlsFiles {
  cert: string;
  key: string;
}

/**
 * Starts the app on a port with the edge limits (`security.*`: body timeout, JSON depth, requests
 * per client IP); `stop` refuses new connections and waits for open requests.
 */
/**
 * @param shared the port is shared with this deployment's other shard processes (SO_REUSEPORT: the
 *   kernel spreads connections over them). Otherwise a second instance on the port must fail to
 *   start, not share it silently.
 */
export function listen(app: HttpApp, host: string, port: number, tls?: TlsFiles, limits: EdgeLimits = DEFAULT_EDGE_LIMITS, shared = false): Listening {
  app.listen({
    hostname: host,
    port,
    // No limit of Bun's own: it refused a declared Content-Length over it before any handler ran,
    // with a bare 413 and no error body. Each route's reader (readBody) refuses what is over its
    // own limit from the head instead, naming it, and the answer closes the connection unread.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    idleTimeout: idleTimeoutSeconds(limits),
    reusePort: shared,
    ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
  });
  const server = app.server!;
  // Set before this tick ends, so before the first request is read.
  edges.set(server, { limits, inProgress: new Map() });
  return {
    port: server.port!,
    stop: async () => {
      await server.stop(false);
    },
  };
}
