/**
 * @module `hookrelay probe <role>`: the image's health check (it has no curl). Asks the role
 * running in this container, on its configured port, whether it is healthy: `GET /health` for
 * the HTTP roles, `grpc.health.v1.Health/Check` for the gRPC registry.
 */
import { rootCertificates } from "node:tls";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Client, credentials } from "@grpc/grpc-js";
import { HealthCheckRequestSchema, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus as Serving } from "../gen/grpc/health/v1/health_pb.ts";
import type { Config } from "../platform/config.ts";
import { ROLES, type Role } from "./roles.ts";
import { tlsFiles } from "./startup-files.ts";

export interface ProbeResult {
  ok: boolean;
  /** One line for the operator: what was asked and what came back. */
  reason: string;
}

/** Longest a probe waits for its answer; orchestrators put their own timeout around it too. */
export const PROBE_TIMEOUT_MS = 4000;

/** Where a role listening on `server.host` answers from inside its own container. */
export function probeHost(host: string): string {
  if (host === "" || host === "0.0.0.0") return "127.0.0.1";
  if (host === "::" || host === "[::]") return "[::1]";
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** The port `role` listens on in this configuration. */
export function rolePort(config: Config, role: Role): number {
  return config.server[`${role}_port`];
}

/** Asks one role whether it is healthy. Never throws: every failure is a result with its reason. */
export async function probeRole(config: Config, role: Role, timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  const address = `${probeHost(config.server.host)}:${rolePort(config, role)}`;
  let tls: { cert: string } | undefined;
  try {
    tls = tlsFiles(config);
  } catch (err) {
    return { ok: false, reason: `${role}: ${(err as Error).message}` };
  }
  return role === "registry" ? probeGrpc(address, tls, timeoutMs) : probeHttp(role, `${tls ? "https" : "http"}://${address}/health`, timeoutMs);
}

async function probeHttp(role: Role, url: string, timeoutMs: number): Promise<ProbeResult> {
  let res: Response;
  try {
    // The probe asks its own container over loopback: whether the listener is up and healthy, not
    // whether its certificate is trusted (the certificate names the public host, not 127.0.0.1).
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), tls: { rejectUnauthorized: false }, redirect: "manual" });
  } catch (err) {
    const timedOut = (err as Error).name === "TimeoutError";
    return { ok: false, reason: `${role}: ${timedOut ? `no answer from ${url} within ${timeoutMs} ms` : `cannot reach ${url}: ${(err as Error).message}`}` };
  }
  const text = await res.text().catch(() => "");
  if (res.status === 200) return { ok: true, reason: `${role}: healthy (${url} answered 200)` };
  let failing = "";
  try {
    const body = JSON.parse(text) as { failing?: unknown };
    if (Array.isArray(body.failing) && body.failing.length > 0) failing = `: ${body.failing.join("; ")}`;
  } catch {}
  return { ok: false, reason: `${role}: unhealthy (${url} answered ${res.status})${failing}` };
}

async function probeGrpc(address: string, tls: { cert: string } | undefined, timeoutMs: number): Promise<ProbeResult> {
  const target = `grpc://${address}`;
  // Over TLS: trust the configured certificate (self-signed) and the usual roots (a CA's), and
  // skip the name check, for the same reason as the HTTP probe.
  const creds = tls ? credentials.createSsl(Buffer.from([tls.cert, ...rootCertificates].join("\n")), null, null, { checkServerIdentity: () => undefined }) : credentials.createInsecure();
  // TLS refuses an IP address as server name; any name does, the name check being skipped.
  const client = new Client(address, creds, tls ? { "grpc.ssl_target_name_override": "localhost", "grpc.default_authority": "localhost" } : {});
  try {
    const status = await new Promise<Serving>((resolve, reject) => {
      client.makeUnaryRequest(
        "/grpc.health.v1.Health/Check",
        (request: Uint8Array) => Buffer.from(request),
        (bytes: Buffer) => fromBinary(HealthCheckResponseSchema, bytes).status,
        toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "" })),
        { deadline: Date.now() + timeoutMs },
        (err, value) => (err ? reject(err) : resolve(value!)),
      );
    });
    if (status === Serving.SERVING) return { ok: true, reason: `registry: healthy (${target} grpc.health.v1.Health/Check answered SERVING)` };
    return { ok: false, reason: `registry: unhealthy (${target} grpc.health.v1.Health/Check answered ${Serving[status] ?? status})` };
  } catch (err) {
    return { ok: false, reason: `registry: cannot check ${target}: ${(err as Error).message}` };
  } finally {
    client.close();
  }
}

/** `probe <role>|all`: the roles to ask, or an error message for anything else. */
export function probeTargets(arg: string | undefined): readonly Role[] | string {
  if (arg === "all") return ROLES;
  if (arg && (ROLES as readonly string[]).includes(arg)) return [arg as Role];
  return `probe: name a role to check (${ROLES.join(", ")}) or all; got '${arg ?? ""}'`;
}

/** Asks every role in `roles`; ok only when all of them are healthy. */
export async function probe(config: Config, roles: readonly Role[], timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  const results = await Promise.all(roles.map((role) => probeRole(config, role, timeoutMs)));
  const failed = results.filter((r) => !r.ok);
  if (failed.length === 0) return { ok: true, reason: results.map((r) => r.reason).join("; ") };
  return { ok: false, reason: failed.map((r) => r.reason).join("; ") };
}
