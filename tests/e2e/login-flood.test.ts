// One caller must not slow everyone: while 50 clients loop on wrong-password logins (no
// credentials needed) and 2 more loop on 120,000-deep JSON bodies (a key with events:write),
// another customer's ingest keeps its latency. hookrelay runs as a child
// process with the default login limits, so the flooding clients and the measuring one (this
// process) do not share its event loop. Each flooding client comes from its own IP (the instance
// trusts X-Forwarded-For) and tries a fresh username each time, so neither login bucket stops it:
// only the cap on verifications at once, the held refusals, the hash thread and the fsync thread
// stand between the flood and the 202s. Before them, 50 such clients took embedded ingest p99
// from 4-7 ms to 0.9-3.6 s (16 s max).
//
// The bound: 3x embedded. Measured on 2026-12-04 on this 2-core machine kind, at the commit that set
// 2x and at the one after, alike: 1.9-2.7x per round (unloaded p99 3-4.5 ms, under the flood 7.2-10.6
// ms, the 2 deep-JSON clients included), so 2x failed whole runs of 3 rounds on a loaded clean-clone
// run at either commit (earlier runs on a quieter machine gave 1.2-1.9x).
// In production on a 2-core machine that also runs PostgreSQL, Kafka and
// Redis, 4x: there one verification runs all the time during the flood (the cap lets one through
// whenever the last ends), and Argon2 is memory-hard (64 MiB each). Measured there over 27 rounds,
// ingest p99 went from 10-49 ms to 20-217 ms: 1.4-4.4x per round, most near 2-2.5x, 6 rounds
// above 3x, while other test runs shared the machine. About the same with the hash thread at
// nice 19 or SCHED_IDLE (it then only runs on otherwise idle CPU, and verified as many passwords
// either way), so the cost is in the shared caches and memory, not in the scheduler; with the
// per-IP budget keeping Argon2 idle, 1.1-1.2x. Where roles run in processes of their own (ingest
// apart from gateway and observability), a login flood shares no core with ingest at all.
import { describe, expect, it } from "bun:test";
import { adminToken, client } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { fileScope } from "../helpers/process.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const scope = fileScope();

const CLIENTS = 50;
/** Clients sending deeply nested JSON meanwhile, and how deep. */
const DEEP_CLIENTS = 2;
const DEEP = 120_000;
/** Ingest requests per measurement: the 99th percentile is the 6th slowest of them. */
const SAMPLES = 500;
/** The flood lasts at most this long per round. */
const FLOOD_MS = 8000;
/** A round whose p99 under flood is past the bound is tried again, this many times at most. */
const ROUNDS = 3;
/** How much slower ingest's p99 may be under the flood (see the top of the file for production's). */
const BOUND = { embedded: 3, production: 4 } as const;

interface Round {
  before: number;
  flood: number;
  after: number;
  floodSamples: number;
  logins: Record<number, number>;
  /** Answers to the deep bodies, by status. */
  deep: Record<number, number>;
}

const p99 = (ms: number[]) => [...ms].sort((a, b) => a - b)[Math.min(ms.length - 1, Math.floor(ms.length * 0.99))]!;

