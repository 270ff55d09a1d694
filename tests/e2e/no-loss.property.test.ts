// The guarantee users buy, as a randomized property over real processes in both deployments:
// sequences of single and batch ingests for two customers, ids new, repeated from earlier requests
// and repeated inside one batch, with SIGTERM and kill -9 of the process (embedded) or of one role
// (production) while requests are in flight, and (production) restarts of PostgreSQL or Redis under
// them; and embedded over two shards (database.sqlite_shards = 2, one customer on each), where a
// disruption hits the supervisor (its kill -9 stops the shards, which a new one waits for) or one
// shard process (the supervisor starts it again). After each sequence, with everything restarted:
//   1. every id answered 2xx reaches every matching webhook of its customer at least once, and no
//      webhook gets an event of another customer or of a type it does not subscribe to;
//   2. the store agrees with the receivers: each delivery succeeded, with attempt numbers unique,
//      no more attempt rows than requests the receiver saw, and a 2xx among them;
//   3. events received twice (after a 2xx) are no more than what was in flight or just answered
//      when a process was killed with -9 (none for SIGTERM: it drains).
// The flaky webhook's failures open its circuit breaker along the way (a hair trigger), so pauses,
// probes and drains are mixed into every sequence; each is counted and printed.
// Seeded (HOOKRELAY_PROPERTY_SEED to replay); fast-check prints the seed and the shrunk sequence.
import { afterAll, describe, expect, it } from "bun:test";
import type { Subprocess } from "bun";
import fc from "fast-check";
import { type ServiceName, startAgain, stopKeepingData } from "../../scripts/services/index.ts";
import { shardOf } from "../../src/adapters/sqlite/shards.ts";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { CUSTOMERS, type DisruptionStep, type IngestStep, type Step, steps, typeOf } from "../helpers/ingest-sequences.ts";
import { endToEndModes, type Mode } from "../helpers/modes.ts";
import { alive, childInstance, childPids, portsAndEnv, shardOfPid } from "../helpers/process.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const SEED = Number(process.env.HOOKRELAY_PROPERTY_SEED ?? Date.now() % 2 ** 31);
type Deployment = Mode | "sharded";
const DEPLOYMENTS: Deployment[] = [...MODES.slice(0, 1), "sharded", ...MODES.slice(1)];
const RUNS: Record<Deployment, number> = { embedded: 10, sharded: 6, production: 5 };
const SHARDS = 2;
/** A 2xx the receiver gave this long before a kill -9 may not be recorded yet: it may come again. */
const UNRECORDED_WINDOW_MS = 2_000;

/** Each customer's webhooks: what they subscribe to, and whether their endpoint fails a first try. */
const WEBHOOKS = [
  { name: "all", types: ["*"], flaky: false },
  { name: "orders", types: ["order.created", "order.paid"], flaky: false },
  { name: "paid", types: ["order.paid", "invoice.sent"], flaky: true },
];

// The Kafka broker's restart (tens of seconds under a loaded suite) is backend-restarts.test.ts's:
// here, the two whose restarts fit a sequence.
const BACKENDS: ServiceName[] = ["postgres", "redis"];
/** How long a restarted backend stays away, ms. */
const BACKEND_DOWN_MS = 1_000;
const cleanups: (() => void)[] = [];
const heldDown = new Set<ServiceName>();
afterAll(async () => {
  for (const cleanup of cleanups) cleanup();
  // A failure mid-restart must not leave a shared server down for the next file.
  for (const service of heldDown) await startAgain(service, () => {}).catch((err) => console.error(`could not start ${service} again: ${err}`));
}, 120_000);

async function restartBackend(service: ServiceName): Promise<void> {
  heldDown.add(service);
  await stopKeepingData(service, () => {});
  await Bun.sleep(BACKEND_DOWN_MS);
  await startAgain(service, () => {});
  heldDown.delete(service);
}

