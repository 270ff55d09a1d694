// Each role as its own process on one embedded data directory, wired only through it.
import { afterAll, describe, expect, it } from "bun:test";
import type { Subprocess } from "bun";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { portsAndEnv } from "../helpers/process.ts";
import { startReceiver } from "../helpers/receiver.ts";

const procs: Subprocess[] = [];
afterAll(() => {
  for (const p of procs) p.kill(9);
});

describe("roles as separate processes", () => {
  it("gateway, ingest, dispatcher, retry and observability each alone deliver and retry events", async () => {
    const { ports, env: base } = portsAndEnv({ HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "100ms", HOOKRELAY_OBSERVABILITY_SCRAPE_INTERVAL: "200ms" });
    // The observability role reads the other roles' /metrics (every role gets the setting; only it uses it).
    const scraped = (["gateway", "ingest", "dispatcher", "retry"] as const).map((role) => `http://127.0.0.1:${ports[role]}/metrics`);
    const env = { ...base, HOOKRELAY_OBSERVABILITY_SCRAPE_TARGETS: scraped.join(",") };
    // The gateway first: it creates the admin; the others share the data directory.
    for (const role of ["gateway", "ingest", "dispatcher", "retry", "observability"] as const) {
      const proc = Bun.spawn(["bun", "src/cli/main.ts", role], { env: { PATH: process.env.PATH ?? "", ...env }, stdout: "ignore", stderr: "inherit" });
      procs.push(proc);
      await waitFor(
        `${role} /health`,
        () =>
          fetch(`http://127.0.0.1:${ports[role]}/health`).then(
            (r) => r.ok,
            () => false,
          ),
        20_000,
        50,
      );
      // A role serves only its own port: with the gateway alone up, nothing answers on ingest's.
      if (role === "gateway")
        expect(
          await fetch(`http://127.0.0.1:${ports.ingest}/health`).then(
            () => true,
            () => false,
          ),
        ).toBe(false);
    }
    const receiver = startReceiver();
    try {
      receiver.onPath("/once-fails", (_r, n) => new Response(n === 1 ? "first fails" : "ok", { status: n === 1 ? 500 : 200 }));
      const token = await adminToken(`http://127.0.0.1:${ports.gateway}`);
      const api = client(`http://127.0.0.1:${ports.gateway}`, token);
      await api("POST", "/api/v1/webhooks", { url: receiver.url("/ok"), event_types: ["roles"] });
      await api("POST", "/api/v1/webhooks", { url: receiver.url("/once-fails"), event_types: ["roles"] });
      const events = Array.from({ length: 100 }, (_, i) => ({ id: `evt_roles_${i}`, type: "roles", source: "t", data: {} }));
      const sent = await client(`http://127.0.0.1:${ports.ingest}`, token)("POST", "/events/batch", { events });
      expect(sent.status).toBe(202);
      await waitFor(
        "100 events at both webhooks",
        () => {
          const ids = (path: string) => new Set(receiver.received.filter((r) => r.path === path).map((r) => r.headers["webhook-id"])).size;
          return ids("/ok") === 100 && ids("/once-fails") === 100;
        },
        20_000,
      );
      // The one failed attempt is retried by the retry role, and nothing else is sent twice.
      await waitFor("the retry", () => receiver.received.filter((r) => r.path === "/once-fails").length === 101, 10_000);
      await Bun.sleep(200);
      expect(receiver.received.filter((r) => r.path === "/once-fails")).toHaveLength(101);
      expect(receiver.received.filter((r) => r.path === "/ok")).toHaveLength(100);
      await waitFor(
        "stats from the observability role",
        async () => {
          const stats = await client(`http://127.0.0.1:${ports.observability}`, token)("GET", "/api/stats");
          return stats.status === 200 && stats.body.deliveries.succeeded === 200;
        },
        10_000,
        100,
      );
      const stats = await client(`http://127.0.0.1:${ports.observability}`, token)("GET", "/api/stats");
      expect(stats.body).toMatchObject({ deliveries: { pending: 0, failed: 0, dead: 0, succeeded: 200 }, retry_queue_depth: 0, success_ratio: 1 });
      expect((await client(`http://127.0.0.1:${ports.observability}`)("GET", "/api/stats")).status).toBe(401);

      // One /metrics for the deployment: each role's samples, labelled with the process they came from.
      const metrics = await (await fetch(`http://127.0.0.1:${ports.observability}/metrics`)).text();
      const sample = (role: keyof typeof ports, series: string) => {
        const prefix = `${series.slice(0, -1)},instance="127.0.0.1:${ports[role]}"} `;
        const line = metrics.split("\n").find((l) => l.startsWith(prefix));
        return line === undefined ? NaN : Number(line.slice(prefix.length));
      };
      expect(metrics.match(/^# TYPE webhook_delivery_attempts_total /gm)).toHaveLength(1);
      expect(sample("dispatcher", 'webhook_delivery_attempts_total{outcome="success"}')).toBe(199);
      expect(sample("dispatcher", 'webhook_delivery_attempts_total{outcome="failure"}')).toBe(1);
      expect(sample("retry", 'webhook_delivery_attempts_total{outcome="success"}')).toBe(1);
      expect(sample("ingest", 'webhook_events_ingested_total{outcome="accepted"}')).toBe(100);
      // The stats add them up over the processes.
      await waitFor(
        "the stats to sum every role's counters",
        async () => {
          const now = (await client(`http://127.0.0.1:${ports.observability}`, token)("GET", "/api/stats")).body;
          return now.totals.delivered === 200 && now.totals.failed === 1 && now.totals.retries === 1 && now.totals.ingested === 100;
        },
        5_000,
        100,
      );
      const final = (await client(`http://127.0.0.1:${ports.observability}`, token)("GET", "/api/stats")).body;
      expect(final.targets.map((t: { url: string; up: boolean }) => [t.url, t.up])).toEqual(scraped.map((url) => [url, true]));
    } finally {
      receiver.stop();
    }
  }, 60_000);
});
