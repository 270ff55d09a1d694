/**
 * @module Ports: what the domain needs from the outside world. Adapters implement them;
 * nothing here names a driver, a connection or a transaction.
 *
 * Glossary
 * - event: what a producer sent, accepted once per (customer, id).
 * - delivery: one event on its way to one webhook; its id is stable across retries.
 * - attempt: one HTTP try of a delivery.
 * - event log: the durable, ordered stream from ingest to dispatchers.
 * - retry schedule: deliveries waiting for their next try, by due time.
 * - lease: a claimed retry stays invisible until its lease runs out; a worker that dies
 *   lets it reappear, so a claim never loses work.
 */
import type { ApiKey, Attempt, Customer, Delivery, DeliveryStatus, Event, EventType, OperationalEvent, Page, Pause, RecoveryJob, User, Webhook } from "./model.ts";

/** Every backend answers a cheap liveness check for `/health`. */
export interface Pingable {
  /** Resolves when the backend answers; rejects with the reason when it does not. */
  ping(): Promise<void>;
}

export interface DeliveryFilter {
  webhookId?: string;
  eventId?: string;
  status?: DeliveryStatus;
  /** Deliveries of events accepted from `since` (ms, inclusive) until `until` (exclusive). */
  since?: number;
  until?: number;
  /** Newest event first (the cursor then goes backwards); default: oldest first. */
  newestFirst?: boolean;
  limit: number;
  cursor?: string;
}

/** Bulk replays (RecoveryJob): made by the API, run by one retry process at a time under a lease. */
export interface RecoveryJobs {
  create(job: RecoveryJob): Promise<void>;
  get(customerId: string, id: string): Promise<RecoveryJob | undefined>;
  /** A running job whose lease has ended (or never began), its lease taken until `now + leaseMs`; undefined when none. */
  claim(now: number, leaseMs: number): Promise<RecoveryJob | undefined>;
  /** Writes a running job's cursor, in-flight delivery, progress, lease and state; false (nothing written) once it is no longer running (cancelled). */
  save(job: RecoveryJob): Promise<boolean>;
  /** Stops a running job; the job as it is after, or undefined when there is none of that id. */
  cancel(customerId: string, id: string, now: number): Promise<RecoveryJob | undefined>;
  /** How many of a webhook's deliveries of `status` have events accepted in [since, until). */
  count(customerId: string, webhookId: string, status: DeliveryStatus, since: number, until: number | null): Promise<number>;
  /** Records the end of a recovery with the customer's operational events (`recovery.finished`), once. */
  finished(event: OperationalEvent): Promise<void>;
}

/** The event type catalog: each customer's event types, by name. */
export interface EventTypes {
  /** Adds an event type to its customer's catalog; false (nothing written) when the name is taken. */
  create(eventType: EventType): Promise<boolean>;
  get(customerId: string, name: string): Promise<EventType | undefined>;
  /** A page of the customer's catalog by name; the cursor is the last name of the page before. */
  list(customerId: string, limit: number, cursor?: string): Promise<Page<EventType>>;
  /** Replaces an event type's description, schema and examples; false when there is none of that name. */
  update(eventType: EventType): Promise<boolean>;
  delete(customerId: string, name: string): Promise<boolean>;
  /** The operator's view: every customer's event types, by customer then name; at most `limit`. */
  all(limit: number): Promise<EventType[]>;
}

/** Events with at least one stored delivery that failed (`failed` or `dead`), or that is not finished (`pending` or `failed`). */
export type EventDeliveryStatus = "failed" | "pending";

/** Which of a customer's events a page lists, newest first (by acceptance). */
export interface EventFilter {
  type?: string;
  /** Accepted from `since` (ms, inclusive) until `until` (exclusive). */
  since?: number;
  until?: number;
  deliveryStatus?: EventDeliveryStatus;
  limit: number;
  /** The `nextCursor` of the page before (adapters/event-pages.ts). */
  cursor?: string;
}

/** The outcome of one attempt, written with the delivery's new state in one batch. */
export interface AttemptRecord {
  /** The delivery as it was before this attempt; one never stored is created by this record. */
  delivery: Delivery;
  attempt: Attempt;
  status: DeliveryStatus;
  nextAttemptAt: number | null;
}

