/**
 * @module A webhook's health as the API shows it (`GET /api/v1/webhooks/{id}/health`), and a person
 * resuming it (`POST /api/v1/webhooks/{id}/resume`).
 */
import type { Webhook } from "../../domain/model.ts";
import type { DeliveryActivity } from "../../domain/ports.ts";
import type { Principal } from "../auth/tokens.ts";
import { getWebhook } from "../webhooks/manage.ts";
import { type ResumeDeps, resumeAndDrain } from "./resume.ts";

export type HealthState = "healthy" | "paused" | "disabled";

export interface WebhookHealthView {
  webhook: Webhook;
  state: HealthState;
  activity: DeliveryActivity;
}

export function stateOf(w: Webhook): HealthState {
  if (w.status === "disabled") return "disabled";
  return w.pause ? "paused" : "healthy";
}

export async function webhookHealth(deps: Pick<ResumeDeps, "store">, principal: Principal, id: string): Promise<WebhookHealthView> {
  const webhook = await getWebhook(deps, principal, id);
  return { webhook, state: stateOf(webhook), activity: await deps.store.deliveryActivity(webhook.customerId, webhook.id) };
}

/**
 * Makes a webhook deliver again: a paused one has its breaker closed and its held deliveries drained
 * at the pace (as a successful probe would); a disabled one is enabled (its reason cleared), and
 * what waited for it is swept back onto the schedule; a healthy one is left as it is. Answers its health.
 */
export async function resumeByHand(deps: ResumeDeps & { drainPerSecond: number }, principal: Principal, id: string): Promise<WebhookHealthView> {
  const webhook = await getWebhook(deps, principal, id);
  if (webhook.status === "disabled") {
    // Delivering in order: its queues hold from here (what came while it was disabled was not for it).
    const ordering = webhook.ordering && { ...webhook.ordering, sinceSeq: await deps.store.latestEventSeq(webhook.customerId) };
    await deps.store.updateWebhook({ ...webhook, status: "active", disabledReason: null, ordering, updatedAt: new Date(deps.clock.now()).toISOString() });
  }
  if (webhook.pause) await resumeAndDrain(deps, webhook, `resumed by ${principal.subject}`, deps.drainPerSecond);
  return webhookHealth(deps, principal, id);
}
