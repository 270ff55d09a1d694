/**
 * @module Running recovery jobs (jobs.ts), in the retry role: a process claims a running job with a
 * lease (renewed with every step it writes), and sends its deliveries in id order (the events'
 * acceptance order), evenly spaced at the job's pace, each as a new round of that delivery (what a
 * manual retry starts): a failure goes on with the delivery's own retries. A tenth of a second's
 * worth (`batchOf`) is read and under way at a time, so the pace holds over the store's and the
 * endpoint's round trips.
 *
 * Nothing is sent twice by the job itself: before each batch the job writes which deliveries and
 * since when (`inFlight`, with the cursor). A job taken over after a crash looks at their attempts:
 * one made since then means a delivery was sent (and is counted from that attempt); none, and it
 * is sent now. The one gap: a crash after an answer came and before its attempt was written (the
 * store writes attempts in groups, within ATTEMPT_FLUSH_MS) sends that delivery again, with the
 * same webhook-id; left so, as closing it would cost every attempt a write of its own.
 */
import { newId } from "../../domain/ids.ts";
import type { Delivery, RecoveryJob, Webhook } from "../../domain/model.ts";
import { type AttemptDeps, sendAttempt } from "../delivery/attempt.ts";
import { judgeAttempt, settle } from "../delivery/transitions.ts";

export interface RecoveryRunnerOptions {
  /** How often a job to run is looked for. */
  pollIntervalMs: number;
  /** A claimed job's lease: renewed at every step, so longer than one send can take. */
  leaseMs: number;
}

/** Deliveries read (and sent) at a time at most. */
const PAGE = 100;
/** How long a paused webhook's job waits before looking again. */
const PAUSED_WAIT_MS = 1000;

export class RecoveryRunner {
  private running = false;
  private timer: Timer | undefined;
  private current: Promise<void> | undefined;

  constructor(
    private readonly deps: AttemptDeps,
    private readonly options: RecoveryRunnerOptions,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.timer = setInterval(() => {
      if (!this.current) this.current = this.claimAndRun().finally(() => (this.current = undefined));
    }, this.options.pollIntervalMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.timer);
    await this.current;
  }

  private async claimAndRun(): Promise<void> {
    try {
      const job = await this.deps.store.recoveryJobs.claim(this.deps.clock.now(), this.options.leaseMs);
      if (job) await this.run(job);
    } catch (err) {
      this.deps.log.warn({ err }, "recovery: a job's turn failed; it is taken up again once its lease ends");
    }
  }

  /** Runs a claimed job until it is done, cancelled, or this process stops (its lease then given back). */
  private async run(job: RecoveryJob): Promise<void> {
    const { store } = this.deps;
    const pace = new Pace(job.params.perSecond, this.deps.clock.now);
    if (job.inFlight && !(await this.resumeInFlight(job, pace))) return;
    while (this.running) {
      const page = await store.listDeliveries(job.customerId, {
        webhookId: job.webhookId,
        status: job.params.status,
        since: job.params.since,
        until: job.params.until ?? undefined,
        cursor: job.cursor ?? undefined,
        limit: batchOf(job.params.perSecond),
      });
      if (page.data.length === 0) return this.finish(job);
      const webhook = await this.usableWebhook(job);
      if (webhook === "gone") return this.finish(job);
      if (!this.running) return this.release(job);
      const ids = page.data.map((d) => d.id);
      if (!(await this.save(job, { cursor: ids[ids.length - 1]!, inFlight: { deliveryIds: ids, since: this.deps.clock.now() } }))) return; // cancelled
      const outcomes = await this.sendPaced(page.data, webhook, pace);
      if (!(await this.save(job, { inFlight: null, progress: counted(job, outcomes) }))) return;
    }
    await this.release(job);
  }

  /**
   * After a takeover: the deliveries being sent when the job stopped, each counted if it was sent
   * (an attempt since), else sent now. False when the job was cancelled meanwhile.
   */
  private async resumeInFlight(job: RecoveryJob, pace: Pace): Promise<boolean> {
    const { deliveryIds, since } = job.inFlight!;
    const outcomes: boolean[] = [];
    const unsent: Delivery[] = [];
    for (const id of deliveryIds) {
      const sent = (await this.deps.store.listAttempts(id)).find((a) => a.createdAt >= since);
      if (sent) outcomes.push(sent.statusCode !== null && sent.statusCode >= 200 && sent.statusCode < 300);
      else {
        const delivery = await this.deps.store.getDelivery(job.customerId, id);
        if (delivery) unsent.push(delivery);
      }
    }
    const webhook = await this.usableWebhook(job);
    if (webhook !== "gone") outcomes.push(...(await this.sendPaced(unsent, webhook, pace)));
    return this.save(job, { inFlight: null, progress: counted(job, outcomes) });
  }