/** A receiver that answers 500 to a flaky path's first request per event, and times every 2xx. */
function startFlakyReceiver() {
  const requests = new Map<string, number>(); // `${path} ${eventId}` → requests
  const ok = new Map<string, number>(); // → 2xx answers
  const okTimes: number[] = [];
  let inFlight = 0;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 60,
    async fetch(request) {
      inFlight++;
      try {
        const path = new URL(request.url).pathname;
        const { id } = (await request.json()) as { id: string };
        const key = `${path} ${id}`;
        const n = (requests.get(key) ?? 0) + 1;
        requests.set(key, n);
        await Bun.sleep(Math.random() * 15); // a little time in flight, so kills find some there
        if (path.endsWith("/paid") && n === 1) return new Response("not yet", { status: 500 });
        ok.set(key, (ok.get(key) ?? 0) + 1);
        okTimes.push(Date.now());
        return new Response("ok");
      } finally {
        inFlight--;
      }
    },
  });
  return {
    url: (path: string) => `http://127.0.0.1:${server.port}${path}`,
    requests,
    ok,
    /** 2xx answers given within `ms` before now, plus requests in flight now. */
    exposure: (ms: number) => okTimes.filter((t) => t > Date.now() - ms).length + inFlight,
    stop: () => server.stop(true),
  };
}

interface Cluster {
  gateway: string;
  ingest: string;
  /** Processes a disruption can hit. */
  targets: number;
  disrupt(step: DisruptionStep): Promise<void>;
  kill(): void;
  /** The last lines each process wrote, for a failure's report. */
  logs(): string;
}

const TEST_ENV = {
  HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "100ms",
  HOOKRELAY_RETRY_MANAGER_JITTER: "0",
  HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_IP: "0",
  HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_CUSTOMER: "0",
  HOOKRELAY_DISPATCHER_SHUTDOWN_TIMEOUT: "5s",
  // A retry claimed when its process is killed -9 comes back after the lease: keep that short here.
  HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "2s",
  HOOKRELAY_RETRY_MANAGER_LEASE: "4s",
  // A read-ahead of a few events' payloads (~100 bytes each): the dispatcher stops reading and
  // waits for room again and again, through every kill and restart of the sequences.
  HOOKRELAY_DISPATCHER_MAX_PENDING_BYTES: "600",
  // A hair-trigger circuit breaker: the flaky webhook's first tries (3 failures in a row) pause it
  // again and again, so its events are held, probed and drained under every kill and restart too.
  HOOKRELAY_ENDPOINT_HEALTH_BREAKER_CONSECUTIVE_FAILURES: "3",
  HOOKRELAY_ENDPOINT_HEALTH_PROBE_INTERVAL: "200ms",
  HOOKRELAY_ENDPOINT_HEALTH_PROBE_MAX_INTERVAL: "800ms",
  HOOKRELAY_ENDPOINT_HEALTH_DRAIN_PER_SECOND: "500",
};

async function embeddedCluster(env: Record<string, string>): Promise<Cluster> {
  const hr = childInstance({ ...env, ...TEST_ENV });
  cleanups.push(() => hr.proc?.kill(9));
  await hr.start();
  return {
    gateway: hr.gateway,
    ingest: hr.ingest,
    targets: 1,
    async disrupt(step) {
      if (step.kind === "restart-backend") throw new Error("embedded mode has no backend server to restart");
      hr.proc.kill(step.kind === "kill9" ? 9 : "SIGTERM");
      const code = await hr.proc.exited;
      if (step.kind === "sigterm" && code !== 0) throw new Error(`SIGTERM: exit ${code}\n${hr.output().slice(-2000)}`);
      await hr.start();
    },
    kill: () => hr.proc?.kill(9),
    logs: () => hr.output().slice(-6000),
  };
}

