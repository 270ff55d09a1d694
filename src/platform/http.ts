/**
 * @module The one HTTP bootstrap every role uses: health, metrics, error shape, access
 * metrics and bounded JSON bodies. Each role adds its own routes.
 */
import { type AnyElysia, Elysia } from "elysia";
import { AppError, BadRequestError, PayloadTooLargeError, RateLimitedError, UnavailableError, ValidationError } from "../domain/errors.ts";
import type { Pingable } from "../domain/ports.ts";
import type { Logger } from "./logger.ts";
import type { Metrics } from "./metrics.ts";

export interface HttpDeps {
  role: string;
  log: Logger;
  metrics: Metrics;
  /** Dependencies `/health` checks, by name. */
  checks: Record<string, Pingable>;
  /** What `/metrics` answers; this process's registry when absent (the observability role adds the others'). */
  exposition?: () => Promise<string>;
}

const HEALTH_TIMEOUT_MS = 2000;
/** Longest request URL served (path and query), characters; beyond it 414. */
export const MAX_URL_CHARS = 8192;
/** Most request headers, and their total size in bytes (names and values); beyond either 431. Bun itself refuses a head over ~16 KiB (a bare 431). */
export const MAX_HEADERS = 100;
export const MAX_HEADER_BYTES = 12 * 1024;

/** A refusal for a request line or headers out of bounds, or null when they are within them. */
function requestTooLarge(request: Request): Response | null {
  if (request.url.length > MAX_URL_CHARS)
    return jsonResponse(414, errorBody("uri_too_long", `the request URL is ${request.url.length} characters; at most ${MAX_URL_CHARS}`));
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
        await Promise.race([
          dep.ping(),
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("no answer in time")), HEALTH_TIMEOUT_MS))),
        ]);
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

/** An Elysia app with `/health`, `/metrics`, the error shape and request counting. */
export function createHttpApp(deps: HttpDeps) {
  const { role, log, metrics } = deps;
  const began = new WeakMap<Request, number>();
  return new Elysia({ name: `hookrelay-${role}` })
    .onRequest(({ request, set }) => {
      began.set(request, performance.now());
      const refused = requestTooLarge(request);
      if (refused) set.status = refused.status; // read by the request counter below
      return refused ?? undefined;
    })
    .onError(({ code, error, request, set }) => {
      const respond = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        set.status = status; // read by the request counter below
        return jsonResponse(status, body, headers);
      };
      if (error instanceof AppError) {
        const details = error instanceof ValidationError && error.details.length > 1 ? { details: error.details } : {};
        const retryAfter: Record<string, string> =
          error instanceof RateLimitedError
            ? error.headers
            : error instanceof UnavailableError && error.retryAfterSeconds !== undefined
              ? { "retry-after": String(error.retryAfterSeconds) }
              : {};
        return respond(error.status, { error: { ...errorBody(error.code, error.message).error, ...details } }, retryAfter);
      }
      if (code === "NOT_FOUND") return respond(404, errorBody("not_found", `no route for ${request.method} ${new URL(request.url).pathname}`));
      if (code === "PARSE") return respond(400, errorBody("invalid_json", "request body is not valid JSON"));
      log.error({ err: error, method: request.method, url: new URL(request.url).pathname }, "unhandled error");
      return respond(500, errorBody("internal", "internal error"));
    })
    .onAfterResponse(({ request, route, set }) => {
      const status = typeof set.status === "number" ? set.status : 200;
      const matched = route || "unmatched";
      metrics.httpRequests.inc({ role, method: request.method, route: matched, status: String(status) });
      const start = began.get(request);
      if (start !== undefined) metrics.httpDuration.observe({ role, method: request.method, route: matched }, (performance.now() - start) / 1000);
    })
    .get("/health", async ({ set }) => {
      const { ok, failing } = await checkHealth(deps.checks);
      if (!ok) {
        set.status = 503;
        return { status: "unavailable", role, failing };
      }
      return { status: "ok", role };
    })
    .get("/metrics", async ({ set }) => {
      set.headers["content-type"] = metrics.registry.contentType;
      return deps.exposition ? deps.exposition() : metrics.registry.metrics();
    });
}

export type HttpApp = AnyElysia;

/** What a handler passes on to shared checks (who calls, rate limits): its request, response headers and server. */
export interface RequestContext {
  request: Request;
  set: { headers: Record<string, string | number> };
  server: { requestIP(request: Request): { address: string } | null } | null;
}

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
  return ctx.server?.requestIP(ctx.request)?.address ?? null;
}

/**
 * Reads a JSON body, refusing more than `limitBytes` before reading it all: 413 for too
 * large, 400 for malformed JSON or a wrong content type.
 */
export async function readJson(request: Request, limitBytes: number): Promise<unknown> {
  const contentType = request.headers.get("content-type") ?? "";
  if (contentType && !/^application\/(.+\+)?json\b/i.test(contentType))
    throw new BadRequestError(`content-type '${contentType}' is not application/json`, "unsupported_media_type");
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > limitBytes) throw new PayloadTooLargeError(limitBytes);
  let text: string;
  if (Number.isFinite(declared)) {
    text = await request.text();
  } else {
    text = await readCapped(request, limitBytes);
  }
  if (Buffer.byteLength(text) > limitBytes) throw new PayloadTooLargeError(limitBytes);
  if (text.length === 0) throw new BadRequestError("request body is empty; send a JSON object", "invalid_json");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadRequestError(`request body is not valid JSON: ${(err as Error).message}`, "invalid_json");
  }
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

/** Starts the app on a port; `stop` refuses new connections and waits for open requests. */
export function listen(app: HttpApp, host: string, port: number, maxBodyBytes: number, tls?: TlsFiles): Listening {
  // reusePort off: a second instance on the same port must fail to start, not share it silently.
  app.listen({ hostname: host, port, maxRequestBodySize: maxBodyBytes, reusePort: false, ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}) });
  const server = app.server!;
  return {
    port: server.port!,
    stop: async () => {
      await server.stop(false);
    },
  };
}
