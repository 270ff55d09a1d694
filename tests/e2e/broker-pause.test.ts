// The Kafka broker frozen (SIGSTOP) for 30 s while events keep coming, production deployment:
// ingest keeps answering within produce_timeout (an event Kafka does not take in time waits in
// the PostgreSQL outbox),
// and once the broker thaws every event answered 202 is delivered. Counted: sent, accepted,
// refused, delivered, lost, duplicates.
import { afterAll, describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { STATE_DIR } from "../../scripts/services/index.ts";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type ChildInstance, childInstance } from "../helpers/process.ts";
import { type Receiver, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const PAUSE_MS = 30_000;

let hr: ChildInstance | undefined;
let receiver: Receiver | undefined;
let frozen: number | undefined;
afterAll(() => {
  // Never leave the shared broker frozen for the files after this one.
  if (frozen !== undefined) process.kill(frozen, "SIGCONT");
  hr?.proc?.kill(9);
  receiver?.stop();
});

if (MODES.includes("production"))
  describe("Kafka broker frozen (production)", () => {
    it("keeps accepting during a 30 s SIGSTOP of the broker and delivers every accepted event after", async () => {
      receiver = startReceiver();
      hr = childInstance({ ...(await modeEnv("production")), HOOKRELAY_KAFKA_PRODUCE_TIMEOUT: "2s", HOOKRELAY_KAFKA_REPUBLISH_AFTER: "5s" });
      await hr.start();
      const token = await adminToken(hr.gateway);
      expect((await client(hr.gateway, token)("POST", "/api/v1/webhooks", { url: receiver.url("/frozen"), event_types: ["broker.pause"] })).status).toBe(201);
      const ingest = client(hr.ingest, token);

      const accepted = new Set<string>();
      let sent = 0;
      let refused = 0;
      let batch = 0;
      let slowest = 0;
      const sendBatch = async () => {
        const events = Array.from({ length: 10 }, (_, i) => ({ id: `evt_pause_${batch}_${i}`, type: "broker.pause", source: "t", data: {} }));
        batch++;
        sent += events.length;
        const t0 = Date.now();
        const res = await ingest("POST", "/events/batch", { events }).catch(() => ({ status: 0, body: null }));
        slowest = Math.max(slowest, Date.now() - t0);
        if (res.status === 202) for (const e of events) accepted.add(e.id);
        else refused += events.length;
      };
      const until = async (ms: number) => {
        const end = Date.now() + ms;
        while (Date.now() < end) {
          await sendBatch();
          await Bun.sleep(100);
        }
      };

      await until(2_000);
      const pid = Number(readFileSync(join(STATE_DIR, "kafka.pid"), "utf8").trim());
      process.kill(pid, "SIGSTOP");
      frozen = pid;
      const duringStart = accepted.size;
      await until(PAUSE_MS);
      const acceptedWhileFrozen = accepted.size - duringStart;
      process.kill(pid, "SIGCONT");
      frozen = undefined;
      await until(2_000);

      await waitFor(
        "every accepted event delivered",
        () => {
          const delivered = new Set(receiver!.received.map((r) => (JSON.parse(r.body) as { id: string }).id));
          return [...accepted].every((id) => delivered.has(id));
        },
        90_000,
        200,
      );
      const delivered = new Set(receiver.received.map((r) => (JSON.parse(r.body) as { id: string }).id));
      const lost = [...accepted].filter((id) => !delivered.has(id)).length;
      console.log(
        `broker frozen ${PAUSE_MS / 1000} s: ${sent} sent, ${accepted.size} accepted (${acceptedWhileFrozen} while frozen), ${refused} refused; ` +
          `${delivered.size} delivered, lost ${lost}, duplicates ${receiver.received.length - delivered.size}; slowest answer ${slowest} ms`,
      );
      expect(lost).toBe(0);
      expect(acceptedWhileFrozen).toBeGreaterThan(0); // the outbox took them: ingest did not stop with the broker
      // A frozen broker delays an answer by produce_timeout (2 s here), not by the whole freeze.
      expect(slowest).toBeLessThan(4_000);
    }, 180_000);
  });
