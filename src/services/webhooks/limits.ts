/**
 * @module Per-customer bounds on webhooks, so one customer cannot make one event cost
 * everyone: how many webhooks it may have, and how many of them one event may reach (fan-out).
 */
import { AppError } from "../../domain/errors.ts";
import { isTypePattern, takesType, WILDCARD } from "../../domain/match.ts";
import type { Webhook } from "../../domain/model.ts";
import type { Store } from "../../domain/ports.ts";
import { assertNoProblems } from "../../domain/webhook-rules.ts";
import { wholeCatalog } from "../catalog/manage.ts";

export interface WebhookLimits {
  /** Webhooks one customer may have, active or disabled. */
  maxWebhooks: number;
  /** Active webhooks of one customer that one event type may reach, wildcards included. */
  maxFanout: number;
  /** Webhooks may subscribe only to the types of their customer's catalog (security.strict_event_types). */
  strictEventTypes?: boolean;
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

/** A type no webhook names: what `*` and a `prefix.*` pattern reach besides the names. */
const UNNAMED = "\u0000";

/**
 * The most active webhooks any one event type reaches (filters aside: an event may pass them all).
 * Every type is reached by the webhooks naming it and the patterns it falls under, so the largest
 * fan-out is that of a named type, or of a type no one names under a pattern's prefix (`user.` +
 * an unnamed segment: under every shorter prefix of it too).
 */
export function largestFanout(webhooks: Webhook[]): number {
  const active = webhooks.filter((w) => w.status === "active");
  // Webhooks by name only, counted per name in one pass; the few with patterns are asked per type.
  const named = new Map<string, number>();
  const patterned = active.filter((w) => w.eventTypes.some(isTypePattern));
  for (const w of active) if (!patterned.includes(w)) for (const type of new Set(w.eventTypes)) named.set(type, (named.get(type) ?? 0) + 1);
  const probes = new Set([UNNAMED, ...named.keys()]);
  for (const w of patterned) for (const type of w.eventTypes) if (type !== WILDCARD) probes.add(isTypePattern(type) ? `${type.slice(0, -1)}${UNNAMED}` : type);
  let largest = 0;
  for (const probe of probes) largest = Math.max(largest, (named.get(probe) ?? 0) + patterned.filter((w) => takesType(w.eventTypes, probe)).length);
  return largest;
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

/**
 * With `strictEventTypes`: refuses a webhook subscribed to a type its customer's catalog lacks (a
 * `prefix.*` pattern must take one of the catalog's at least; `*` is always allowed), naming each.
 */
export async function assertKnownTypes(store: Pick<Store, "eventTypes">, limits: WebhookLimits, webhook: Webhook): Promise<void> {
  if (!limits.strictEventTypes) return;
  const known = (await wholeCatalog(store.eventTypes, webhook.customerId)).map((t) => t.name);
  const unknown = webhook.eventTypes.filter((type) => type !== WILDCARD && !known.some((name) => takesType([type], name)));
  assertNoProblems(
    unknown.map((type) =>
      isTypePattern(type)
        ? `event_types: '${type}' takes no event type of the catalog (security.strict_event_types); add one under it first (POST /api/v1/event-types)`
        : `event_types: '${type}' is not in the event type catalog (security.strict_event_types); add it first (POST /api/v1/event-types)`,
    ),
  );
}