/** An event and the webhooks it goes to. */
/** The first unfinished delivery of one queue of an ordered webhook, with its event's place in the log (null: unknown, first). */
export interface FifoHead {
  delivery: Delivery;
  seq: number | null;
}

export interface FanOut {
  event: Event;
  webhooks: Webhook[];
}

/** What a delivery needs to be (re)tried: itself, its event and its webhook. */
export interface DeliveryWork {
  delivery: Delivery;
  event: Event;
  webhook: Webhook;
}

export interface DeliveryCounts {
  pending: number;
  succeeded: number;
  failed: number;
  dead: number;
}

/** One webhook as the operator's dashboard shows it: what became of its deliveries, and its last failure. */
export interface WebhookHealth {
  webhook: Webhook;
  /** Its deliveries still kept (see database.retention), by status. */
  counts: DeliveryCounts;
  /** Its most recently changed delivery that is failed or dead, and why; null when it has none. */
  lastFailure: {
    deliveryId: string;
    eventId: string;
    status: "failed" | "dead";
    statusCode: number | null;
    error: string | null;
    at: number;
  } | null;
}

/** A webhook's deliveries, in brief: times of the newest delivery that succeeded and that failed (by event order), and those unfinished. */
export interface DeliveryActivity {
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
  unfinished: number;
}

/** Customers (tenants) and their API keys. */
export interface Accounts extends Pingable {
  /** Stores a new customer; false when one with its id exists (nothing changes then). */
  createCustomer(customer: Customer): Promise<boolean>;
  getCustomer(id: string): Promise<Customer | undefined>;
  listCustomers(limit: number, cursor?: string): Promise<Page<Customer>>;
  createApiKey(key: ApiKey): Promise<void>;
  /** The key with this hash, revoked and expired ones included (the caller decides). */
  apiKeyByHash(hash: string): Promise<ApiKey | undefined>;
  /** A customer's keys, oldest first, revoked ones included. */
  listApiKeys(customerId: string): Promise<ApiKey[]>;
  /** Marks a key revoked at `at` (once: a second revoke keeps the first time); undefined for a key the customer does not have. */
  revokeApiKey(customerId: string, id: string, at: number): Promise<ApiKey | undefined>;
}

/** Configuration and history: customers, users, webhooks, deliveries, attempts. */
export interface Store extends Pingable {
  ensureCustomer(id: string, name: string): Promise<void>;
  getUser(username: string): Promise<User | undefined>;
  putUser(user: User): Promise<void>;
  /** Returns the stored value for `key`, storing `value` first when there is none. */
  settingOrInit(key: string, value: string): Promise<string>;

