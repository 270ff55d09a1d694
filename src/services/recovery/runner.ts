/**
 * @module Running recovery jobs (jobs.ts), in the retry role: a process claims a running job with a
 * lease (renewed with every step it writes), and sends its deliveries one at a time in id order
 * (the events' acceptance order) at the job's pace, each as a new round of that delivery (what a
 * manual retry starts): a failure goes on with the delivery's own retries.
 *
 * Nothing is sent twice by the job itself: before each send the job writes which delivery and
 * since when (`inFlight`, with the cursor). A job taken over after a crash looks at that delivery's
 * attempts: one made since then means it was sent (and is counted from that attempt); none, and it
 * is sent now. The one gap: a crash after the answer came and before the attempt was written (the
 * store writes attempts in groups, within ATTEMPT_FLUSH_MS) sends that delivery again, with the
 * same webhook-id; left so, as closing it would cost every attempt a write of its own. A stopped process gives its lease back, so a restart goes on at once; a killed one's
 * lease runs out first.
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

/** Deliveries read at a time. */
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
    const { store, clock } = this.deps;
    const gap = 1000 / job.params.perSecond;
    let nextAt = clock.now();
    if (job.inFlight && !(await this.resumeInFlight(job))) return;
    while (this.running) {
      const page = await store.listDeliveries(job.customerId, {
        webhookId: job.webhookId,
        status: job.params.status,
        since: job.params.since,
        until: job.params.until ?? undefined,
        cursor: job.cursor ?? undefined,
        limit: PAGE,
      });
      if (page.data.length === 0) return this.finish(job);
      for (const delivery of page.data) {
        const webhook = await this.usableWebhook(job);
        if (webhook === "gone") return this.finish(job);
        if (!this.running) return this.release(job);
        const wait = nextAt - clock.now();
        if (wait > 0) await Bun.sleep(wait);
        nextAt = Math.max(nextAt, clock.now() - gap) + gap;
        if (!(await this.save(job, { cursor: delivery.id, inFlight: { deliveryId: delivery.id, since: clock.now() } }))) return; // cancelled
        const succeeded = await this.send(delivery, webhook);
        if (!(await this.save(job, { inFlight: null, progress: counted(job, succeeded) }))) return;
      }
    }
    await this.release(job);
  }

  /** After a takeover: the delivery being sent when the job stopped, counted if it was sent, else sent now. False when the job was cancelled meanwhile. */
  private async resumeInFlight(job: RecoveryJob): Promise<boolean> {
    const { deliveryId, since } = job.inFlight!;
    const sent = (await this.deps.store.listAttempts(deliveryId)).find((a) => a.createdAt >= since);
    if (sent) return this.save(job, { inFlight: null, progress: counted(job, sent.statusCode !== null && sent.statusCode >= 200 && sent.statusCode < 300) });
    const delivery = await this.deps.store.getDelivery(job.customerId, deliveryId);
    const webhook = await this.usableWebhook(job);
    if (!delivery || webhook === "gone") return this.save(job, { inFlight: null });
    const succeeded = await this.send(delivery, webhook);
    return this.save(job, { inFlight: null, progress: counted(job, succeeded) });
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

function counted(job: RecoveryJob, succeeded: boolean): RecoveryJob["progress"] {
  const p = job.progress;
  return { ...p, sent: p.sent + 1, succeeded: p.succeeded + (succeeded ? 1 : 0), failed: p.failed + (succeeded ? 0 : 1) };
}
