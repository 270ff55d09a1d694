/**
 * @module Every change of a delivery's state, in one place, under one rule.
 *
 * The rule: **the store first, then the schedule.** A delivery's new state (an attempt's outcome,
 * a park, a manual retry) is written to the store before its next try is put on the retry
 * schedule; a try is taken off the schedule only once its outcome is in the store.
 *
 * Why this order: the retry manager drops a schedule entry whose delivery it cannot find or finds
 * finished. Scheduled first, a retry could come due and be dropped before the store held the
 * failed state that needed it, and nothing would ever try it again. Stored first, the gap between
 * the two writes is covered by what is still unfinished when a process dies in it:
 * - the dispatcher acknowledges an event only after both writes: a re-read event puts every stored
 *   unfinished delivery back on the schedule (`rescheduleStored`);
 * - the retry manager's claim stays on the schedule until the outcome is written: its lease ends
 *   and it is claimed again;
 * - a manual retry has neither: the retry manager's sweep (`scheduleOverdue`) puts back any
 *   unfinished delivery overdue by more than a lease.
 */
import { newId } from "../../domain/ids.ts";
import type { Attempt, Delivery, Event, OperationalEvent, Webhook } from "../../domain/model.ts";
import type { AttemptRecord, FanOut } from "../../domain/ports.ts";
import { nextStep } from "../../domain/retry-policy.ts";
import { retryUntilStopped } from "../../platform/retry-until-stopped.ts";
import type { AttemptDeps, SentAttempt } from "./attempt.ts";

export type AttemptOutcome = "succeeded" | "retry" | "dead";

/** The one answer that disables a webhook: the endpoint says it is gone for good. */
const GONE = 410;

/** An attempt's outcome as it will be written: built once, so a repeated write adds nothing. */
export interface Settlement {
  outcome: AttemptOutcome;
  record: AttemptRecord;
  /** Dead because the endpoint's answer was final (410, or one of the webhook's permanent failure codes), not out of retries. */
  permanent?: boolean;
  /** The endpoint answered 410 Gone: its webhook is disabled with this event, written after the attempt. */
  disable?: OperationalEvent;
}

/**
 * Decides what an attempt's answer means (succeeded, retry at a time, or dead) and counts it in
 * the metrics. Call once per attempt; `settle` writes it, as often as it takes.
 */
export function judgeAttempt(deps: AttemptDeps, { work, result }: SentAttempt): Settlement {
  const { delivery, event } = work;
  const now = deps.clock.now();
  const succeeded = result.status !== null && result.status >= 200 && result.status < 300;
  const attempt: Attempt = {
    id: newId("att", now),
    deliveryId: delivery.id,
    customerId: delivery.customerId,
    attemptNumber: delivery.attemptCount + 1,
    statusCode: result.status,
    durationMs: result.durationMs,
    error: result.error,
    responseBody: result.responseBody,
    createdAt: now,
  };
  const label = succeeded ? "success" : "failure";
  deps.metrics.deliveryAttempts.inc({ outcome: label });
  deps.metrics.deliveryDuration.observe({ outcome: label }, result.durationMs / 1000);
  if (succeeded) {
    deps.metrics.deliverySuccess.inc();
    deps.metrics.deliveryLatency.observe((now - event.acceptedAt) / 1000);
    return { outcome: "succeeded", record: { delivery, attempt, status: "succeeded", nextAttemptAt: null } };
  }
  deps.metrics.deliveryFailures.inc({ reason: failureReason(result.status, result.error) });
  if (result.status === GONE || (result.status !== null && work.webhook.permanentFailureCodes.includes(result.status))) {
    // The receiver's word is final: no retry. 410 also says the endpoint is gone for good.
    deps.metrics.deadLetters.inc();
    const record: AttemptRecord = { delivery, attempt, status: "dead", nextAttemptAt: null };
    if (result.status !== GONE) return { outcome: "dead", record, permanent: true };
    const reason = `the endpoint answered 410 Gone at ${new Date(now).toISOString()} (delivery ${delivery.id})`;
    return {
      outcome: "dead",
      record,
      permanent: true,
      disable: { id: newId("ope", now), customerId: delivery.customerId, webhookId: delivery.webhookId, type: "webhook.disabled", reason, createdAt: now },
    };
  }
  const step = nextStep(deps.policy, attempt.attemptNumber - delivery.roundStart, result.retryAfterMs);
  if (step.kind === "dead") {
    deps.metrics.deadLetters.inc();
    return { outcome: "dead", record: { delivery, attempt, status: "dead", nextAttemptAt: null } };
  }
  deps.metrics.retriesScheduled.inc();
  return { outcome: "retry", record: { delivery, attempt, status: "failed", nextAttemptAt: now + step.delayMs } };
}

/**
 * Writes a judged attempt: the store, then (for a retry) the schedule. Repeated until it is
 * durable or `stopped()`; the same attempt each time, so a write whose acknowledgement was lost
 * leaves one row.
 */