  createWebhook(webhook: Webhook): Promise<void>;
  getWebhook(customerId: string, id: string): Promise<Webhook | undefined>;
  listWebhooks(customerId: string, limit: number, cursor?: string): Promise<Page<Webhook>>;
  updateWebhook(webhook: Webhook): Promise<void>;
  deleteWebhook(customerId: string, id: string): Promise<boolean>;
  /**
   * hookrelay disables an active webhook on its own account (its endpoint answered 410 Gone, or kept
   * failing): status disabled with `event.reason`, and `event` (a `webhook.disabled`) recorded with
   * it. Returns the webhook as disabled, or undefined when it was not active (a person changed it
   * meanwhile, or it is gone): a webhook is disabled once, and nobody's choice is overwritten.
   */
  disableWebhook(event: OperationalEvent): Promise<Webhook | undefined>;
  /**
   * Opens an active webhook's circuit breaker: `pause` stored and `event` (a `webhook.paused`)
   * recorded with it. Returns the webhook paused, or undefined when it was not active or is paused
   * already (another process opened it first): it opens once.
   */
  pauseWebhook(event: OperationalEvent, pause: Pause): Promise<Webhook | undefined>;
  /**
   * Closes a webhook's breaker (a probe succeeded, or a person resumed it): pause cleared,
   * `resumedAt` set to `event.createdAt`, and `event` (a `webhook.resumed`) recorded. Undefined
   * when it was not paused: it closes once.
   */
  resumeWebhook(event: OperationalEvent): Promise<Webhook | undefined>;
  /**
   * Claims up to `limit` paused active webhooks whose probe is due at `now`: their `probeAt` moves
   * to `now + leaseMs`, so no other process probes them meanwhile, and one that dies probing loses
   * nothing (its claim comes due again).
   */
  claimProbes(now: number, leaseMs: number, limit: number): Promise<Webhook[]>;
  /** Stores a paused webhook's pause after a failed probe; false when it is no longer paused. */
  reprobe(customerId: string, webhookId: string, pause: Pause): Promise<boolean>;
  /** A webhook's unfinished (pending or failed) deliveries in id order (oldest event first), after `after`. */
  unfinishedDeliveries(customerId: string, webhookId: string, limit: number, after?: string): Promise<Delivery[]>;
  /** Where the log of a customer's events ends now (the last `seq`; 0 when empty): a webhook's ordering holds after it. */
  latestEventSeq(customerId: string): Promise<number>;
  /** Events of the webhook's customer after `afterSeq` that it subscribes to (its types), in log order, at most `limit`. */
  orderedEventsAfter(webhook: Webhook, afterSeq: number, limit: number): Promise<{ seq: number; event: Event }[]>;
  /** An ordered webhook's queues: for each ordering key with unfinished deliveries, the first of them (least event seq). */
  fifoHeads(customerId: string, webhookId: string): Promise<FifoHead[]>;
  /** The greatest event seq among an ordered webhook's finished deliveries (0 when none). */
  finishedFifoSeq(customerId: string, webhookId: string): Promise<number>;
  /** What the health API shows of a webhook's deliveries: its newest success and failure, and how many wait. */
  deliveryActivity(customerId: string, webhookId: string): Promise<DeliveryActivity>;
  /** A customer's operational events, newest first, optionally of one webhook. */
  listOperationalEvents(customerId: string, filter: { webhookId?: string; limit: number; cursor?: string }): Promise<Page<OperationalEvent>>;
  /** Active webhooks of every customer, for matching; small and read often (cache it). */
  activeWebhooks(): Promise<Webhook[]>;
  /**
   * Stores every webhook secret again in the form the store now writes (sealed with the current
   * key, when secrets are sealed at rest); returns how many were rewritten. Idempotent.
   */
  resealSecrets(): Promise<number>;
  /** A number that changes whenever any webhook is created, changed or deleted (cache key). */
  webhooksVersion(): Promise<number>;
  /**
   * Calls `onChange` soon after any webhook changes, and when the watch (re)connects (notices may
   * have been missed); resolves to what stops it. Absent where the store sends no notices: ask
   * `webhooksVersion` instead.
   */
  watchWebhooks?(onChange: () => void): Promise<() => Promise<void>>;

