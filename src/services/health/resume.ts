/**
 * @module Closing a webhook's circuit breaker, and what follows: the deliveries held while it was
 * paused come due at a pace (`drainPerSecond`), oldest event first, so the endpoint that just
 * recovered is not flooded. The probe (prober.ts) and a person (`POST /api/v1/webhooks/{id}/resume`)
 * both close it here.
 */
import { newId } from "../../domain/ids.ts";
import type { Webhook } from "../../domain/model.ts";
import type { Clock, RetrySchedule, Store } from "../../domain/ports.ts";
import type { Logger } from "../../platform/logger.ts";

export interface ResumeDeps {
  store: Store;
  schedule: RetrySchedule;
  clock: Clock;
  log: Logger;
}

/** Held deliveries read and scheduled at a time while draining. */
const DRAIN_PAGE = 1000;

/**
 * Closes the breaker (once: undefined when it was not open) with a `webhook.resumed` event, then
 * puts every held delivery on the retry schedule, spaced `1000 / drainPerSecond` ms apart. A process
 * that dies while draining leaves the rest to the retry manager's sweep (they are overdue then).
 */
export async function resumeAndDrain(deps: ResumeDeps, webhook: Webhook, reason: string, drainPerSecond: number): Promise<Webhook | undefined> {
  const now = deps.clock.now();
  const resumed = await deps.store.resumeWebhook({ id: newId("ope", now), customerId: webhook.customerId, webhookId: webhook.id, type: "webhook.resumed", reason, createdAt: now });
  if (!resumed) return undefined;
  const drained = await drain(deps, resumed, now, 1000 / drainPerSecond);
  deps.log.info({ webhookId: webhook.id, customerId: webhook.customerId, reason, held: drained }, "webhook resumed; its held deliveries come due at the drain pace");
  return resumed;
}

async function drain(deps: ResumeDeps, webhook: Webhook, start: number, spacingMs: number): Promise<number> {
  if (webhook.ordering) return 0; // one at a time, in order: the sequencer gives each key's first its turn (delivery/sequencer.ts)
  let after = "";
  let n = 0;
  for (;;) {
    const held = await deps.store.unfinishedDeliveries(webhook.customerId, webhook.id, DRAIN_PAGE, after);
    if (held.length === 0) return n;
    await deps.schedule.schedule(held.map((d, i) => ({ deliveryId: d.id, dueAt: Math.round(start + (n + i) * spacingMs) })));
    n += held.length;
    after = held[held.length - 1]!.id;
    if (held.length < DRAIN_PAGE) return n;
  }
}
