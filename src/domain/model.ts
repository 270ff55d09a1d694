/** @module The nouns of hookrelay: customers, webhooks, events, deliveries and attempts. */
import type { Filter } from "./filter.ts";
import { deliveryIdFor } from "./ids.ts";

/** Every resource belongs to one customer (tenant); the admin works in this one. */
export const DEFAULT_CUSTOMER_ID = "default";

/**
 * hookrelay's own customer: the operator's operational webhooks are its webhooks, and hookrelay's
 * own events (services/operational/relay.ts) its events. No customer can have this id (a
 * customer's starts with a letter or digit).
 */
export const OPERATOR_CUSTOMER_ID = "_hookrelay";

export type WebhookStatus = "active" | "disabled";

export interface Webhook {
  id: string;
  customerId: string;
  url: string;
  /** Event types this webhook receives: names, `prefix.*` patterns (domain/match.ts), or `*` for every type. */
  eventTypes: string[];
  /** Of those, only the events passing this payload filter (domain/filter.ts); null: all of them. */
  filter: Filter | null;
  headers: Record<string, string>;
  description: string | null;
  /** `whsec_` + base64 of the signing key. */
  secret: string;
  /** The secret before the last rotation, still signing alongside `secret` until `expiresAt` (ms); null when none. */
  previousSecret: { secret: string; expiresAt: number } | null;
  status: WebhookStatus;
  /**
   * Why hookrelay disabled it (the endpoint answered 410 Gone, or it kept failing for too long);
   * null while active, and when a person disabled it.
   */
  disabledReason: string | null;
  /** Non-2xx statuses the endpoint means for good: an attempt answered with one is not retried. */
  permanentFailureCodes: number[];
  /** At most this many deliveries a second (with this burst), over every dispatcher; null: no limit of its own. */
  rateLimit: { perSecond: number; burst: number } | null;
  /** At most this many requests in flight at once, over every dispatcher; null: only the per-process `max_in_flight_per_webhook`. */
  maxInFlight: number | null;
  /** Delivers its events one at a time in ingest order per ordering key (domain/ordering.ts); null: as they come, in parallel. */
  ordering: Ordering | null;
  /** Its circuit breaker, open: events are held (stored, not sent) and one is tried now and then. Null when closed. */
  pause: Pause | null;
  /** When its breaker last closed (ms); null if it never opened. Work read before then is stale. */
  resumedAt: number | null;
  createdAt: string;
  updatedAt: string;
}

/** What a new webhook starts with besides what its creator gives: active, no limits of its own, breaker closed. */
export const NEW_WEBHOOK_STATE = {
  disabledReason: null,
  permanentFailureCodes: [],
  rateLimit: null,
  maxInFlight: null,
  ordering: null,
  filter: null,
  previousSecret: null,
  pause: null,
  resumedAt: null,
} as const satisfies Partial<Webhook>;

/** Ordered delivery ("fifo"): what makes two events the same queue, and from where in the log it holds. */
export interface Ordering {
  /** Dot path into the event (`data.account_id`): events with the same value there are one queue; null: the whole webhook is one. */
  key: string | null;
  /** The log's last event (`seq`) when ordering began (turned on, or the webhook's event types or status changed): it holds for the events after it. */
  sinceSeq: number;
}

/** An open circuit breaker: the endpoint kept failing, so its deliveries wait for a probe to succeed. */
export interface Pause {
  /** When the breaker opened, ms. */
  since: number;
  /** The first failure of the streak that opened it (or of the probes since), ms: failing this long disables the webhook. */
  failingSince: number;
  /** Failures in a row, the probes' included. */
  failures: number;
  /** When the next probe is due, ms. */
  probeAt: number;
  /** The wait that led to `probeAt`, ms; it doubles with each failed probe (up to a maximum). */
  probeIntervalMs: number;
}

/** What became of a webhook's health, as hookrelay records it for the operator and the customer. */
export type OperationalEventType = "webhook.disabled" | "webhook.paused" | "webhook.resumed" | "recovery.finished";

/** What operational webhooks may subscribe to: the health changes, and a delivery that died. */
export const OPERATIONAL_EVENT_TYPES = ["webhook.disabled", "webhook.paused", "webhook.resumed", "delivery.dead", "recovery.finished"] as const;

export interface OperationalEvent {
  /** `ope_…`, time-ordered. */
  id: string;
  customerId: string;
  webhookId: string;
  type: OperationalEventType;
  /** Why, in words (the status that disabled it, the failures that paused it). */
  reason: string;
  createdAt: number;
}