  /**
   * A write: stores each item's event when the store does not have it yet (the log's copy is then
   * the only one), and returns the deliveries already stored for each item's (event, webhook)
   * pairs, one list per item, in no particular order; a pair never stored has none.
   */
  saveEventsAndFindDeliveries(items: FanOut[]): Promise<Delivery[][]>;
  /**
   * Stores one pending delivery per (event, webhook) pair (id from `deliveryIdFor`), due at
   * `dueAt`, idempotently: a pair seen before returns the delivery already stored, unchanged. Also
   * keeps each event itself when the store does not have it yet. One result list per item, in
   * webhook order. The dispatcher does not need this for a delivery it sends at once: its first
   * `recordAttempts` creates it.
   */
  openDeliveries(items: FanOut[], dueAt: number): Promise<Delivery[][]>;
  getDelivery(customerId: string, id: string): Promise<Delivery | undefined>;
  /** What each of these deliveries needs to be tried, in one read; those gone (or whose event or webhook is) are left out. */
  deliveryWork(deliveryIds: string[]): Promise<DeliveryWork[]>;
  /**
   * Unfinished (pending or failed) deliveries of active webhooks that were due before `before`,
   * the longest overdue first, at most `limit`: the ones a process stored and did not live to
   * schedule are among them (see services/delivery/transitions.ts).
   */
  overdueDeliveries(before: number, limit: number): Promise<ScheduledRetry[]>;
  listDeliveries(customerId: string, filter: DeliveryFilter): Promise<Page<Delivery>>;
  /** Each customer's event type catalog. */
  readonly eventTypes: EventTypes;
  /** Bulk replays of webhooks' deliveries. */
  readonly recoveryJobs: RecoveryJobs;
  /**
   * A page of the customer's events, newest first. With `deliveryStatus` a page looks at no more
   * than EVENT_SCAN_WINDOW events (adapters/event-pages.ts): it may hold fewer than `limit` and
   * still have a `nextCursor`, so one call never reads a whole history.
   */
  listEvents(customerId: string, filter: EventFilter): Promise<Page<Event>>;
  countDeliveries(): Promise<DeliveryCounts>;
  /**
   * Writes attempts and the new state of their deliveries together, in as few round trips as it
   * can; a delivery not stored yet is created with that state. Idempotent on the attempt id (a
   * write repeated after a lost acknowledgement adds nothing); an attempt whose number another
   * attempt of its delivery already has (two sends raced) is stored under the next free number.
   */
  recordAttempts(records: AttemptRecord[]): Promise<void>;
  listAttempts(deliveryId: string): Promise<Attempt[]>;
  /**
   * Starts a new retry round for a delivery (manual retry): status pending, budget renewed. The
   * replay is kept (see `listReplays`).
   */
  requeueDelivery(delivery: Delivery, at: number): Promise<Delivery>;
  /** When the delivery was retried by hand (`requeueDelivery`), oldest first. */
  listReplays(deliveryId: string): Promise<number[]>;
  /**
   * The operator's view, over every customer: each webhook with its delivery counts and last
   * failure, webhooks with a failed or dead delivery first, then by customer and id; at most `limit`.
   */
  webhookHealth(limit: number): Promise<WebhookHealth[]>;
  /** Failed and dead deliveries of every customer, the most recently changed first; at most `limit`. */
  recentFailures(limit: number): Promise<Delivery[]>;
  /** Every customer's event with this id (an id is unique within one customer only). */
  findEvents(id: string): Promise<Event[]>;
  /** Every customer's health changes after the one of id `afterId`, by id (time-ordered); at most `limit` (operational webhooks). */
  operationalEventsAfter(afterId: string, limit: number): Promise<OperationalEvent[]>;
  /** Every customer's dead deliveries after `after`, by when they died (`updatedAt`) then id; at most `limit` (operational webhooks). */
  deadDeliveriesAfter(after: { updatedAt: number; id: string }, limit: number): Promise<Delivery[]>;
  getEvent(customerId: string, id: string): Promise<Event | undefined>;
  /**
   * Retention: deletes up to `limit` finished deliveries (succeeded or dead) last changed before
   * `before` (ms), their attempts, and events accepted before `before` that are left with no
   * delivery (never one the dispatchers have not yet read). Returns how many deliveries it
   * removed; call again until it returns less than `limit`.
   */
  pruneFinished(before: number, limit: number): Promise<number>;
}

export type AppendOutcome = "accepted" | "duplicate";

/** An event read from the log, with its place in it. */
export interface LoggedEvent extends Event {
  /** Position in the log (offset); opaque to everyone but the adapter. */
  position: number;
  partition: number;
  /**
   * True when no reader of this group can have had the event before (appended after this reader
   * took its part of the log, and appended once), so it has no stored deliveries to look for.
   * False or absent when the adapter cannot tell: the dispatcher then looks.
   */
  firstRead?: boolean;
}

/** The durable stream from ingest to dispatchers. */
export interface EventLog extends Pingable {
  /**
   * Appends events, idempotent on (customer, id): an event seen before is a duplicate and
   * is not appended again. Resolves only once the accepted events are durable.
   */
  append(events: Event[]): Promise<AppendOutcome[]>;
  /** A reader in a consumer group; its position survives restarts. */
  consumer(group: string): EventConsumer;
}

