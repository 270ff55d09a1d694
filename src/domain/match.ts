/**
 * @module Which webhooks receive an event: those of its customer, active, subscribed to its type
 * (by name, by a `prefix.*` pattern, or `*`), whose payload filter (domain/filter.ts) it passes.
 */
import { compileFilter, type FilterPredicate } from "./filter.ts";
import type { Event, Webhook } from "./model.ts";

export const WILDCARD = "*";
/** `user.*`: every type under `user.` (`user.created`, `user.profile.updated`). */
const PATTERN_SUFFIX = ".*";

/** Whether an event type in a subscription list is a pattern (`*`, `prefix.*`) rather than a name. */
export const isTypePattern = (type: string): boolean => type === WILDCARD || type.endsWith(PATTERN_SUFFIX);

/** Whether a subscription list (names, `prefix.*` patterns, `*`) takes `eventType`. */
export function takesType(types: readonly string[], eventType: string): boolean {
  for (const type of types) {
    if (type === eventType || type === WILDCARD) return true;
    if (type.endsWith(PATTERN_SUFFIX) && eventType.length > type.length - 1 && eventType.startsWith(type.slice(0, -1))) return true;
  }
  return false;
}

/** The type names a webhook subscribes to, or null when it takes types by pattern (a store then reads every type and `takesType` decides). */
export function exactTypes(webhook: Webhook): string[] | null {
  return webhook.eventTypes.some(isTypePattern) ? null : [...new Set(webhook.eventTypes)];
}

/** An event as matching reads it: its customer, its type, and its payload (parsed only for a webhook with a filter). */
export type MatchedEvent = Pick<Event, "customerId" | "type" | "payload">;

/** Match lists kept per customer for types that patterns decide; past this many the cache starts over. */
const MAX_CACHED_TYPES = 1024;

interface CustomerWebhooks {
  /** Webhooks subscribed by name only, by name. */
  byType: Map<string, Webhook[]>;
  /** Webhooks with a pattern (`*`, `prefix.*`) among their types. */
  patterned: Webhook[];
  /** `match` answers for types the patterned webhooks decide, so each type is worked out once. */
  cache: Map<string, Webhook[]>;
}

/**
 * An index of active webhooks by customer and event type, built once per refresh so matching an
 * event costs map lookups instead of a scan, and each webhook's filter is compiled once.
 */
export class SubscriptionIndex {
  private readonly byCustomer = new Map<string, CustomerWebhooks>();
  private readonly filters = new Map<string, FilterPredicate>();

  /** The active webhooks that deliver in order (their queues are the sequencer's). */
  readonly ordered: Webhook[];

  constructor(webhooks: Webhook[]) {
    this.ordered = webhooks.filter((w) => w.status === "active" && w.ordering !== null);
    for (const webhook of webhooks) {
      if (webhook.status !== "active") continue;
      if (webhook.filter) this.filters.set(webhook.id, compiled(webhook));
      let entry = this.byCustomer.get(webhook.customerId);
      if (!entry) {
        entry = { byType: new Map(), patterned: [], cache: new Map() };
        this.byCustomer.set(webhook.customerId, entry);
      }
      if (webhook.eventTypes.some(isTypePattern)) {
        entry.patterned.push(webhook);
        continue;
      }
      for (const type of new Set(webhook.eventTypes)) {
        const list = entry.byType.get(type);
        if (list) list.push(webhook);
        else entry.byType.set(type, [webhook]);
      }
    }
  }

  /** Every webhook subscribed to the type, each once; filters not applied (see `recipients`). */
  match(customerId: string, eventType: string): Webhook[] {
    const entry = this.byCustomer.get(customerId);
    if (!entry) return [];
    const named = entry.byType.get(eventType) ?? [];
    if (entry.patterned.length === 0) return named;
    let matched = entry.cache.get(eventType);
    if (!matched) {
      // A webhook is in `byType` or in `patterned`, never both (see the constructor): no repeats.
      matched = [...named, ...entry.patterned.filter((w) => takesType(w.eventTypes, eventType))];
      if (entry.cache.size >= MAX_CACHED_TYPES) entry.cache.clear();
      entry.cache.set(eventType, matched);
    }
    return matched;
  }

  /** The webhooks the event goes to: subscribed to its type, and passing their filters (its payload parsed once, only if one has a filter). */
  recipients(event: MatchedEvent): Webhook[] {
    const subscribed = this.match(event.customerId, event.type);
    if (this.filters.size === 0 || !subscribed.some((w) => this.filters.has(w.id))) return subscribed;
    const doc: unknown = JSON.parse(event.payload);
    return subscribed.filter((w) => this.filters.get(w.id)?.(doc) ?? true);
  }

  /** How many webhooks the event goes to: `recipients(…).length` (ingest's answers). */
  count(event: MatchedEvent): number {
    return this.recipients(event).length;
  }

  /** Whether one webhook takes the event: its type, then its filter. */
  takes(webhook: Webhook, event: MatchedEvent): boolean {
    if (!takesType(webhook.eventTypes, event.type)) return false;
    const filter = webhook.filter ? (this.filters.get(webhook.id) ?? compiled(webhook)) : undefined;
    return filter ? filter(JSON.parse(event.payload)) : true;
  }
}

/**
 * A stored webhook's filter, compiled. Filters are checked when set, so one that fails here was
 * stored under other rules (or edited in the database): the webhook then gets every event of its
 * types, as it did before it had a filter, rather than losing them.
 */
function compiled(webhook: Webhook): FilterPredicate {
  try {
    return compileFilter(webhook.filter!);
  } catch {
    return () => true;
  }
}
