// kill -9 at the worst moments, over real processes in both deployments, each counted: ingest
// killed while requests stream in (every event a client saw 202 for is delivered; the others may
// or may not be), and a process killed with 5,000 deliveries in flight to a slow endpoint
// (everything delivered after restart, duplicates bounded by what was in flight).
import { describe, expect, it } from "bun:test";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { fileScope } from "../helpers/process.ts";
import { eventIdOf } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const scope = fileScope();

describe.each(MODES)("kill -9 (%s)", (mode) => {
  it("of ingest while events stream in: every 202 is delivered, nothing else is promised", async () => {
    const receiver = scope.receiver();
    const hr = scope.child(await modeEnv(mode));
    await hr.start();
    const token = await adminToken(hr.gateway);
    expect((await client(hr.gateway, token)("POST", "/api/v1/webhooks", { url: receiver.url("/stream"), event_types: ["kill.ingest"] })).status).toBe(201);

    // 32 producers send one event after another; ingest is killed while they do.
    const acknowledged = new Set<string>();
    let refused = 0;
    let sent = 0;
    let killed = false;
    const producer = async (p: number) => {
      for (let n = 0; !killed || n < 1; n++) {
        const id = `evt_kill_${p}_${n}`;
        sent++;
        try {
          const res = await fetch(`${hr.ingest}/events`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify({ id, type: "kill.ingest", source: "t", data: { p, n } }),
          });
          if (res.status === 202) acknowledged.add(id);
          else refused++;
        } catch {
          refused++; // the connection died with the process: no answer, no promise
          return;
        }
      }
    };
    const producers = Promise.all(Array.from({ length: 32 }, (_, p) => producer(p)));
    await waitFor("a few hundred events acknowledged", () => acknowledged.size >= 300, 20_000, 5);
    hr.proc.kill(9);
    killed = true;
    await hr.proc.exited;
    await producers;
    const reachedBeforeKill = receiver.received.length;

    await hr.start();
    await waitFor(
      "every acknowledged event delivered",
      () => {
        const delivered = new Set(receiver.received.map((r) => eventIdOf(r.body)));
        return [...acknowledged].every((id) => delivered.has(id));
      },
      60_000,
      100,
    );
    const delivered = new Set(receiver.received.map((r) => eventIdOf(r.body)));
    const unacknowledgedDelivered = [...delivered].filter((id) => !acknowledged.has(id)).length;
    console.log(
      `kill -9 of ingest (${mode}): ${sent} sent, ${acknowledged.size} answered 202, ${refused} without an answer; ` +
        `${[...acknowledged].filter((id) => delivered.has(id)).length} of the 202s delivered (lost 0), ${unacknowledgedDelivered} unanswered ones delivered too, ` +
        `${receiver.received.length - delivered.size} duplicates`,
    );
    expect([...acknowledged].filter((id) => !delivered.has(id))).toEqual([]);
    // Only a delivery that reached the endpoint before the kill can come twice.
    expect(receiver.received.length - delivered.size).toBeLessThanOrEqual(reachedBeforeKill);
    hr.proc.kill(9);
  }, 120_000);

  it("with 5,000 deliveries in flight to a slow endpoint: all delivered after restart, duplicates bounded by what was in flight", async () => {
    const receiver = scope.receiver();
    receiver.onPath("/slow", () => Bun.sleep(200).then(() => new Response("ok")));
    // A wide window: up to 1,000 requests at once to the endpoint, 5,000 events read ahead.
    const hr = scope.child({
      ...(await modeEnv(mode)),
      HOOKRELAY_DISPATCHER_MAX_IN_FLIGHT: "1000",
      HOOKRELAY_DISPATCHER_MAX_IN_FLIGHT_PER_WEBHOOK: "1000",
      HOOKRELAY_DISPATCHER_SLOW_ENDPOINT: "10s",
    });
    await hr.start();
    const token = await adminToken(hr.gateway);
    expect((await client(hr.gateway, token)("POST", "/api/v1/webhooks", { url: receiver.url("/slow"), event_types: ["kill.flight"] })).status).toBe(201);
    const ingest = client(hr.ingest, token);
    for (let i = 0; i < 5000; i += 500) {
      const events = Array.from({ length: 500 }, (_, j) => ({ id: `evt_flight_${i + j}`, type: "kill.flight", source: "t", data: { i: i + j } }));
      expect((await ingest("POST", "/events/batch", { events })).status).toBe(202);
    }
    await waitFor("deliveries under way", () => receiver.received.length >= 500, 30_000, 5);
    hr.proc.kill(9);
    await hr.proc.exited;
    const before = new Set(receiver.received.map((r) => r.headers["webhook-id"]));

    await hr.start();
    await waitFor("all 5,000 delivered after restart", () => new Set(receiver.received.map((r) => r.headers["webhook-id"])).size === 5000, 90_000, 100);
    await Bun.sleep(500);
    const distinct = new Set(receiver.received.map((r) => r.headers["webhook-id"])).size;
    const duplicates = receiver.received.length - distinct;
    console.log(
      `kill -9 with deliveries in flight (${mode}): accepted 5000, ${before.size} delivered before the kill, ${distinct} after restart (lost 0), ${duplicates} duplicates (window 1000 in flight + 5000 read ahead)`,
    );
    expect(distinct).toBe(5000);
    // A duplicate is a delivery that reached the endpoint before the kill and whose outcome was not
    // yet recorded: never more than what was sent before the kill.
    expect(duplicates).toBeLessThanOrEqual(before.size);
    hr.proc.kill(9);
  }, 150_000);
});
