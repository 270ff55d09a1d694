import { describe, expect, it } from "bun:test";
import { status } from "@grpc/grpc-js";
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError, PayloadTooLargeError, UnauthorizedError, UnavailableError, ValidationError } from "../../domain/errors.ts";
import { createLogger } from "../../platform/logger.ts";
import { grpcStatus } from "./errors.ts";

const log = createLogger("silent");

describe("domain errors as gRPC statuses", () => {
  it("maps each domain error to its code and keeps its message", () => {
    const cases: [Error, status][] = [
      [new ValidationError("url: required"), status.INVALID_ARGUMENT],
      [new BadRequestError("bad"), status.INVALID_ARGUMENT],
      [new UnauthorizedError("token expired"), status.UNAUTHENTICATED],
      [new ForbiddenError("needs scope"), status.PERMISSION_DENIED],
      [new NotFoundError("webhook", "wh_1"), status.NOT_FOUND],
      [new ConflictError("exists"), status.ALREADY_EXISTS],
      [new PayloadTooLargeError(10), status.RESOURCE_EXHAUSTED],
      [new UnavailableError("database unavailable"), status.UNAVAILABLE],
    ];
    for (const [err, code] of cases) expect(grpcStatus(err, log, "M")).toEqual({ code, details: err.message });
  });

  it("hides anything unexpected behind INTERNAL", () => {
    expect(grpcStatus(new TypeError("x is undefined"), log, "M")).toEqual({ code: status.INTERNAL, details: "internal error" });
  });
});
