/**
 * @module The standard gRPC health service (`grpc.health.v1.Health`): SERVING or NOT_SERVING
 * from the same dependency pings as every role's `/health`, checked when asked.
 */
import { create } from "@bufbuild/protobuf";
import { type Server, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, status } from "@grpc/grpc-js";
import type { Pingable } from "../../domain/ports.ts";
import {
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponseSchema,
  type HealthListResponse,
  HealthListResponseSchema,
  Health as HealthService,
  HealthCheckResponse_ServingStatus as Serving,
} from "../../gen/grpc/health/v1/health_pb.ts";
import { checkHealth } from "../../platform/http.ts";
import type { Logger } from "../../platform/logger.ts";
import { grpcDefinition } from "./definition.ts";

/** How often an open Watch stream re-checks. */
const WATCH_INTERVAL_MS = 1000;

export { HealthService };

export interface Health {
  /** From now on every service reports NOT_SERVING (shutdown has begun). */
  drain(): void;
}

const answer = (s: Serving) => create(HealthCheckResponseSchema, { status: s });

/**
 * Adds the health service: "" (the server) and each of `services` are known; while
 * draining, or while a check fails, they report NOT_SERVING (the failing ones are logged).
 */
export function addHealth(server: Server, services: string[], checks: Record<string, Pingable>, log: Logger): Health {
  const known = new Set(["", ...services]);
  let draining = false;
  const watchers = new Set<NodeJS.Timeout>();

  const current = async (): Promise<Serving> => {
    if (draining) return Serving.NOT_SERVING;
    const { ok, failing } = await checkHealth(checks);
    if (!ok) log.warn({ failing }, "registry health: not serving");
    return ok ? Serving.SERVING : Serving.NOT_SERVING;
  };

  server.addService(grpcDefinition(HealthService), {
    check: (call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: sendUnaryData<HealthCheckResponse>) => {
      if (!known.has(call.request.service)) return callback({ code: status.NOT_FOUND, details: `unknown service '${call.request.service}'` });
      current().then((s) => callback(null, answer(s)));
    },
    watch: (call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
      if (!known.has(call.request.service)) {
        call.write(answer(Serving.SERVICE_UNKNOWN));
        return;
      }
      let last: Serving | undefined;
      const send = async () => {
        const s = await current();
        if (s === last || call.cancelled) return;
        last = s;
        call.write(answer(s));
      };
      const timer = setInterval(send, WATCH_INTERVAL_MS);
      watchers.add(timer);
      call.on("cancelled", () => {
        clearInterval(timer);
        watchers.delete(timer);
      });
      void send();
    },
    list: (_call: ServerUnaryCall<unknown, HealthListResponse>, callback: sendUnaryData<HealthListResponse>) => {
      current().then((s) => callback(null, create(HealthListResponseSchema, { statuses: Object.fromEntries([...known].map((name) => [name, answer(s)])) })));
    },
  });

  return {
    drain() {
      draining = true;
      for (const timer of watchers) clearInterval(timer);
      watchers.clear();
    },
  };
}