/** An event type of a customer's catalog: what it means, the shape of its events' data, and examples of it. */
export interface EventType {
  customerId: string;
  /** The event type name, as events carry it in `type` (`order.created`). */
  name: string;
  description: string;
  /** A JSON Schema (2020-12) every event of this type's `data` must satisfy at ingest; null: any data. */
  schema: Record<string, unknown> | null;
  /** Examples of the data (each valid by the schema); the first is what a test send sends. */
  examples: unknown[];
  createdAt: string;
  updatedAt: string;
}

/**
 * A bulk replay of one webhook's deliveries (POST /api/v1/webhooks/{id}/recover): those of a status
 * whose events were accepted within a time range, sent again one at a time at a pace, by one retry
 * process at a time, from where it was after a restart.
 */
export interface RecoveryJob {
  /** `job_…` */
  id: string;
  customerId: string;
  webhookId: string;
  params: { since: number; until: number | null; status: Exclude<DeliveryStatus, "pending">; perSecond: number };
  state: "running" | "finished" | "cancelled";
  /** The last delivery (id) sent or being sent; null before the first. */
  cursor: string | null;
  /** The deliveries being sent and since when: a job resumed after a crash sends each only if it has no attempt since then. */
  inFlight: { deliveryIds: string[]; since: number } | null;
  /** `matched`: the deliveries it will send in all (null until counted); `sent` of them, `succeeded` or `failed` on that send. */
  progress: { matched: number | null; sent: number; succeeded: number; failed: number };
  /** Until when the process running it holds it (ms); another may take it over after. */
  leaseUntil: number;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

/** What a producer sends: `{"id","type","source","data"}`, `timestamp` optional. */
export interface EventInput {
  id: string;
  type: string;
  source: string;
  data: unknown;
  timestamp?: string;
}

/** An accepted event, with the exact body every webhook receives serialized once. */
export interface Event {
  customerId: string;
  id: string;
  type: string;
  source: string;
  timestamp: string;
  /** JSON `{"id","type","source","data","timestamp"}`: the delivery body, byte for byte. */
  payload: string;
  acceptedAt: number;
}

/** pending: not yet tried or in flight; failed: last attempt failed, retry scheduled; dead: out of retries. */
export type DeliveryStatus = "pending" | "succeeded" | "failed" | "dead";

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ["pending", "succeeded", "failed", "dead"];

/** One event on its way to one webhook. */
export interface Delivery {
  id: string;
  customerId: string;
  eventId: string;
  webhookId: string;
  status: DeliveryStatus;
  /** Attempts made over the delivery's whole life. */
  attemptCount: number;
  /** Attempt count when the current retry round began (0, or when it was last retried by hand). */
  roundStart: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: number | null;
  createdAt: number;
  updatedAt: number;
  /** Its ordering key when its webhook delivers in order (it then waits its turn, see services/delivery/sequencer.ts); null otherwise. */
  fifoKey: string | null;
}

/** A delivery of `event` to a webhook not yet tried: the state before its first attempt. */
export function freshDelivery(event: Event, webhookId: string, nowMs: number): Delivery {
  return {
    id: deliveryIdFor(event.customerId, event.id, webhookId, event.acceptedAt),
    customerId: event.customerId,
    eventId: event.id,
    webhookId,
    status: "pending",
    attemptCount: 0,
    roundStart: 0,
    lastStatusCode: null,
    lastError: null,
    nextAttemptAt: null,
    createdAt: nowMs,
    updatedAt: nowMs,
    fifoKey: null,
  };
}

/** One HTTP try of one delivery. */
export interface Attempt {
  id: string;
  deliveryId: string;
  customerId: string;
  attemptNumber: number;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  /** The endpoint's answer, truncated to `dispatcher.max_response_body_bytes`. */
  responseBody: string | null;
  createdAt: number;
  /**
   * Read back from the store: when this attempt's outcome put the next try (the delivery's
   * `nextAttemptAt` of its record); null when there was none (succeeded or dead). Not set on write.
   */
  nextAttemptAt?: number | null;
}

export interface User {
  username: string;
  customerId: string;
  passwordHash: string;
  scopes: string[];
}

/** A tenant: every webhook, event and delivery belongs to exactly one. */
export interface Customer {
  id: string;
  name: string;
  createdAt: number;
}

/**
 * An API key of one customer. Only its hash is stored: the key itself is shown once, when it is
 * made; `prefix` (its first characters) is what lists show so people can tell keys apart.
 */
export interface ApiKey {
  id: string;
  customerId: string;
  name: string;
  prefix: string;
  /** SHA-256 of the whole key, hex. */
  hash: string;
  scopes: string[];
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}