/** The shard processes a supervisor runs, by shard. */
function shardPids(supervisor: number): Map<number, number> {
  const pids = new Map<number, number>();
  for (const pid of childPids(supervisor)) {
    const shard = shardOfPid(pid);
    if (shard !== undefined) pids.set(shard, pid);
  }
  return pids;
}

/** Embedded over two shards: a disruption hits the supervisor (target 0) or shard 0 or 1's process. */
async function shardedCluster(env: Record<string, string>): Promise<Cluster> {
  const hr = childInstance({ ...env, ...TEST_ENV, HOOKRELAY_DATABASE_SQLITE_SHARDS: String(SHARDS) });
  const supervisors: number[] = [];
  const killAll = () => {
    for (const pid of supervisors) for (const child of shardPids(pid).values()) process.kill(child, 9);
    hr.proc?.kill(9);
  };
  cleanups.push(killAll);
  const start = async () => {
    await hr.start();
    supervisors.push(hr.proc.pid);
    await waitFor("every shard running", () => shardPids(hr.proc.pid).size === SHARDS, 10_000, 20);
  };
  await start();
  return {
    gateway: hr.gateway,
    ingest: hr.ingest,
    targets: 1 + SHARDS,
    async disrupt(step) {
      if (step.kind === "restart-backend") throw new Error("embedded mode has no backend server to restart");
      const signal = step.kind === "kill9" ? 9 : "SIGTERM";
      if (step.target === 0) {
        const shards = [...shardPids(hr.proc.pid).values()];
        hr.proc.kill(signal);
        const code = await hr.proc.exited;
        if (step.kind === "sigterm" && code !== 0) throw new Error(`SIGTERM: exit ${code}\n${hr.output().slice(-2000)}`);
        // Its shards stop by themselves (SIGTERM: it waited for them; kill -9: their pipe closed) and
        // the next supervisor's shards wait for their locks: started at once, as an operator would.
        await start();
        await waitFor("the old shards gone", () => shards.every((pid) => !alive(pid)), 30_000, 20);
        return;
      }
      const shard = step.target - 1;
      const pid = shardPids(hr.proc.pid).get(shard)!;
      process.kill(pid, signal);
      await waitFor(
        `shard ${shard} started again`,
        () => {
          const now = shardPids(hr.proc.pid).get(shard);
          return now !== undefined && now !== pid;
        },
        15_000,
        20,
      );
      // Shard 0 serves the API: wait until it answers again.
      if (shard === 0)
        await waitFor(
          "the gateway back",
          () =>
            fetch(`${hr.gateway}/health`).then(
              (r) => r.ok,
              () => false,
            ),
          15_000,
          20,
        );
    },
    kill: killAll,
    logs: () => hr.output().slice(-8000),
  };
}

/** Production split into one process per role; a disruption hits ingest, the dispatcher or the retry manager. */
async function productionCluster(env: Record<string, string>): Promise<Cluster> {
  const { ports, env: roleEnv } = portsAndEnv({ ...env, ...TEST_ENV });
  const procs = new Map<string, Subprocess>();
  const output = new Map<string, string>();
  const start = async (role: "gateway" | "ingest" | "dispatcher" | "retry") => {
    const proc = Bun.spawn(["bun", "src/cli/main.ts", role], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...roleEnv }, stdout: "pipe", stderr: "pipe" });
    procs.set(role, proc);
    output.set(role, "");
    for (const stream of [proc.stdout, proc.stderr] as ReadableStream<Uint8Array>[])
      (async () => {
        for await (const chunk of stream) output.set(role, output.get(role)! + new TextDecoder().decode(chunk));
      })();
    await waitFor(
      `${role} to answer /health`,
      async () => {
        if (proc.exitCode !== null) throw new Error(`${role} exited ${proc.exitCode}: ${output.get(role)}`);
        return fetch(`http://127.0.0.1:${ports[role]}/health`).then(
          (r) => r.ok,
          () => false,
        );
      },
      30_000,
      50,
    );
  };
  const kill = () => {
    for (const proc of procs.values()) proc.kill(9);
  };
  cleanups.push(kill);
  await start("gateway"); // migrates and creates the topic first
  await Promise.all([start("ingest"), start("dispatcher"), start("retry")]);
  const targets = ["ingest", "dispatcher", "retry"] as const;
  return {
    gateway: `http://127.0.0.1:${ports.gateway}`,
    ingest: `http://127.0.0.1:${ports.ingest}`,
    targets: targets.length,
    async disrupt(step) {
      if (step.kind === "restart-backend") return restartBackend(BACKENDS[step.target]!);
      const role = targets[step.target]!;
      const proc = procs.get(role)!;
      proc.kill(step.kind === "kill9" ? 9 : "SIGTERM");
      const code = await proc.exited;
      if (step.kind === "sigterm" && code !== 0) throw new Error(`SIGTERM of ${role}: exit ${code}\n${output.get(role)!.slice(-2000)}`);
      await start(role);
    },
    kill,
    logs: () => [...output].map(([role, text]) => `--- ${role}\n${text.slice(-3000)}`).join("\n"),
  };
}