describe.each(MODES)("a login flood (%s)", (mode) => {
  it(
    `leaves another customer's ingest p99 within ${BOUND[mode]}× its unloaded value while ${CLIENTS} clients loop on wrong passwords and ${DEEP_CLIENTS} on deep JSON`,
    async () => {
      const hr = scope.child({ ...(await modeEnv(mode)), HOOKRELAY_SECURITY_TRUST_FORWARDED_FOR: "true" });
      await hr.start();
      const observability = `http://127.0.0.1:${hr.env.HOOKRELAY_SERVER_OBSERVABILITY_PORT}`;
      const admin = client(hr.gateway, await adminToken(hr.gateway));
      const customer = `bystander-${Math.random().toString(36).slice(2, 8)}`;
      expect((await admin("POST", "/api/v1/customers", { id: customer, name: customer })).status).toBe(201);
      const key = (await admin("POST", `/api/v1/customers/${customer}/api-keys`, { name: "producer", scopes: ["events:write"] })).body.key;
      const hostile = `deep-${customer}`;
      expect((await admin("POST", "/api/v1/customers", { id: hostile, name: hostile })).status).toBe(201);
      const deepKey = (await admin("POST", `/api/v1/customers/${hostile}/api-keys`, { name: "deep", scopes: ["events:write"] })).body.key;
      const deepBody = `{"id":"evt_deep","type":"deep","source":"t","data":${"[".repeat(DEEP)}${"]".repeat(DEEP)}}`;
      let sent = 0;

      /** Ingest latencies (ms) of requests sent one after another, `n` of them or until `deadline`. */
      async function ingest(n: number, deadline = Number.POSITIVE_INFINITY): Promise<number[]> {
        const took: number[] = [];
        while (took.length < n && performance.now() < deadline) {
          const started = performance.now();
          const res = await fetch(`${hr.ingest}/events`, {
            method: "POST",
            headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
            body: JSON.stringify({ id: `evt_flood_${sent++}`, type: "flood.test", source: "t", data: { n: sent } }),
          });
          await res.arrayBuffer();
          expect(res.status).toBe(202);
          took.push(performance.now() - started);
        }
        return took;
      }

      async function round(r: number): Promise<Round> {
        await ingest(50); // warm the connection and the code paths
        const before = p99(await ingest(SAMPLES));
        let flooding = true;
        const logins: Record<number, number> = {};
        const floodEnds = performance.now() + FLOOD_MS;
        const flooders = Array.from({ length: CLIENTS }, async (_, c) => {
          const base = c % 2 ? observability : hr.gateway;
          while (flooding && performance.now() < floodEnds) {
            const res = await fetch(`${base}/auth/login`, {
              method: "POST",
              headers: { "content-type": "application/json", "x-forwarded-for": `10.${r}.${c >> 8}.${c & 255}` },
              body: JSON.stringify({ username: `guess-${c}-${Math.random()}`, password: "wrong-password" }),
            }).catch(() => null);
            if (!res) continue;
            await res.arrayBuffer();
            logins[res.status] = (logins[res.status] ?? 0) + 1;
          }
        });
        const deep: Record<number, number> = {};
        const deepSenders = Array.from({ length: DEEP_CLIENTS }, async () => {
          while (flooding && performance.now() < floodEnds) {
            const res = await fetch(`${hr.ingest}/events`, {
              method: "POST",
              headers: { authorization: `Bearer ${deepKey}`, "content-type": "application/json" },
              body: deepBody,
            }).catch(() => null);
            if (!res) continue;
            await res.arrayBuffer();
            deep[res.status] = (deep[res.status] ?? 0) + 1;
          }
        });
        // Let the verification queue fill before measuring.
        await Bun.sleep(500);
        const during = await ingest(SAMPLES, floodEnds - 500);
        flooding = false;
        await Promise.all([...flooders, ...deepSenders]);
        const after = p99(await ingest(SAMPLES));
        return { before, flood: p99(during), after, floodSamples: during.length, logins, deep };
      }

      const passes = (r: Round) => r.floodSamples >= SAMPLES / 2 && r.flood <= BOUND[mode] * Math.max(r.before, r.after);
      const rounds: Round[] = [];
      for (let r = 1; r <= ROUNDS; r++) {
        const result = await round(r);
        rounds.push(result);
        console.log(
          `login flood (${mode}) round ${r}: ingest p99 ${result.before.toFixed(2)} ms before, ${result.flood.toFixed(2)} ms during (${result.floodSamples} samples), ${result.after.toFixed(2)} ms after; login answers ${JSON.stringify(result.logins)}, deep bodies ${JSON.stringify(result.deep)}`,
        );
        // The flood was real: passwords were verified throughout and the cap turned clients away.
        expect(result.logins[401] ?? 0).toBeGreaterThanOrEqual(5);
        expect(result.logins[503] ?? 0).toBeGreaterThan(0);
        expect(Object.keys(result.logins).every((status) => ["401", "429", "503"].includes(status))).toBe(true);
        // The deep bodies were sent all along and each refused with 422, never a 5xx.
        expect(result.deep[422] ?? 0).toBeGreaterThan(10);
        expect(Object.keys(result.deep)).toEqual(["422"]);
        // Unloaded: the larger of before and after, so a machine that got busier meanwhile is not blamed
        // on the flood; a round whose ingest managed too few samples under it counts as slow too.
        if (passes(result)) break;
      }
      const last = rounds.at(-1)!;
      expect({ rounds, withinBound: passes(last) }).toMatchObject({ withinBound: true });
    },
    4 * 60_000,
  );
});