export interface EventConsumer {
  /** Up to `max` events after the last one handed out; waits up to `waitMs` for some. */
  poll(max: number, waitMs: number): Promise<LoggedEvent[]>;
  /**
   * Marks an event finished: every delivery succeeded, dead, or durably scheduled. The
   * committed position only moves past events that are all finished.
   */
  ack(event: LoggedEvent): void;
  /** Events appended but not yet finished by this group. */
  lag(): Promise<number>;
  /** Partitions this reader owns now (0 while it joins or after it lost them; 1 for an unpartitioned log). */
  assignedPartitions(): number;
  /** Commits what is finished and stops; unfinished events are read again by the next consumer. */
  close(): Promise<void>;
}

export interface ScheduledRetry {
  deliveryId: string;
  dueAt: number;
}

/** Deliveries waiting for their next try, ordered by due time. */
export interface RetrySchedule extends Pingable {
  /** Schedules (or moves) each delivery's next try. */
  schedule(items: ScheduledRetry[]): Promise<void>;
  /** Schedules each delivery not on the schedule yet; one already there (claimed or not) keeps its due time. */
  ensureScheduled(items: ScheduledRetry[]): Promise<void>;
  /**
   * Claims up to `limit` items due at `now`: each stays scheduled but invisible until
   * `now + leaseMs`, so a worker that dies before `complete` or `schedule` loses nothing.
   */
  claim(now: number, limit: number, leaseMs: number): Promise<ScheduledRetry[]>;
  /** Removes items whose outcome is durable (delivered, dead, or rescheduled elsewhere). */
  complete(deliveryIds: string[]): Promise<void>;
  /** Which of these deliveries are on the schedule now, waiting or claimed (a retry under way). */
  scheduled(deliveryIds: string[]): Promise<Set<string>>;
  depth(): Promise<number>;
  /** The earliest due time on the schedule (a claimed item's: the end of its lease), or null when it is empty. */
  nextDue(): Promise<number | null>;
}

/** A token bucket: `capacity` tokens, refilled continuously at `refillPerSecond`. */
export interface RateLimit {
  capacity: number;
  refillPerSecond: number;
}

export interface RateDecision {
  allowed: boolean;
  /** Whole tokens left after this call. */
  remaining: number;
  /** When not allowed: how long until `cost` tokens are there again. 0 when allowed. */
  retryAfterMs: number;
  /** How long until the bucket is full again. */
  resetMs: number;
}

/** Token buckets by key (client IP, customer), shared by every process of a deployment. */
export interface RateLimiter extends Pingable {
  /** Takes `cost` tokens from `key`'s bucket if it has them; never takes part of them. */
  take(key: string, limit: RateLimit, cost: number, now: number): Promise<RateDecision>;
}

/**
 * Slots of a semaphore by key, shared by every process of a deployment: a webhook's deliveries in
 * flight over all its dispatchers. A slot is held for at most its lease, so a holder that dies
 * frees it then.
 */
export interface ConcurrencyLimiter {
  /** Takes one of `limit` slots of `key` until `now + leaseMs`: a token to release it with, or null when all are taken. */
  acquire(key: string, limit: number, leaseMs: number, now: number): Promise<string | null>;
  release(key: string, token: string): Promise<void>;
}

/** One outbound webhook request. */
export interface SendRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Whose delivery this is: connections are never reused between customers (see FetchSender). */
  customerId: string;
}

/** What came back; `status` null when nothing did (timeout, refused, DNS, SSRF guard). */
export interface SendResult {
  status: number | null;
  durationMs: number;
  error: string | null;
  responseBody: string | null;
  retryAfterMs: number | null;
}

/** Sends a webhook over HTTP. Never throws: failures are results. */
export interface Sender {
  send(request: SendRequest): Promise<SendResult>;
}

/** Why a webhook target may not be reached (SSRF guard), or null when it may. */
export type TargetCheck = (url: URL) => Promise<string | null>;

/** Why a target may not be reached, or the vetted address to connect to (null: the client resolves it). */
export interface TargetVerdict {
  refused: string | null;
  address: string | null;
}
export type TargetResolver = (url: URL) => Promise<TargetVerdict>;

export interface Clock {
  now(): number;
}
