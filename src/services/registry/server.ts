/**
 * @module The registry role: a `@grpc/grpc-js` server with WebhookRegistry, server
 * reflection and gRPC health; `stop` drains calls in flight (bounded) before closing.
 */

import { Server, ServerCredentials } from "@grpc/grpc-js";
import type { Pingable } from "../../domain/ports.ts";
import { WebhookRegistry } from "../../gen/hookrelay/webhook/v1/registry_pb.ts";
import type { TlsFiles } from "../../platform/http.ts";
import { grpcDefinition } from "./definition.ts";
import { type RegistryDeps, registryHandlers } from "./handlers.ts";
import { addHealth, HealthService } from "./health.ts";
import { addReflection } from "./reflection.ts";

export interface RegistryServer {
  port: number;
  stop(): Promise<void>;
}

/** Largest request accepted: a webhook is a few KB; keep the door narrow. */
const MAX_MESSAGE_BYTES = 1024 * 1024;

/**
 * Serves the registry on host:port (0 picks a free port). `checks` feed gRPC health;
 * `stop` waits up to `shutdownTimeoutMs` for calls in flight, then cuts the rest.
 */
export async function startRegistry(deps: RegistryDeps & { checks: Record<string, Pingable> }, host: string, port: number, shutdownTimeoutMs: number, tls?: TlsFiles): Promise<RegistryServer> {
  const server = new Server({ "grpc.max_receive_message_length": MAX_MESSAGE_BYTES });
  server.addService(grpcDefinition(WebhookRegistry), registryHandlers(deps));
  addReflection(server, [WebhookRegistry, HealthService]);
  const health = addHealth(server, [WebhookRegistry.typeName], deps.checks, deps.log);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `${host.includes(":") ? `[${host}]` : host}:${port}`,
      tls ? ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(tls.cert), private_key: Buffer.from(tls.key) }], false) : ServerCredentials.createInsecure(),
      (err, p) => (err ? reject(err) : resolve(p)),
    ),
  );
  return {
    port: bound,
    stop: async () => {
      health.drain();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((resolve) => server.tryShutdown(() => resolve())), new Promise<void>((resolve) => (timer = setTimeout(resolve, shutdownTimeoutMs)))]);
      clearTimeout(timer);
      server.forceShutdown();
    },
  };
}
