/** @module Domain errors: every failure a user can see carries a stable code and an HTTP status. */

/** Base of every error that is safe to show a client: `{"error":{"code","message"}}`. */
export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "AppError";
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, code = "bad_request") {
    super(code, 400, message);
    this.name = "BadRequestError";
  }
}

export class ValidationError extends AppError {
  constructor(
    message: string,
    readonly details: string[] = [],
  ) {
    super("validation_failed", 422, message);
    this.name = "ValidationError";
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = "missing or invalid credentials") {
    super("unauthorized", 401, message);
    this.name = "UnauthorizedError";
  }
}

export class ForbiddenError extends AppError {
  constructor(message: string) {
    super("forbidden", 403, message);
    this.name = "ForbiddenError";
  }
}

export class NotFoundError extends AppError {
  constructor(what: string, id: string) {
    super("not_found", 404, `${what} '${id}' not found`);
    this.name = "NotFoundError";
  }
}

export class ConflictError extends AppError {
  constructor(message: string) {
    super("conflict", 409, message);
    this.name = "ConflictError";
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limitBytes: number) {
    super("payload_too_large", 413, `request body exceeds the limit of ${limitBytes} bytes`);
    this.name = "PayloadTooLargeError";
  }
}

/** 408: the client took longer than `security.body_timeout` to send its request body. */
export class RequestTimeoutError extends AppError {
  constructor(limitMs: number) {
    super("request_timeout", 408, `the request body did not arrive within ${limitMs} ms`);
    this.name = "RequestTimeoutError";
  }
}

export class UnavailableError extends AppError {
  /** @param retryAfterSeconds sent as `Retry-After` when given. */
  constructor(
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super("unavailable", 503, message);
    this.name = "UnavailableError";
  }
}

/**
 * True when a write failed for what it held, not because its backend was away (UnavailableError):
 * written alone, the rest of a batch it shared may pass (`Coalescer`'s `isolate`).
 */
export function refusedForItsContent(err: unknown): boolean {
  return !(err instanceof UnavailableError);
}

/** 429: a client IP or a customer spent its rate limit; `headers` say when to come back. */
export class RateLimitedError extends AppError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    readonly headers: Record<string, string>,
  ) {
    super("rate_limited", 429, message);
    this.name = "RateLimitedError";
  }
}
