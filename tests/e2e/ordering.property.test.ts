// Ordered delivery's guarantee as a randomized property, in both deployments, over real processes
// with a real receiver: sequences of single and batch ingests to a fifo webhook (one queue, or one
// per value of `data.k` among three), ids new and repeated (a repeat is a duplicate, never a new
// event), endpoint answers failing some events' first tries, and kill -9 of the hookrelay process
// between requests. After each sequence, with hookrelay running again:
//   1. every event accepted (202, not a duplicate) is delivered;
//   2. in each queue the events succeed in the order they were accepted;
//   3. in each queue no request for an event is made before the event ahead of it succeeded (or,
//      after a kill, its request under way is made again before the next one's).
// Seeded (HOOKRELAY_PROPERTY_SEED to replay); fast-check prints the seed and the shrunk sequence.
import { afterAll, describe, expect, it } from "bun:test";
import fc from "fast-check";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes, type Mode } from "../helpers/modes.ts";
import { type ChildInstance, childInstance } from "../helpers/process.ts";
import { eventIdOf, type Receiver, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const SEED = Number(process.env.HOOKRELAY_PROPERTY_SEED ?? Date.now() % 2 ** 31);
const RUNS: Record<Mode, number> = { embedded: 4, production: 3 };
const KEYS = ["a", "b", "c"];

type Send = { kind: "send"; events: { n: number; key: string; fails: number }[] };
type Step = Send | { kind: "kill" };

const eventArb = fc.record({ n: fc.integer({ min: 0, max: 24 }), key: fc.constantFrom(...KEYS), fails: fc.constantFrom(0, 0, 0, 1, 2) });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: eventArb.map((e) => ({ kind: "send" as const, events: [e] })) },
  { weight: 2, arbitrary: fc.array(eventArb, { minLength: 2, maxLength: 6 }).map((events) => ({ kind: "send" as const, events })) },
  { weight: 1, arbitrary: fc.constant({ kind: "kill" as const }) },
);
const sequenceArb = fc.record({ keyed: fc.boolean(), steps: fc.array(stepArb, { minLength: 3, maxLength: 14 }) });

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe.each(MODES)("ordered delivery, randomized (%s)", (mode) => {
  it(`holds the order of every queue over ${RUNS[mode]} random sequences with repeats, failures and kill -9 (seed ${SEED})`, async () => {
    const hr: ChildInstance = childInstance({
      ...(await modeEnv(mode)),
      HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "50ms",
      HOOKRELAY_RETRY_MANAGER_JITTER: "0",
      // A request under way at a kill comes back when its lease ends; the queue waits that long.
      HOOKRELAY_RETRY_MANAGER_LEASE: "3s",
      HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "2s",
      HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "error",
    });
    cleanups.push(() => hr.proc?.kill(9));
    await hr.start();
    const rx: Receiver = startReceiver();
    cleanups.push(() => rx.stop());
    // One login for the whole test: the token outlives a restart (its keys are stored), and logins are rate limited.
    const token = await adminToken(hr.gateway);
    let run = 0;

    await fc.assert(
      fc.asyncProperty(sequenceArb, async ({ keyed, steps }) => {
        run++;
        const path = `/run${run}`;
        const prefix = `r${run}_${SEED}`;
        const failuresLeft = new Map<string, number>();
        const succeeded: string[] = [];
        const arrivals: string[] = [];
        rx.onPath(path, (req) => {
          const id = eventIdOf(req.body);
          arrivals.push(id);
          const left = failuresLeft.get(id) ?? 0;
          if (left > 0) {
            failuresLeft.set(id, left - 1);
            return new Response("try again", { status: 503 });
          }
          if (!succeeded.includes(id)) succeeded.push(id);
          return new Response("ok");
        });
        const api = client(hr.ingest, token);
        const created = await client(hr.gateway, token)("POST", "/api/v1/webhooks", {
          url: rx.url(path),
          event_types: ["prop.step"],
          ordering: "fifo",
          ordering_key: keyed ? "data.k" : null,
        });
        if (created.status !== 201) throw new Error(`webhook not created: ${JSON.stringify(created.body)}`);

        // What was accepted, in order, with its queue: the property's expectation.
        const accepted: { id: string; queue: string }[] = [];
        const seen = new Set<string>();
        const keyOfId = new Map<string, string>();
        for (const step of steps) {
          if (step.kind === "kill") {
            hr.proc.kill(9);
            await hr.proc.exited;
            await hr.start();
            continue;
          }
          const events = step.events.map((e) => {
            const id = `${prefix}_${e.n}`;
            // A repeated id is the same event: its first data (and key) is the one kept.
            if (!keyOfId.has(id)) keyOfId.set(id, e.key);
            if (!failuresLeft.has(id)) failuresLeft.set(id, e.fails);
            return { id, type: "prop.step", source: "t", data: { k: e.key } };
          });
          const res = events.length === 1 ? await api("POST", "/events", events[0]) : await api("POST", "/events/batch", { events });
          // 202 accepted, 200 a duplicate (single events); a batch answers 202 either way.
          if (res.status !== 202 && res.status !== 200) throw new Error(`ingest answered ${res.status}: ${JSON.stringify(res.body)}`);
          for (const e of events)
            if (!seen.has(e.id)) {
              seen.add(e.id);
              accepted.push({ id: e.id, queue: keyed ? keyOfId.get(e.id)! : "" });
            }
        }

        await waitFor(
          () => `run ${run}: all ${accepted.length} accepted delivered; ${succeeded.length} so far`,
          () => accepted.every((a) => succeeded.includes(a.id)),
          60_000,
          50,
        );
        const queues = new Set(accepted.map((a) => a.queue));
        for (const queue of queues) {
          const order = accepted.filter((a) => a.queue === queue).map((a) => a.id);
          const inQueue = new Set(order);
          // 2. successes in acceptance order.
          expect({ queue, succeeded: succeeded.filter((id) => inQueue.has(id)) }).toEqual({ queue, succeeded: order });
          // 3. no request for an event before the one ahead of it succeeded.
          const place = new Map(order.map((id, i) => [id, i]));
          let highest = -1;
          const outOfTurn: string[] = [];
          for (const id of arrivals.filter((a) => inQueue.has(a))) {
            const at = place.get(id)!;
            if (at < highest) outOfTurn.push(`${id} after #${highest}`);
            highest = Math.max(highest, at);
          }
          expect({ queue, outOfTurn }).toEqual({ queue, outOfTurn: [] });
        }
        console.log(
          `ordered property (${mode}) run ${run}: ${accepted.length} events in ${queues.size} queue(s), ${steps.filter((s) => s.kind === "kill").length} kill -9, ${arrivals.length} requests`,
        );
      }),
      { numRuns: RUNS[mode], seed: SEED, endOnFailure: true },
    );
  }, 600_000);
});