export async function settle(deps: AttemptDeps, settlement: Settlement, stopped: () => boolean): Promise<AttemptOutcome> {
  const { record, outcome, disable, permanent } = settlement;
  let disabled = false;
  await retryUntilStopped(
    async () => {
      await deps.store.recordAttempts([record]);
      if (outcome === "retry") await deps.schedule.schedule([{ deliveryId: record.delivery.id, dueAt: record.nextAttemptAt! }]);
      // Once: a repeat after a lost acknowledgement finds the webhook disabled already and changes nothing.
      if (disable) disabled ||= (await deps.store.disableWebhook(disable)) !== undefined;
    },
    stopped,
    deps.log,
    "recording an attempt",
  );
  if (outcome === "succeeded") return outcome; // nothing logged: a child logger per success cost ~5% of the loop
  const { delivery, attempt } = record;
  const fields = { eventId: delivery.eventId, webhookId: delivery.webhookId, deliveryId: delivery.id, attempt: attempt.attemptNumber, status: attempt.statusCode, error: attempt.error };
  if (disabled) deps.log.warn({ ...fields, reason: disable!.reason }, "webhook disabled: its endpoint answered 410 Gone");
  if (permanent) deps.log.warn(fields, "delivery dead: the endpoint's answer is a permanent failure");
  else if (outcome === "dead") deps.log.warn(fields, "delivery dead after its last retry");
  else deps.log.info({ ...fields, retryInMs: record.nextAttemptAt! - attempt.createdAt }, "attempt failed; retry scheduled");
  return outcome;
}

/**
 * Parks deliveries of an event without trying them now (their webhook is far behind, or the
 * dispatcher's memory budget is spent): stored pending, then scheduled, so the backlog waits in
 * the store and not in memory. One already stored (a re-read event) is scheduled only if unfinished.
 * The first is due at `firstDueAt` (by default after the first retry delay), each next one
 * `spacingMs` later, so a customer's backlog comes due at a pace and not all at once ahead of
 * everybody else's retries.
 */
export function park(deps: AttemptDeps, event: Event, webhooks: Webhook[], firstDueAt = deps.clock.now() + deps.policy.initialDelayMs, spacingMs = 0): Promise<void> {
  return parkAll(deps, [{ event, webhooks, firstDueAt, spacingMs }]);
}

/** An event to park, with when its first delivery comes due and the spacing of the next ones. */
export interface Parked {
  event: Event;
  webhooks: Webhook[];
  firstDueAt: number;
  spacingMs: number;
}

/** `park` for many events in one store write and one schedule write. */
export async function parkAll(deps: AttemptDeps, items: Parked[]): Promise<void> {
  if (items.length === 0) return;
  const opened = await deps.store.openDeliveries(
    items.map(({ event, webhooks }) => ({ event, webhooks })),
    Math.min(...items.map((p) => p.firstDueAt)),
  );
  const due = opened.flatMap((deliveries, k) => {
    const { firstDueAt, spacingMs } = items[k]!;
    // One of a webhook that delivers in order waits for its turn instead (sequencer.ts).
    return deliveries.filter((d) => (d.status === "pending" || d.status === "failed") && d.fifoKey === null).map((d, i) => ({ deliveryId: d.id, dueAt: Math.round(firstDueAt + i * spacingMs) }));
  });
  await deps.schedule.schedule(due);
  deps.metrics.retriesScheduled.inc(due.length);
}

/**
 * Holds deliveries of an event for webhooks whose breaker is open, or that deliver in order: stored
 * pending, and not scheduled (a retry would only find the webhook paused; an ordered one goes when
 * its turn comes, services/delivery/sequencer.ts). When the breaker closes, every
 * unfinished delivery of the webhook is scheduled at the drain pace (services/health/resume.ts);
 * one stored after that drain read is swept onto the schedule by the retry manager (it is overdue).
 */
export async function hold(deps: Pick<AttemptDeps, "store" | "clock">, event: Event, webhooks: Webhook[]): Promise<void> {
  await deps.store.openDeliveries([{ event, webhooks }], deps.clock.now());
}

/**
 * For an event read again (its earlier reader died before acknowledging it): each stored
 * delivery that is not finished goes back on the schedule, unless it is there already. These are
 * never sent from the log again: the retry manager owns them, and two senders would race.
 * Returns each item's stored deliveries; a pair with none was never stored, and the dispatcher sends it.
 */
export async function rescheduleStored(deps: AttemptDeps, items: FanOut[]): Promise<Delivery[][]> {
  const stored = await deps.store.saveEventsAndFindDeliveries(items);
  const now = deps.clock.now();
  const unfinished = stored
    .flat()
    .filter((d) => (d.status === "pending" || d.status === "failed") && d.fifoKey === null) // an ordered one waits for its turn (sequencer.ts)
    .map((d) => ({ deliveryId: d.id, dueAt: Math.max(now, d.nextAttemptAt ?? now) }));
  if (unfinished.length > 0) await deps.schedule.ensureScheduled(unfinished);
  return stored;
}

/** A manual retry: a new round, stored, then scheduled now. A failed schedule is caught by the sweep. */
export async function requeue(deps: Pick<AttemptDeps, "store" | "schedule" | "log">, delivery: Delivery, now: number): Promise<Delivery> {
  const requeued = await deps.store.requeueDelivery(delivery, now);
  await deps.schedule
    .schedule([{ deliveryId: delivery.id, dueAt: now }])
    .catch((err) => deps.log.warn({ err, deliveryId: delivery.id }, "retry stored but not scheduled; the retry manager's sweep schedules it"));
  return requeued;
}

/**
 * The sweep: every unfinished delivery overdue by more than `graceMs` goes on the schedule unless
 * it is there (claimed or waiting its turn). Returns how many it looked at.
 */
export async function scheduleOverdue(deps: Pick<AttemptDeps, "store" | "schedule">, now: number, graceMs: number, limit: number): Promise<number> {
  const overdue = await deps.store.overdueDeliveries(now - graceMs, limit);
  if (overdue.length > 0) await deps.schedule.ensureScheduled(overdue.map((o) => ({ deliveryId: o.deliveryId, dueAt: now })));
  return overdue.length;
}

function failureReason(status: number | null, error: string | null): string {
  if (status !== null) return "status";
  if (error?.startsWith("timeout")) return "timeout";
  if (error?.startsWith("blocked")) return "blocked";
  return "network";
}
