/** @module One attempt of one delivery, its HTTP half: sign and send (transitions.ts records what came of it). */

import { messageIdFor } from "../../domain/ids.ts";
import type { Event, Webhook } from "../../domain/model.ts";
import type { Clock, DeliveryWork, RetrySchedule, Sender, SendResult, Store } from "../../domain/ports.ts";
import type { RetryPolicy } from "../../domain/retry-policy.ts";
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

/** An attempt whose HTTP exchange is over and whose outcome is not yet recorded. */
export interface SentAttempt {
  work: DeliveryWork;
  result: SendResult;
}

/**
 * The headers of one request of `event` to `webhook`: its own, and the signature's, made now with its
 * secret (and, while a rotation's grace period lasts, with the old one too).
 */
export function signedHeaders(deps: Pick<AttemptDeps, "keys" | "clock">, webhook: Webhook, event: Event): Record<string, string> {
  const now = deps.clock.now();
  const key = deps.keys.keyFor(webhook.id, webhook.secret);
  const previous = webhook.previousSecret;
  const keys = previous && previous.expiresAt > now ? [key, deps.keys.keyFor(`${webhook.id} previous`, previous.secret)] : key;
  // webhook-id: per event and customer, not the producer's id (unique only within its customer).
  return { ...webhook.headers, ...signatureHeaders(keys, messageIdFor(event.customerId, event.id), Math.floor(now / 1000), event.payload) };
}

/** The HTTP half: sign and send. Callers may free the endpoint's slot as soon as this resolves. */
export async function sendAttempt(deps: AttemptDeps, work: DeliveryWork): Promise<SentAttempt> {
  const { event, webhook } = work;
  const headers = signedHeaders(deps, webhook, event);
  deps.metrics.inFlight.inc();
  try {
    const result = await deps.sender.send({ url: webhook.url, headers, body: event.payload, timeoutMs: deps.httpTimeoutMs, customerId: webhook.customerId });
    return { work, result };
  } finally {
    deps.metrics.inFlight.dec();
  }
}