interface Outcome {
  /** `${customer} ${id}` of every id some 2xx answer covered. */
  answered: Set<string>;
  /** What the receiver may see twice: exposure at each kill -9. */
  duplicateBudget: number;
  kills: number;
  sigterms: number;
  backendRestarts: number;
  requests: number;
  events: number;
}

/** Plays a sequence: ingests fired without waiting for each other, a disruption after its delay. */
async function play(cluster: Cluster, keys: string[], sequence: Step[], exposure: (ms: number) => number): Promise<Outcome> {
  const outcome: Outcome = { answered: new Set(), duplicateBudget: 0, kills: 0, sigterms: 0, backendRestarts: 0, requests: 0, events: 0 };
  let inFlight: Promise<void>[] = [];
  const send = async (step: IngestStep) => {
    const body = (id: string) => ({ id, type: typeOf(id), source: "property", data: { id } });
    const lone = step.single && step.ids.length === 1;
    outcome.requests++;
    outcome.events += step.ids.length;
    try {
      const res = await fetch(`${cluster.ingest}/events${lone ? "" : "/batch"}`, {
        method: "POST",
        headers: { authorization: `Bearer ${keys[step.customer]}`, "content-type": "application/json" },
        body: JSON.stringify(lone ? body(step.ids[0]!) : { events: step.ids.map(body) }),
      });
      if (res.status >= 200 && res.status < 300) for (const id of step.ids) outcome.answered.add(`${step.customer} ${id}`);
      else if (res.status < 500) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
    } catch (err) {
      if ((err as Error).message.startsWith("ingest answered")) throw err;
      // No answer (the process died under it): nothing was promised.
    }
  };
  for (const step of sequence) {
    if (step.kind === "ingest") {
      inFlight.push(send(step));
      continue;
    }
    await Bun.sleep(step.afterMs);
    if (step.kind === "kill9") {
      outcome.kills++;
      outcome.duplicateBudget += exposure(UNRECORDED_WINDOW_MS);
    } else if (step.kind === "sigterm") outcome.sigterms++;
    else outcome.backendRestarts++;
    const settled = Promise.allSettled(inFlight);
    await cluster.disrupt(step);
    for (const result of await settled) if (result.status === "rejected") throw result.reason;
    inFlight = [];
  }
  for (const result of await Promise.allSettled(inFlight)) if (result.status === "rejected") throw result.reason;
  return outcome;
}

const totals = { sequences: 0, requests: 0, events: 0, kills: 0, sigterms: 0, backendRestarts: 0, duplicates: 0, deliveries: 0, pauses: 0 };

