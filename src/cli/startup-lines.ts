/**
 * @module The plain lines a person starting hookrelay at a terminal reads: where each role
 * listens and what is there (the JSON logs give ports, not the dashboard or the API docs).
 */
import { ROLES, type Role } from "./roles.ts";

/** What is served on each role's port, as a person would open it. */
const SERVED: Record<Role, string> = {
  gateway: "REST API: /api/v1, API docs: /docs",
  registry: "gRPC WebhookRegistry",
  ingest: "events: POST /events, POST /events/batch",
  dispatcher: "health: /health, metrics: /metrics",
  retry: "health: /health, metrics: /metrics",
  observability: "dashboard: /",
};

/** A host to put in a URL: a wildcard address is reached on loopback, an IPv6 address in brackets. */
function reachableHost(host: string): string {
  if (host === "" || host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * One aligned line per listening role, in the roles' order, e.g.
 * `gateway       http://127.0.0.1:8080   (REST API: /api/v1, API docs: /docs)`. The registry speaks
 * gRPC, so its line has no scheme.
 */
export function listenerLines(host: string, ports: Partial<Record<Role, number>>, tls: boolean): string[] {
  const shown = reachableHost(host);
  const listening = ROLES.filter((role) => ports[role] !== undefined);
  const addresses = listening.map((role) => (role === "registry" ? `${shown}:${ports[role]}` : `${tls ? "https" : "http"}://${shown}:${ports[role]}`));
  const nameWidth = Math.max(...listening.map((role) => role.length)) + 1;
  const addressWidth = Math.max(...addresses.map((address) => address.length)) + 2;
  return listening.map((role, i) => `${role.padEnd(nameWidth)}${addresses[i]!.padEnd(addressWidth)}(${SERVED[role]})`);
}
