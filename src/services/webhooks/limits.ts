/**
 * @module Per-customer bounds on webhooks, so one customer cannot make one event cost
 * everyone: how many webhooks it may have, and how many of them one event may reach (fan-out).
 */
import { AppError } from "../../domain/errors.ts";
import { WILDCARD } from "../../domain/match.ts";
import type { Webhook } from "../../domain/model.ts";
import type { Store } from "../../domain/ports.ts";

export interface WebhookLimits {
  /** Webhooks one customer may have, active or disabled. */
  maxWebhooks: number;
  /** Active webhooks of one customer that one event type may reach, wildcards included. */
  maxFanout: number;
}

/** A customer-wide bound the change would cross: 422, with the bound and how to stay within it. */
export class LimitExceededError extends AppError {
  constructor(message: string) {
    super("limit_exceeded", 422, message);
    this.name = "LimitExceededError";
  }
}

/** Every webhook of a customer (at most the limit plus one page, since the limit holds). */
async function allWebhooks(store: Store, customerId: string): Promise<Webhook[]> {
  const all: Webhook[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listWebhooks(customerId, 1000, cursor);
    all.push(...page.data);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return all;
}

/** The most active webhooks any one event type reaches. */
export function largestFanout(webhooks: Webhook[]): number {
  const active = webhooks.filter((w) => w.status === "active");
  const wildcards = active.filter((w) => w.eventTypes.includes(WILDCARD)).length;
  const byType = new Map<string, number>();
  for (const w of active) if (!w.eventTypes.includes(WILDCARD)) for (const type of w.eventTypes) byType.set(type, (byType.get(type) ?? 0) + 1);
  return wildcards + Math.max(0, ...byType.values());
}

/**
 * Refuses `candidate` (new, or replacing the stored webhook of its id) when the customer would
 * have more webhooks than allowed, or an event type would reach more active webhooks than allowed.
 * Two creates racing may both pass one below the bound: the bound is a guard, not an invariant.
 */
export async function assertWithinLimits(store: Store, limits: WebhookLimits, candidate: Webhook): Promise<void> {
  const others = (await allWebhooks(store, candidate.customerId)).filter((w) => w.id !== candidate.id);
  if (others.length + 1 > limits.maxWebhooks) throw new LimitExceededError(`a customer may have at most ${limits.maxWebhooks} webhooks (security.max_webhooks_per_customer); delete one first`);
  const fanout = largestFanout([...others, candidate]);
  if (candidate.status === "active" && fanout > limits.maxFanout)
    throw new LimitExceededError(
      `an event would reach ${fanout} active webhooks of this customer, more than ${limits.maxFanout} (security.max_fanout_per_event); subscribe fewer webhooks to the same event types, or disable some`,
    );
}
