// A retry worker killed (kill -9) in the middle of a retry it has claimed: the claim is a lease,
// so the delivery is tried again — by the next retry worker, once the lease has run out — and succeeds.
import { afterAll, describe, expect, it } from "bun:test";
import type { Subprocess } from "bun";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { portsAndEnv } from "../helpers/process.ts";
import { type Receiver, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

const LEASE_MS = 4_000;
const HTTP_TIMEOUT_MS = 2_000;

const procs: Subprocess[] = [];
const receivers: Receiver[] = [];
const hung: (() => void)[] = [];
afterAll(() => {
  for (const p of procs) p.kill(9);
  for (const release of hung) release();
  for (const r of receivers) r.stop();
});

function spawnRole(role: string, env: Record<string, string>): Subprocess {
  const proc = Bun.spawn(["bun", "src/cli/main.ts", role], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }, stdout: "ignore", stderr: "inherit" });
  procs.push(proc);
  return proc;
}

const healthy = (port: number) =>
  fetch(`http://127.0.0.1:${port}/health`).then(
    (r) => r.ok,
    () => false,
  );

describe.each(MODES)("retry worker killed mid-retry (%s)", (mode) => {
  it("re-delivers a claimed retry after its lease runs out, through a new retry process, and records it succeeded", async () => {
    const { ports, env } = portsAndEnv({
      ...(await modeEnv(mode)),
      HOOKRELAY_RETRY_MANAGER_LEASE: `${LEASE_MS}ms`,
      HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: `${HTTP_TIMEOUT_MS}ms`,
      HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "100ms",
      HOOKRELAY_RETRY_MANAGER_JITTER: "0",
      HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "error",
    });
    // The gateway first: it creates the admin (and in embedded mode the database the others share).
    spawnRole("gateway", env);
    await waitFor("gateway /health", () => healthy(ports.gateway), 30_000, 50);
    spawnRole("ingest", env);
    spawnRole("dispatcher", env);
    let retry = spawnRole("retry", env);
    for (const role of ["ingest", "dispatcher", "retry"] as const) await waitFor(`${role} /health`, () => healthy(ports[role]), 30_000, 50);

    const receiver = startReceiver();
    receivers.push(receiver);
    // 1st attempt (dispatcher): 500. 2nd (the retry worker's): no answer until the test ends. 3rd: 200.
    receiver.onPath("/hook", (_req, n) => {
      if (n === 1) return new Response("fails", { status: 500 });
      if (n === 2) return new Promise<Response>((resolve) => hung.push(() => resolve(new Response("too late"))));
      return new Response("ok");
    });
    const token = await adminToken(`http://127.0.0.1:${ports.gateway}`);
    const api = client(`http://127.0.0.1:${ports.gateway}`, token);
    expect((await api("POST", "/api/v1/webhooks", { url: receiver.url("/hook"), event_types: ["retry.crash"] })).status).toBe(201);
    const eventId = `evt_retry_crash_${mode}`;
    const sent = await client(`http://127.0.0.1:${ports.ingest}`, token)("POST", "/events", { id: eventId, type: "retry.crash", source: "t", data: {} });
    expect(sent.status).toBe(202);

    const at = (n: number) => receiver.received.filter((r) => r.path === "/hook")[n - 1]?.at;
    await waitFor("the first attempt (500)", () => at(1) !== undefined, 30_000, 5);
    await waitFor("the retry worker's attempt (hangs)", () => at(2) !== undefined, 15_000, 2);
    // The retry worker claimed the item (lease until claim + LEASE_MS) before sending it: kill it mid-request.
    retry.kill(9);
    const killedAt = Date.now();
    await retry.exited;
    const t1 = at(1)!;
    const t2 = at(2)!;

    retry = spawnRole("retry", env);
    await waitFor("the new retry process /health", () => healthy(ports.retry), 30_000, 20);
    const replacementReadyAt = Date.now();
    await waitFor("the delivery tried again", () => at(3) !== undefined, LEASE_MS + 15_000, 5);
    const t3 = at(3)!;

    // The claim happened after the first attempt failed and before the second request arrived,
    // so the lease ran out somewhere in [t1 + lease, t2 + lease]: the third request can come no earlier.
    const sinceClaimAtKill = killedAt - t1; // an upper bound of the time elapsed since the claim
    console.log(
      `retry crash (${mode}): lease ${LEASE_MS} ms; attempt 1 (500) at 0 ms, attempt 2 (claimed, hung) at ${t2 - t1} ms, ` +
        `kill -9 at ${killedAt - t1} ms, new retry process healthy at ${replacementReadyAt - t1} ms, attempt 3 at ${t3 - t1} ms: ` +
        `${t3 - killedAt} ms after the kill (lease - elapsed since claim >= ${LEASE_MS - sinceClaimAtKill} ms), ${t3 - t2} ms after attempt 2`,
    );
    expect(t3 - killedAt).toBeGreaterThanOrEqual(LEASE_MS - sinceClaimAtKill);
    // ...and not much later: the new worker, once up, polls every 50 ms for what is due.
    expect(t3 - Math.max(t2 + LEASE_MS, replacementReadyAt)).toBeLessThan(2_000);

    let delivery: any;
    await waitFor(
      "the delivery recorded succeeded",
      async () => {
        const page = await api("GET", `/api/v1/deliveries?event_id=${eventId}`);
        delivery = page.body?.data?.[0];
        return delivery?.status === "succeeded";
      },
      15_000,
      100,
    );
    // The killed worker's attempt never got an outcome: two recorded attempts, 500 then 200.
    expect(delivery).toMatchObject({ event_id: eventId, status: "succeeded", attempt_count: 2, last_status_code: 200 });
    const attempts = await api("GET", `/api/v1/deliveries/${delivery.id}/attempts`);
    expect(attempts.body.data.map((a: { status_code: number }) => a.status_code)).toEqual([500, 200]);
    await Bun.sleep(500);
    expect(receiver.received.filter((r) => r.path === "/hook")).toHaveLength(3);
    for (const p of procs) p.kill(9);
  }, 90_000);
});
