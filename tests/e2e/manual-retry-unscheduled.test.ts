// A manual retry whose scheduling fails is not stuck pending for ever (production: PostgreSQL
// store, Redis schedule). The new round is stored first (the API answers 202), the schedule write
// fails with Redis away, the sweeps fail while it stays away (past a lease), and once Redis is
// back the retry manager's next sweep puts the overdue delivery on the schedule: delivered
// without anyone's help.
import { afterAll, describe, expect, it } from "bun:test";
import { type ServiceName, startAgain, stopKeepingData } from "../../scripts/services/index.ts";
import { adminToken, client, type Instance, startInProcess, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type Receiver, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

const LEASE_MS = 3_000;
const MAX_RETRIES = 1;

let hr: Instance | undefined;
let receiver: Receiver | undefined;
const heldDown = new Set<ServiceName>();
afterAll(async () => {
  // Whatever failed, the shared Redis is running again for the next file and the other test runs.
  for (const service of heldDown) await startAgain(service, () => {}).catch((err) => console.error(`could not start ${service} again: ${err}`));
  await hr?.stop().catch(() => {});
  receiver?.stop();
}, 120_000);

if (MODES.includes("production"))
  describe("manual retry while the retry schedule is away (production)", () => {
    it("answers 202 with the round stored, and the sweep delivers it within about a lease of Redis coming back", async () => {
      receiver = startReceiver();
      const rx = receiver;
      let healthy = false;
      rx.onPath("/hook", () => (healthy ? new Response("back") : new Response("down", { status: 500 })));
      hr = await startInProcess({
        ...(await modeEnv("production")),
        HOOKRELAY_RETRY_MANAGER_MAX_RETRIES: String(MAX_RETRIES),
        HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "100ms",
        HOOKRELAY_RETRY_MANAGER_JITTER: "0",
        HOOKRELAY_RETRY_MANAGER_LEASE: `${LEASE_MS}ms`,
        HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "2s",
        // The API's rate limits live in Redis and refuse (503) while it is away: off, so the
        // retry request reaches the code under test.
        HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_IP: "0",
        HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_CUSTOMER: "0",
      });
      const instance = hr;
      const api = client(instance.gateway, await adminToken(instance.gateway));
      const hook = await api("POST", "/api/v1/webhooks", { url: rx.url("/hook"), event_types: ["manual.unscheduled"] });
      expect(hook.status).toBe(201);
      const eventId = "evt_manual_unscheduled";
      expect((await api("POST", "/api/v1/events", { id: eventId, type: "manual.unscheduled", source: "t", data: {} })).status).toBe(202);

      const deliveryOf = async () => (await api("GET", `/api/v1/deliveries?event_id=${eventId}`)).body?.data?.[0];
      await waitFor("the delivery dead", async () => (await deliveryOf())?.status === "dead", 20_000, 100);
      const dead = await deliveryOf();
      expect(dead).toMatchObject({ status: "dead", attempt_count: 1 + MAX_RETRIES });
      expect(rx.received).toHaveLength(1 + MAX_RETRIES);
      healthy = true;

      // Redis away: the new round can be stored (PostgreSQL) but not scheduled.
      heldDown.add("redis");
      await stopKeepingData("redis", () => {});
      const downAt = Date.now();
      const retried = await api("POST", `/api/v1/deliveries/${dead.id}/retry`);
      const answeredAt = Date.now();
      expect(retried.status).toBe(202);
      expect(retried.body).toMatchObject({ id: dead.id, status: "pending", attempt_count: 1 + MAX_RETRIES });
      expect(await deliveryOf()).toMatchObject({ status: "pending" }); // stored
      await waitFor("the gateway's warning that the retry was stored but not scheduled", () => instance.logs.some((l) => l.includes("retry stored but not scheduled")), 5_000, 50);
      // Redis stays away past a lease: the sweep finds the delivery overdue and fails to schedule
      // it (logged, tried again next interval); nobody can claim it meanwhile.
      let sweepFailedAt = 0;
      await waitFor(
        "a sweep that failed while Redis was away",
        () => {
          const line = instance.logs.find((l) => l.includes("sweep for unscheduled deliveries failed"));
          if (line) sweepFailedAt = Date.parse(JSON.parse(line).time);
          return line !== undefined;
        },
        LEASE_MS + 10_000,
        50,
      );
      expect(sweepFailedAt).toBeGreaterThanOrEqual(answeredAt + LEASE_MS - 50); // only what is overdue by a lease is swept
      expect(rx.received).toHaveLength(1 + MAX_RETRIES);

      await startAgain("redis", () => {});
      heldDown.delete("redis");
      const upAt = Date.now();
      await waitFor("the manual retry delivered by the sweep", () => rx.received.length > 1 + MAX_RETRIES, 30_000, 20);
      const deliveredAt = rx.received.at(-1)!.at;
      console.log(
        `manual retry with Redis down: retry answered ${retried.status} in ${answeredAt - downAt} ms; a sweep failed ${sweepFailedAt - answeredAt} ms after it; Redis back ${upAt - answeredAt} ms after it; ` +
          `delivered ${deliveredAt - answeredAt} ms after the retry (lease ${LEASE_MS} ms), ${deliveredAt - upAt} ms after Redis was back`,
      );
      // The sweep takes only what is overdue by more than a lease (nobody can hold it any more)...
      expect(deliveredAt - answeredAt).toBeGreaterThanOrEqual(LEASE_MS - 50);
      // ...and runs every max(1 s, lease / 4): once Redis answers (the client reconnects within 1 s), the next sweep or so, with slack for a loaded machine.
      expect(deliveredAt - upAt).toBeLessThan(1_000 + 1_000 + 5_000);

      let delivery: any;
      await waitFor(
        "the delivery recorded succeeded",
        async () => {
          delivery = await deliveryOf();
          return delivery?.status === "succeeded";
        },
        15_000,
        100,
      );
      expect(delivery).toMatchObject({ status: "succeeded", attempt_count: 2 + MAX_RETRIES, last_status_code: 200 });
      const attempts = await api("GET", `/api/v1/deliveries/${dead.id}/attempts`);
      expect(attempts.body.data.map((a: any) => [a.attempt_number, a.status_code])).toEqual([
        [1, 500],
        [2, 500],
        [3, 200],
      ]);
      await Bun.sleep(500);
      expect(rx.received).toHaveLength(2 + MAX_RETRIES); // once, not once per sweep
    }, 60_000);
  });
