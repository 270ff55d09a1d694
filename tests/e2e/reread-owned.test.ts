// An event read again after a crash or a stop never re-sends a delivery the retry manager owns.
// Each event goes to two webhooks: /fail-first answers its first request 500 (the delivery is
// stored `failed` and put on the retry schedule), /slow holds every request until the process is
// gone (so the event is never finished, never committed, and is read again after the restart).
// After the restart the stored /fail-first deliveries must be left to the retry manager: one more
// request each, at its scheduled time, never a second one from the log. Over real processes, in
// both deployments, after SIGTERM (queued /slow deliveries are parked, in-flight ones abandoned
// after the 300 ms shutdown timeout) and after kill -9.
import { afterAll, describe, expect, it } from "bun:test";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type ChildInstance, childInstance } from "../helpers/process.ts";
import { eventIdOf, type Receiver, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

const EVENTS = 100;
/**
 * The first retry's delay: long enough that none comes due before the events are read again after
 * the restart. After kill -9 on Kafka that waits for the dead consumer's session to time out (10 s).
 */
const initialDelayMs = (mode: string, stop: Stop) => (mode === "production" && stop === "kill -9" ? 20_000 : 5_000);

const receivers: Receiver[] = [];
const children: ChildInstance[] = [];
const hung: (() => void)[] = [];
afterAll(() => {
  for (const child of children) child.proc?.kill(9);
  for (const release of hung.splice(0)) release();
  for (const r of receivers) r.stop();
});

type Stop = "SIGTERM" | "kill -9";

describe.each(MODES)("an event read again (%s)", (mode) => {
  it.each<Stop>(["SIGTERM", "kill -9"])(
    "after %s: stored deliveries are left to the retry manager, never sent again from the log",
    async (stop) => {
      const began = Date.now();
      const INITIAL_DELAY_MS = initialDelayMs(mode, stop);
      const rx = startReceiver();
      receivers.push(rx);
      let gone = false;
      /** Per request (index in rx.received order, by path and event id): when it was answered. */
      const answeredAt = new Map<string, number[]>();
      const answered = (path: string, id: string) => {
        const list = answeredAt.get(`${path} ${id}`) ?? [];
        list.push(Date.now());
        answeredAt.set(`${path} ${id}`, list);
      };
      rx.onPath("/fail-first", (req) => {
        const id = eventIdOf(req.body);
        const forEvent = rx.received.filter((r) => r.path === "/fail-first" && eventIdOf(r.body) === id).length;
        answered("/fail-first", id);
        return forEvent === 1 ? new Response("first attempt fails", { status: 500 }) : new Response("ok");
      });
      rx.onPath("/slow", (req) => {
        const id = eventIdOf(req.body);
        if (gone) {
          answered("/slow", id);
          return new Response("ok");
        }
        // Held until the first process is gone: its answer never reaches that process.
        return new Promise<Response>((resolve) => hung.push(() => resolve(new Response("too late"))));
      });

      const hr = childInstance({
        ...(await modeEnv(mode)),
        HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: `${INITIAL_DELAY_MS}ms`,
        HOOKRELAY_RETRY_MANAGER_JITTER: "0",
        HOOKRELAY_RETRY_MANAGER_LEASE: "10s",
        HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "8s",
        // SIGTERM: in-flight requests get 300 ms, then the process leaves them unfinished.
        HOOKRELAY_DISPATCHER_SHUTDOWN_TIMEOUT: "300ms",
        // /slow is never answered in time; its queue must stay queued, not parked, until the stop.
        HOOKRELAY_DISPATCHER_SLOW_ENDPOINT: "30s",
        HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_IP: "0",
        HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_CUSTOMER: "0",
        HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "error",
      });
      children.push(hr);
      await hr.start();
      const token = await adminToken(hr.gateway);
      let api = client(hr.gateway, token);
      const hooks: Record<string, string> = {};
      for (const path of ["/fail-first", "/slow"]) {
        const res = await api("POST", "/api/v1/webhooks", { url: rx.url(path), event_types: ["reread.owned"] });
        expect(res.status).toBe(201);
        hooks[path] = res.body.id;
      }
      const ids = Array.from({ length: EVENTS }, (_, i) => `evt_reread_${mode}_${stop === "SIGTERM" ? "term" : "kill"}_${i}`);
      const sent = await client(hr.ingest, token)("POST", "/events/batch", { events: ids.map((id) => ({ id, type: "reread.owned", source: "t", data: { id } })) });
      expect(sent).toMatchObject({ status: 202, body: { accepted: EVENTS } });

      // Every /fail-first delivery stored failed (and so on the retry schedule), none retried yet.
      await waitFor(
        `all ${EVENTS} /fail-first deliveries stored failed`,
        async () => {
          const page = await api("GET", `/api/v1/deliveries?webhook_id=${hooks["/fail-first"]}&status=failed&limit=1000`);
          return page.body?.data?.length === EVENTS;
        },
        20_000,
        100,
      );
      await waitFor("/slow requests in flight", () => rx.received.some((r) => r.path === "/slow"), 10_000, 20);
      const storedAt = Date.now();

      hr.proc.kill(stop === "SIGTERM" ? 15 : 9);
      const code = await hr.proc.exited;
      const exitAt = Date.now();
      if (stop === "SIGTERM") expect(code).toBe(0);
      gone = true;
      for (const release of hung.splice(0)) release();
      const before = rx.received.length;
      const hungAtExit = new Map<string, number>();
      for (const r of rx.received.slice(0, before)) {
        const key = `${r.path} ${eventIdOf(r.body)}`;
        const answers = answeredAt.get(key) ?? [];
        const requests = rx.received.slice(0, before).filter((x) => `${x.path} ${eventIdOf(x.body)}` === key).length;
        // Received before the exit and not answered by then: in flight at the stop. (An answered one
        // is recorded: every /fail-first first attempt was in the store before the stop, and no retry was due.)
        const unanswered = requests - answers.filter((t) => t <= exitAt).length;
        hungAtExit.set(key, Math.max(0, unanswered));
      }
      const inFlightAtExit = [...hungAtExit.values()].reduce((a, b) => a + b, 0);
      expect(rx.received.slice(0, before).filter((r) => r.path === "/fail-first")).toHaveLength(EVENTS); // no retry before the stop
      expect(inFlightAtExit).toBeGreaterThan(0); // events really left unfinished: they are read again

      await hr.start();
      const restartedAt = Date.now();
      api = client(hr.gateway, await adminToken(hr.gateway));
      const count = (path: string, id: string) => rx.received.filter((r) => r.path === path && eventIdOf(r.body) === id).length;
      const deliveredAll = () => ids.every((id) => count("/fail-first", id) >= 2 && (answeredAt.get(`/slow ${id}`)?.length ?? 0) >= 1);
      await waitFor("every event delivered to both webhooks", deliveredAll, 40_000, 100);
      const deliveredAt = Date.now();
      // The events were read again (the dispatcher's first /slow request after the restart) before any
      // /fail-first retry was due: the re-read found those deliveries stored failed, owned by the retry manager.
      const reReadAt = rx.received.slice(before).find((r) => r.path === "/slow")!.at;
      const firstDue =
        Math.min(
          ...rx.received
            .slice(0, before)
            .filter((r) => r.path === "/fail-first")
            .map((r) => r.at),
        ) + INITIAL_DELAY_MS;
      expect(reReadAt).toBeLessThan(firstDue);
      // What the store says, once every outcome is written.
      const deliveries = new Map<string, any[]>();
      await waitFor(
        "every delivery recorded succeeded",
        async () => {
          for (const path of ["/fail-first", "/slow"]) {
            const page = await api("GET", `/api/v1/deliveries?webhook_id=${hooks[path]}&limit=1000`);
            deliveries.set(path, page.body?.data ?? []);
          }
          return [...deliveries.values()].every((list) => list.length === EVENTS && list.every((d) => d.status === "succeeded"));
        },
        20_000,
        200,
      );
      await Bun.sleep(500); // a late duplicate, if any, arrives now

      const problems: string[] = [];
      let extra = 0;
      let minGap = Number.POSITIVE_INFINITY;
      for (const [path, list] of deliveries) {
        for (const d of list) {
          const attempts = (await api("GET", `/api/v1/deliveries/${d.id}/attempts`)).body.data as { attempt_number: number; status_code: number | null }[];
          const numbers = attempts.map((a) => a.attempt_number);
          if (
            !Bun.deepEquals(
              numbers,
              numbers.map((_, i) => i + 1),
            )
          )
            problems.push(`${path} ${d.event_id}: attempt numbers ${numbers.join(",")}`);
          const requests = count(path, d.event_id);
          const allowed = hungAtExit.get(`${path} ${d.event_id}`) ?? 0;
          if (requests > attempts.length + allowed) problems.push(`${path} ${d.event_id}: ${requests} requests, ${attempts.length} attempts recorded, ${allowed} in flight at the stop`);
          extra += requests - attempts.length;
          // Stored failed and scheduled before the stop: exactly one more request (the retry manager's), never one from the log.
          if (path === "/fail-first") {
            if (
              requests !== 2 ||
              !Bun.deepEquals(
                attempts.map((a) => a.status_code),
                [500, 200],
              )
            )
              problems.push(`/fail-first ${d.event_id}: ${requests} requests, attempts ${JSON.stringify(attempts.map((a) => [a.attempt_number, a.status_code]))}`);
            // ...at its scheduled time (first attempt + initial delay), not when the event was read again.
            const [first, second] = rx.received.filter((r) => r.path === path && eventIdOf(r.body) === d.event_id).map((r) => r.at);
            const gap = second! - first!;
            minGap = Math.min(minGap, gap);
            if (gap < INITIAL_DELAY_MS - 50) problems.push(`/fail-first ${d.event_id}: sent again ${gap} ms after its first attempt, before its retry was due (${INITIAL_DELAY_MS} ms)`);
          }
        }
      }
      console.log(
        `re-read after ${stop} (${mode}): ${EVENTS} events × 2 webhooks; /fail-first stored failed ${storedAt - began} ms in, stop → exit ${exitAt - storedAt} ms, ` +
          `${inFlightAtExit} requests in flight at the stop; restarted in ${restartedAt - exitAt} ms, events read again ${reReadAt - restartedAt} ms later (${firstDue - reReadAt} ms before the first retry was due), all delivered ${deliveredAt - restartedAt} ms later; ` +
          `${rx.received.length} requests for ${2 * EVENTS} deliveries, ${extra} without a recorded attempt; /fail-first retried ≥ ${minGap} ms after its first attempt (due at ${INITIAL_DELAY_MS}); ` +
          `${problems.length} problems${problems.length > 0 ? `, e.g. ${problems.slice(0, 3).join("; ")}` : ""}; test ${Date.now() - began} ms`,
      );
      expect(problems).toEqual([]);
      expect(extra).toBeLessThanOrEqual(inFlightAtExit);
      hr.proc.kill(9);
      await hr.proc.exited;
    },
    60_000,
  );
});
