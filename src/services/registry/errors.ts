/** @module Domain errors as gRPC statuses, with the same messages REST gives. */
import { type StatusObject, status } from "@grpc/grpc-js";
import { AppError } from "../../domain/errors.ts";
import type { Logger } from "../../platform/logger.ts";

/** The gRPC code for each HTTP status a domain error carries. */
const CODES: Record<number, status> = {
  400: status.INVALID_ARGUMENT,
  401: status.UNAUTHENTICATED,
  403: status.PERMISSION_DENIED,
  404: status.NOT_FOUND,
  409: status.ALREADY_EXISTS,
  413: status.RESOURCE_EXHAUSTED,
  422: status.INVALID_ARGUMENT,
  429: status.RESOURCE_EXHAUSTED,
  503: status.UNAVAILABLE,
};

/** A status for the client: the error's code and message, or INTERNAL (logged) for anything unexpected. */
export function grpcStatus(err: unknown, log: Logger, method: string): Pick<StatusObject, "code" | "details"> {
  if (err instanceof AppError) {
    const code = CODES[err.status];
    if (code !== undefined) return { code, details: err.message };
  }
  log.error({ err, method }, "unhandled error");
  return { code: status.INTERNAL, details: "internal error" };
}
