/** @module One attempt of one delivery: sign, send, record, and decide what comes next. */
import { newId } from "../../domain/ids.ts";
import type { Delivery } from "../../domain/model.ts";
import type { Clock, DeliveryWork, RetrySchedule, SendResult, Sender, Store } from "../../domain/ports.ts";
import { type RetryPolicy, nextStep } from "../../domain/retry-policy.ts";
import { type SigningKeys, signatureHeaders } from "../../domain/signature.ts";
import type { Logger } from "../../platform/logger.ts";
import type { Metrics } from "../../platform/metrics.ts";

export interface AttemptDeps {
  store: Store;
  schedule: RetrySchedule;
  sender: Sender;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  policy: RetryPolicy;
  keys: SigningKeys;
  httpTimeoutMs: number;
}

export type AttemptOutcome = "succeeded" | "retry" | "dead";

/** An attempt whose HTTP exchange is over and whose outcome is not yet recorded. */
export interface SentAttempt {
  work: DeliveryWork;
  result: SendResult;
}

/** The HTTP half: sign and send. Callers may free the endpoint's slot as soon as this resolves. */
export async function sendAttempt(deps: AttemptDeps, work: DeliveryWork): Promise<SentAttempt> {
  const { event, webhook } = work;
  const key = deps.keys.keyFor(webhook.id, webhook.secret);
  const timestamp = Math.floor(deps.clock.now() / 1000);
  const headers = { ...webhook.headers, ...signatureHeaders(key, event.id, timestamp, event.payload) };
  deps.metrics.inFlight.inc();
  try {
    const result = await deps.sender.send({ url: webhook.url, headers, body: event.payload, timeoutMs: deps.httpTimeoutMs });
    return { work, result };
  } finally {
    deps.metrics.inFlight.dec();
  }
}

/**
 * The durable half: record the attempt, then schedule the next try or mark the delivery
 * dead. Resolves only when that outcome is durable.
 */
export async function settleAttempt(deps: AttemptDeps, { work, result }: SentAttempt): Promise<AttemptOutcome> {
  const { delivery, event, webhook } = work;
  const attemptNumber = delivery.attemptCount + 1;
  const now = deps.clock.now();
  const succeeded = result.status !== null && result.status >= 200 && result.status < 300;
  const attempt = {
    id: newId("att", now),
    deliveryId: delivery.id,
    customerId: delivery.customerId,
    attemptNumber,
    statusCode: result.status,
    durationMs: result.durationMs,
    error: result.error,
    responseBody: result.responseBody,
    createdAt: now,
  };
  const outcome = succeeded ? "success" : "failure";
  deps.metrics.deliveryAttempts.inc({ outcome });
  deps.metrics.deliveryDuration.observe({ outcome }, result.durationMs / 1000);

  if (succeeded) {
    deps.metrics.deliverySuccess.inc();
    deps.metrics.deliveryLatency.observe((now - event.acceptedAt) / 1000);
    await deps.store.recordAttempts([{ delivery, attempt, status: "succeeded", nextAttemptAt: null }]);
    return "succeeded";
  }

  const log = deps.log.child({ eventId: event.id, webhookId: webhook.id, deliveryId: delivery.id, attempt: attemptNumber });
  deps.metrics.deliveryFailures.inc({ reason: failureReason(result.status, result.error) });
  const step = nextStep(deps.policy, attemptNumber - delivery.roundStart, result.retryAfterMs);
  if (step.kind === "dead") {
    deps.metrics.deadLetters.inc();
    await deps.store.recordAttempts([{ delivery, attempt, status: "dead", nextAttemptAt: null }]);
    log.warn({ status: result.status, error: result.error }, "delivery dead after its last retry");
    return "dead";
  }
  const dueAt = now + step.delayMs;
  await deps.schedule.schedule([{ deliveryId: delivery.id, dueAt }]);
  deps.metrics.retriesScheduled.inc();
  await deps.store.recordAttempts([{ delivery, attempt, status: "failed", nextAttemptAt: dueAt }]);
  log.info({ status: result.status, error: result.error, retryInMs: step.delayMs }, "attempt failed; retry scheduled");
  return "retry";
}

/** Puts a delivery on the retry schedule without trying it now (its webhook's queue is full). */
export async function deferDelivery(deps: Pick<AttemptDeps, "schedule" | "metrics">, delivery: Delivery, dueAt: number): Promise<void> {
  await deps.schedule.schedule([{ deliveryId: delivery.id, dueAt }]);
  deps.metrics.retriesScheduled.inc();
}

function failureReason(status: number | null, error: string | null): string {
  if (status !== null) return "status";
  if (error?.startsWith("timeout")) return "timeout";
  if (error?.startsWith("blocked")) return "blocked";
  return "network";
}
