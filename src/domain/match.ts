/** @module Which webhooks receive an event. */
import type { Webhook } from "./model.ts";

export const WILDCARD = "*";

/** True when an active webhook of the event's customer subscribes to its type (or to `*`). */
export function subscribes(webhook: Webhook, customerId: string, eventType: string): boolean {
  if (webhook.status !== "active" || webhook.customerId !== customerId) return false;
  return webhook.eventTypes.includes(eventType) || webhook.eventTypes.includes(WILDCARD);
}

/**
 * An index of active webhooks by customer and event type, built once per refresh so
 * matching an event costs two map lookups instead of a scan.
 */
export class SubscriptionIndex {
  private readonly byCustomer = new Map<string, { byType: Map<string, Webhook[]>; wildcard: Webhook[] }>();

  /** The active webhooks that deliver in order (their queues are the sequencer's). */
  readonly ordered: Webhook[];

  constructor(webhooks: Webhook[]) {
    this.ordered = webhooks.filter((w) => w.status === "active" && w.ordering !== null);
    for (const webhook of webhooks) {
      if (webhook.status !== "active") continue;
      let entry = this.byCustomer.get(webhook.customerId);
      if (!entry) {
        entry = { byType: new Map(), wildcard: [] };
        this.byCustomer.set(webhook.customerId, entry);
      }
      if (webhook.eventTypes.includes(WILDCARD)) {
        entry.wildcard.push(webhook);
        continue;
      }
      for (const type of new Set(webhook.eventTypes)) {
        const list = entry.byType.get(type);
        if (list) list.push(webhook);
        else entry.byType.set(type, [webhook]);
      }
    }
  }

  /** How many webhooks the event goes to: `match(…).length` without building the list (ingest's answers). */
  count(customerId: string, eventType: string): number {
    const entry = this.byCustomer.get(customerId);
    // A webhook is in one of the two lists, never both (see the constructor).
    return entry ? (entry.byType.get(eventType)?.length ?? 0) + entry.wildcard.length : 0;
  }

  /** Every webhook the event goes to, each once. */
  match(customerId: string, eventType: string): Webhook[] {
    const entry = this.byCustomer.get(customerId);
    if (!entry) return [];
    const typed = entry.byType.get(eventType) ?? [];
    if (entry.wildcard.length === 0) return typed;
    if (typed.length === 0) return entry.wildcard;
    return [...typed, ...entry.wildcard];
  }
}
