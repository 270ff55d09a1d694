// Durability over real processes: kill -9 mid-delivery and SIGTERM lose nothing accepted.
import { describe, expect, it } from "bun:test";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { fileScope } from "../helpers/process.ts";
import type { Receiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

const scope = fileScope();

function distinctIds(receiver: Receiver, path: string): Set<string> {
  return new Set(receiver.received.filter((r) => r.path === path).map((r) => r.headers["webhook-id"]!));
}

describe.each(MODES)("durability (%s)", (mode) => {
  it("delivers every accepted event after a kill -9 during delivery of 1,000 events", async () => {
    const receiver = scope.receiver();
    receiver.onPath("/sink", () => Bun.sleep(5).then(() => new Response("ok")));
    const hr = scope.child(await modeEnv(mode));
    await hr.start();
    const api = client(hr.gateway, await adminToken(hr.gateway));
    expect((await api("POST", "/api/v1/webhooks", { url: receiver.url("/sink"), event_types: ["crash.test"] })).status).toBe(201);

    const ingest = client(hr.ingest, await adminToken(hr.gateway));
    for (let i = 0; i < 1000; i += 100) {
      const events = Array.from({ length: 100 }, (_, j) => ({ id: `evt_crash_${i + j}`, type: "crash.test", source: "t", data: { i: i + j } }));
      const res = await ingest("POST", "/events/batch", { events });
      expect(res).toMatchObject({ status: 202, body: { accepted: 100, duplicates: 0 } });
    }
    await waitFor("some deliveries before the kill", () => receiver.received.length >= 150, 20_000, 5);
    hr.proc.kill(9);
    await hr.proc.exited;
    const beforeRestart = distinctIds(receiver, "/sink").size;
    expect(beforeRestart).toBeLessThan(1000); // the kill really landed mid-delivery

    await hr.start();
    await waitFor("all 1,000 events after restart", () => distinctIds(receiver, "/sink").size === 1000, 60_000);
    await Bun.sleep(300);
    const duplicates = receiver.received.length - distinctIds(receiver, "/sink").size;
    console.log(`kill -9 (${mode}): ${beforeRestart} delivered before the kill, 1000 after restart, ${duplicates} duplicates`);
    const api2 = client(hr.gateway, await adminToken(hr.gateway));
    await waitFor(
      "every delivery recorded succeeded",
      async () => {
        const page = await api2("GET", "/api/v1/deliveries?status=succeeded&limit=1000");
        return page.body.data.length === 1000;
      },
      20_000,
      100,
    );
    hr.proc.kill(9);
  }, 90_000);

  it("on SIGTERM stops intake, drains in-flight deliveries, exits 0, and delivers the rest after restart", async () => {
    const receiver = scope.receiver();
    receiver.onPath("/slow", () => Bun.sleep(100).then(() => new Response("ok")));
    const hr = scope.child({ ...(await modeEnv(mode)), HOOKRELAY_DISPATCHER_SHUTDOWN_TIMEOUT: "5s", HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "info" });
    await hr.start();
    const api = client(hr.gateway, await adminToken(hr.gateway));
    await api("POST", "/api/v1/webhooks", { url: receiver.url("/slow"), event_types: ["term.test"] });
    const events = Array.from({ length: 200 }, (_, i) => ({ id: `evt_term_${i}`, type: "term.test", source: "t", data: {} }));
    expect((await api("POST", "/api/v1/events/batch", { events })).status).toBe(202);
    await waitFor("deliveries under way", () => receiver.received.length >= 16, 10_000, 5);

    const signalledAt = Date.now();
    hr.proc.kill("SIGTERM" as unknown as number);
    const code = await hr.proc.exited;
    const tookMs = Date.now() - signalledAt;
    expect(code).toBe(0);
    expect(tookMs).toBeLessThan(2_000); // only the 8 in-flight requests (100 ms each) are awaited
    expect(hr.output()).toContain("shutting down");
    const refused = await fetch(`${hr.ingest}/health`).then(
      () => false,
      () => true,
    );
    expect(refused).toBe(true);
    const beforeRestart = distinctIds(receiver, "/slow").size;
    expect(beforeRestart).toBeLessThan(200); // queued deliveries were left for the restart, not drained

    await hr.start();
    await waitFor("all 200 after restart", () => distinctIds(receiver, "/slow").size === 200, 60_000);
    await Bun.sleep(300);
    expect(receiver.received.length).toBe(200); // a graceful stop records what finished: no duplicates
    console.log(`SIGTERM (${mode}): exited 0 in ${tookMs} ms with ${beforeRestart}/200 delivered; the rest after restart`);
    hr.proc.kill(9);
  }, 90_000);
});