  /** Sends the deliveries, each at its turn of the pace, several under way at once; answers whether each succeeded. */
  private sendPaced(deliveries: Delivery[], webhook: Webhook, pace: Pace): Promise<boolean[]> {
    return Promise.all(
      deliveries.map(async (delivery) => {
        const wait = pace.next() - this.deps.clock.now();
        if (wait > 0) await Bun.sleep(wait);
        return this.send(delivery, webhook);
      }),
    );
  }

  /** The job's webhook once it may be sent to (waiting while it is paused); "gone" when deleted or disabled. */
  private async usableWebhook(job: RecoveryJob): Promise<Webhook | "gone"> {
    for (;;) {
      const webhook = await this.deps.store.getWebhook(job.customerId, job.webhookId);
      if (webhook?.status !== "active") return "gone";
      if (!webhook.pause || !this.running) return webhook;
      // Its breaker is open: the probe decides; the job waits (its lease kept).
      if (!(await this.save(job, {}))) return "gone";
      await Bun.sleep(PAUSED_WAIT_MS);
    }
  }

  /** One delivery sent as a new round (a manual retry's); a failure goes on with its own retries. */
  private async send(delivery: Delivery, webhook: Webhook): Promise<boolean> {
    const deps = this.deps;
    await deps.store.requeueDelivery(delivery, deps.clock.now());
    const [work] = await deps.store.deliveryWork([delivery.id]);
    if (!work) return false;
    const settlement = judgeAttempt(deps, await sendAttempt(deps, { ...work, webhook }));
    await settle(deps, settlement, () => false);
    return settlement.outcome === "succeeded";
  }

  /** Writes the job's step with its lease renewed; false once it is no longer running (cancelled). */
  private save(job: RecoveryJob, change: Partial<Pick<RecoveryJob, "cursor" | "inFlight" | "progress" | "state" | "finishedAt">>): Promise<boolean> {
    const now = this.deps.clock.now();
    Object.assign(job, change, { leaseUntil: now + this.options.leaseMs, updatedAt: now });
    return this.deps.store.recoveryJobs.save(job);
  }

  private async release(job: RecoveryJob): Promise<void> {
    await this.save(job, {});
    job.leaseUntil = 0;
    await this.deps.store.recoveryJobs.save(job);
  }

  private async finish(job: RecoveryJob): Promise<void> {
    const now = this.deps.clock.now();
    if (!(await this.save(job, { state: "finished", finishedAt: now, inFlight: null }))) return;
    const { sent, succeeded, failed } = job.progress;
    await this.deps.store.recoveryJobs.finished({
      id: newId("ope", now),
      customerId: job.customerId,
      webhookId: job.webhookId,
      type: "recovery.finished",
      reason: `recovery ${job.id} finished: ${sent} sent, ${succeeded} succeeded, ${failed} failed`,
      createdAt: now,
    });
  }
}

function counted(job: RecoveryJob, outcomes: boolean[]): RecoveryJob["progress"] {
  const p = job.progress;
  const succeeded = outcomes.filter(Boolean).length;
  return { ...p, sent: p.sent + outcomes.length, succeeded: p.succeeded + succeeded, failed: p.failed + outcomes.length - succeeded };
}

/** Deliveries a job reads and sends at a time: a tenth of a second's worth (one at least), so the pace holds over the store's and the endpoint's round trips. */
export function batchOf(perSecond: number): number {
  return Math.max(1, Math.min(PAGE, Math.ceil(perSecond / 10)));
}

/** When each next send may go: `perSecond` evenly spaced, never bunched to catch up after a stall. */
class Pace {
  private nextAt: number;
  private readonly gap: number;

  constructor(
    perSecond: number,
    private readonly now: () => number,
  ) {
    this.gap = 1000 / perSecond;
    this.nextAt = now();
  }

  next(): number {
    const at = Math.max(this.nextAt, this.now());
    this.nextAt = at + this.gap;
    return at;
  }
}
