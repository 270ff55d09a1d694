/**
 * @module Probing paused webhooks (run with the retry manager): each paused webhook whose probe is
 * due is claimed (one process at a time, with a lease) and tried with its oldest held delivery.
 * A success closes the breaker and drains the backlog at a pace (resume.ts); a failure waits twice
 * as long for the next probe, up to a maximum; failing for `disable_after` disables the webhook.
 * A paused webhook with nothing held is resumed without a probe: there is nothing to lose.
 */
import { afterFailedProbe, type BreakerPolicy } from "../../domain/breaker.ts";
import { newId } from "../../domain/ids.ts";
import type { Webhook } from "../../domain/model.ts";
import type { AttemptDeps } from "../delivery/attempt.ts";
import { sendAttempt } from "../delivery/attempt.ts";
import { judgeAttempt, settle } from "../delivery/transitions.ts";
import { resumeAndDrain } from "./resume.ts";

/** Webhooks probed at most per turn. */
const CLAIM_BATCH = 10;
/** A paused webhook's oldest unfinished deliveries looked at for one that is held (off the schedule). */
const PROBE_CANDIDATES = 20;

export interface ProberOptions {
  policy: BreakerPolicy;
  /** How often due probes are looked for, ms. */
  pollIntervalMs: number;
  /** A claimed probe's lease: longer than one attempt can take. */
  leaseMs: number;
  drainPerSecond: number;
}

export class Prober {
  private running = false;
  private timer: Timer | undefined;
  private turn: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: AttemptDeps,
    private readonly options: ProberOptions,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.timer = setInterval(() => {
      this.turn = this.turn.then(() => this.probeDue());
    }, this.options.pollIntervalMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.timer);
    await this.turn;
  }

  private async probeDue(): Promise<void> {
    if (!this.running) return;
    try {
      const due = await this.deps.store.claimProbes(this.deps.clock.now(), this.options.leaseMs, CLAIM_BATCH);
      await Promise.all(due.map((webhook) => this.probe(webhook)));
    } catch (err) {
      this.deps.log.warn({ err }, "probing paused webhooks failed; trying again next turn");
    }
  }

  /** One probe of one claimed webhook; a failure here leaves the claim to come due again. */
  private async probe(webhook: Webhook): Promise<void> {
    const deps = this.deps;
    const pause = webhook.pause!;
    // Delivering in order, only a key's first may go: the one of least seq of them.
    const unfinished = webhook.ordering
      ? (await deps.store.fifoHeads(webhook.customerId, webhook.id)).sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0)).map((head) => head.delivery)
      : await deps.store.unfinishedDeliveries(webhook.customerId, webhook.id, PROBE_CANDIDATES);
    if (unfinished.length === 0) {
      await resumeAndDrain(deps, webhook, "nothing was waiting for it", this.options.drainPerSecond);
      return;
    }
    // The oldest one held: not on the retry schedule, where a retry may be under way (a second send).
    const onSchedule = await deps.schedule.scheduled(unfinished.map((d) => d.id));
    const held = unfinished.find((d) => !onSchedule.has(d.id));
    const [work] = held ? await deps.store.deliveryWork([held.id]) : [];
    if (!work) {
      // All still in motion (each comes off the schedule once the retry manager finds it paused): next time.
      await deps.store.reprobe(webhook.customerId, webhook.id, { ...pause, probeAt: deps.clock.now() + pause.probeIntervalMs });
      return;
    }
    const settlement = judgeAttempt(deps, await sendAttempt(deps, { ...work, webhook }));
    await settle(deps, settlement, () => !this.running);
    if (settlement.outcome === "succeeded") {
      await resumeAndDrain(deps, webhook, `a probe succeeded (delivery ${work.delivery.id})`, this.options.drainPerSecond);
      return;
    }
    if (settlement.disable) return; // 410 Gone: disabled by the outcome itself
    const now = deps.clock.now();
    const next = afterFailedProbe(this.options.policy, pause, now);
    if (!next.disable) {
      await deps.store.reprobe(webhook.customerId, webhook.id, next.pause);
      deps.log.info({ webhookId: webhook.id, failures: next.pause.failures, nextProbeInMs: next.pause.probeAt - now }, "probe failed; webhook stays paused");
      return;
    }
    const reason = `failing since ${new Date(pause.failingSince).toISOString()} (${pause.failures + 1} failed attempts in a row, the last a probe answered ${settlement.record.attempt.statusCode ?? settlement.record.attempt.error})`;
    const disabled = await deps.store.disableWebhook({ id: newId("ope", now), customerId: webhook.customerId, webhookId: webhook.id, type: "webhook.disabled", reason, createdAt: now });
    if (disabled) deps.log.warn({ webhookId: webhook.id, customerId: webhook.customerId, reason }, "webhook disabled: it kept failing");
  }
}
