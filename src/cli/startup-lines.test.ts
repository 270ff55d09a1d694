import { describe, expect, it } from "bun:test";
import { listenerLines } from "./startup-lines.ts";

const ALL = { gateway: 8080, registry: 8081, ingest: 8082, dispatcher: 8083, retry: 8084, observability: 8085 };

describe("listenerLines", () => {
  it("says where every role listens and what is there, aligned, in the roles' order", () => {
    expect(listenerLines("127.0.0.1", ALL, false)).toEqual([
      "gateway       http://127.0.0.1:8080  (REST API: /api/v1, API docs: /docs)",
      "registry      127.0.0.1:8081         (gRPC WebhookRegistry)",
      "ingest        http://127.0.0.1:8082  (events: POST /events, POST /events/batch)",
      "dispatcher    http://127.0.0.1:8083  (health: /health, metrics: /metrics)",
      "retry         http://127.0.0.1:8084  (health: /health, metrics: /metrics)",
      "observability http://127.0.0.1:8085  (dashboard: /)",
    ]);
  });

  it("shows a wildcard host as loopback, an IPv6 host in brackets, and https with TLS", () => {
    expect(listenerLines("0.0.0.0", { observability: 8085 }, false)).toEqual(["observability http://127.0.0.1:8085  (dashboard: /)"]);
    expect(listenerLines("::", { gateway: 443 }, true)).toEqual(["gateway https://[::1]:443  (REST API: /api/v1, API docs: /docs)"]);
    expect(listenerLines("fd00::5", { ingest: 8082, registry: 8081 }, true)).toEqual([
      "registry [fd00::5]:8081          (gRPC WebhookRegistry)",
      "ingest   https://[fd00::5]:8082  (events: POST /events, POST /events/batch)",
    ]);
    expect(listenerLines("hooks.internal", { dispatcher: 9000 }, false)).toEqual(["dispatcher http://hooks.internal:9000  (health: /health, metrics: /metrics)"]);
  });
});