describe.each(DEPLOYMENTS)("no accepted event is lost (%s)", (mode) => {
  it(`holds over ${RUNS[mode]} random sequences of ingests, repeats and kills (seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(steps(mode === "embedded" ? 1 : 3, 16, mode === "production" ? BACKENDS.length : 0), async (sequence) => {
        const receiver = startFlakyReceiver();
        cleanups.push(receiver.stop);
        const cluster =
          mode === "embedded" ? await embeddedCluster(await modeEnv(mode)) : mode === "sharded" ? await shardedCluster(await modeEnv("embedded")) : await productionCluster(await modeEnv(mode));
        try {
          await check(
            cluster,
            receiver,
            sequence.map((s) => (s.kind === "ingest" ? s : { ...s, target: s.target % cluster.targets })),
          );
        } finally {
          cluster.kill();
          receiver.stop();
        }
      }),
      { seed: SEED, numRuns: RUNS[mode], endOnFailure: true, interruptAfterTimeLimit: 240_000 },
    );
    console.log(
      `no-loss property (${mode}, seed ${SEED}): ${totals.sequences} sequences, ${totals.requests} requests, ${totals.events} events sent, ` +
        `${totals.deliveries} deliveries checked, ${totals.kills} kill -9, ${totals.sigterms} SIGTERM, ${totals.backendRestarts} backend restarts, ${totals.pauses} breaker pauses, ${totals.duplicates} duplicates at receivers; nothing lost`,
    );
    Object.assign(totals, { sequences: 0, requests: 0, events: 0, kills: 0, sigterms: 0, backendRestarts: 0, duplicates: 0, deliveries: 0, pauses: 0 });
  }, 300_000);
});

async function check(cluster: Cluster, receiver: ReturnType<typeof startFlakyReceiver>, sequence: Step[]): Promise<void> {
  const admin = client(cluster.gateway, await adminToken(cluster.gateway));
  const customers: { id: string; key: string; api: ReturnType<typeof client>; webhooks: Map<string, string> }[] = [];
  for (let c = 0; c < CUSTOMERS; c++) {
    // Over two shards, one customer on each.
    let id: string;
    do id = `prop-${c}-${Math.random().toString(36).slice(2, 8)}`;
    while (shardOf(id, SHARDS) !== c % SHARDS);
    expect((await admin("POST", "/api/v1/customers", { id, name: id })).status).toBe(201);
    const key = (await admin("POST", `/api/v1/customers/${id}/api-keys`, { name: "k", scopes: ["webhooks:write", "webhooks:read", "events:write", "deliveries:read"] })).body.key as string;
    const api = client(cluster.gateway, key);
    const webhooks = new Map<string, string>(); // webhook id → path
    for (const w of WEBHOOKS) {
      const created = await api("POST", "/api/v1/webhooks", { url: receiver.url(`/c${c}/${w.name}`), event_types: w.types });
      expect(created.status).toBe(201);
      webhooks.set(created.body.id, `/c${c}/${w.name}`);
    }
    customers.push({ id, key, api, webhooks });
  }
  // Webhooks are matched from a cached index: let it see them before the first event.
  await Bun.sleep(300);

  const outcome = await play(
    cluster,
    customers.map((c) => c.key),
    sequence,
    receiver.exposure,
  );
  const expected: string[] = []; // `${path} ${eventId}`
  for (const key of outcome.answered) {
    const [c, id] = key.split(" ") as [string, string];
    for (const w of WEBHOOKS) if (w.types.includes("*") || w.types.includes(typeOf(id))) expected.push(`/c${c}/${w.name} ${id}`);
  }

  // 1. Every answered id at every matching webhook; nothing anywhere it does not belong.
  const missing = () => expected.filter((k) => (receiver.ok.get(k) ?? 0) < 1);
  await waitFor("every answered id at every matching webhook", () => missing().length === 0, 45_000, 100).catch(async (err) => {
    // What the store says of the missing ones, and what the processes logged: the report a replay needs.
    const states: string[] = [];
    for (const key of missing().slice(0, 10)) {
      const [path, id] = key.split(" ") as [string, string];
      const c = Number(path.split("/")[1]!.slice(1));
      const listed = await customers[c]!.api("GET", `/api/v1/deliveries?limit=1000`).catch(() => undefined);
      const rows = ((listed?.body?.data ?? []) as { event_id: string; webhook_id: string; status: string; attempt_count: number }[]).filter((d) => d.event_id === id);
      states.push(`${key}: requests ${receiver.requests.get(key) ?? 0}, stored ${JSON.stringify(rows.map((d) => [customers[c]!.webhooks.get(d.webhook_id), d.status, d.attempt_count]))}`);
    }
    throw new Error(`${(err as Error).message}; ${missing().length} missing:\n${states.join("\n")}\n${cluster.logs()}`);
  });
  for (const key of receiver.requests.keys()) {
    const [path, id] = key.split(" ") as [string, string];
    const [, c, name] = path.split("/") as [string, string, string];
    const w = WEBHOOKS.find((x) => x.name === name)!;
    expect(Number(c.slice(1))).toBeLessThan(CUSTOMERS);
    expect(w.types.includes("*") || w.types.includes(typeOf(id))).toBe(true);
  }

  // 2. The store agrees with what the receivers saw (once every delivery has settled).
  let deliveries: { id: string; event_id: string; webhook_id: string; status: string; attempt_count: number; customer: number }[] = [];
  await waitFor(
    () => `every delivery settled as succeeded: ${deliveries.length} stored, ${expected.length} expected; not settled: ${JSON.stringify(deliveries.filter((d) => d.status !== "succeeded"))}`,
    async () => {
      deliveries = [];
      for (const [c, customer] of customers.entries()) {
        const listed = await customer.api("GET", "/api/v1/deliveries?limit=1000");
        expect(listed.status).toBe(200);
        for (const d of listed.body.data) deliveries.push({ ...d, customer: c });
      }
      return deliveries.length >= expected.length && deliveries.every((d) => d.status === "succeeded");
    },
    45_000,
    200,
  );
  const stored = new Set<string>();
  for (const d of deliveries) {
    const path = customers[d.customer]!.webhooks.get(d.webhook_id)!;
    const key = `${path} ${d.event_id}`;
    expect(stored.has(key)).toBe(false); // one delivery per (event, webhook)
    stored.add(key);
    const attempts = await customers[d.customer]!.api("GET", `/api/v1/deliveries/${d.id}/attempts`);
    const rows = (Array.isArray(attempts.body) ? attempts.body : attempts.body.data) as { attempt_number: number; status_code: number | null }[];
    const numbers = rows.map((a) => a.attempt_number);
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThanOrEqual(receiver.requests.get(key) ?? 0);
    expect(rows.some((a) => a.status_code !== null && a.status_code >= 200 && a.status_code < 300)).toBe(true);
    expect(d.attempt_count).toBeGreaterThanOrEqual(rows.length);
  }
  for (const key of expected) expect(stored.has(key)).toBe(true);

  // 3. Duplicates only from what a kill -9 caught in flight or unrecorded.
  await Bun.sleep(300); // anything still coming twice would arrive now
  const duplicates = [...receiver.ok.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
  expect(duplicates).toBeLessThanOrEqual(outcome.duplicateBudget);

  totals.sequences++;
  totals.requests += outcome.requests;
  totals.events += outcome.events;
  totals.kills += outcome.kills;
  totals.sigterms += outcome.sigterms;
  totals.backendRestarts += outcome.backendRestarts;
  totals.duplicates += duplicates;
  totals.deliveries += deliveries.length;
  for (const customer of customers) {
    const ops = await customer.api("GET", "/api/v1/operational-events?limit=1000");
    totals.pauses += (ops.body.data as { type: string }[]).filter((e) => e.type === "webhook.paused").length;
  }
}
