/**
 * @module The observability role (port 8085): the dashboard page, and the operator's JSON behind
 * it — stats for the whole deployment, webhook health, recent failures, event timelines, retry.
 */
import { type TSchema, Type } from "@sinclair/typebox";
import { Elysia, t } from "elysia";
import { NotFoundError } from "../../domain/errors.ts";
import type { Delivery } from "../../domain/model.ts";
import type { Clock, RetrySchedule, Store, WebhookHealth } from "../../domain/ports.ts";
import { clientIp } from "../../platform/http.ts";
import type { Logger } from "../../platform/logger.ts";
import { inlinePageHeaders, inlinePagePolicy } from "../../platform/page-policy.ts";
import { accessControl } from "../auth/access.ts";
import type { GuardDeps } from "../auth/guard.ts";
import { login } from "../auth/login.ts";
import type { PasswordChecks } from "../auth/password-checks.ts";
import type { Tokens } from "../auth/tokens.ts";
import { retryDelivery } from "../gateway/deliveries.ts";
import { GATEWAY_MODELS } from "../gateway/models.ts";
import { presentAttempt, presentDelivery, presentEventType, presentJob } from "../gateway/present.ts";
import { cancelJob, getJob, startRecovery } from "../recovery/jobs.ts";
import dashboardHtml from "./dashboard.html" with { type: "text" };
import { EXAMPLES } from "./examples.ts";
import { type RecentActivity, successShare } from "./recent-activity.ts";
import type { Scraper } from "./scraper.ts";
import { eventTimeline } from "./timeline.ts";

export interface ObservabilityDeps {
  store: Store;
  schedule: RetrySchedule;
  log: Logger;
  clock: Clock;
  guard: GuardDeps;
  tokens: Tokens;
  /** The process's cap on password verifications, shared with the gateway's login. */
  passwords: PasswordChecks;
  scraper: Scraper;
  pulse: RecentActivity;
}

const MAX_WEBHOOKS = 500;
/** Event types the dashboard lists at most (each catalog holds at most 1,000). */
const MAX_EVENT_TYPES = 1000;
/** Imported as text (bun-types types every `.html` import as an HTML bundle, whatever its `type`). */
const dashboardPage = dashboardHtml as unknown as string;
const DASHBOARD_HEADERS = inlinePageHeaders(inlinePagePolicy(dashboardPage));
const LOGIN_BODY = 64 * 1024;
const FailuresQuery = Type.Object(
  // Elysia's t.Integer: in a query, Elysia turns it into a number from text (TypeBox's does not).
  { limit: Type.Optional(t.Integer({ minimum: 1, maximum: 200, title: "limit", description: "how many (default 50)", errorMessage: "must be an integer from 1 to 200" })) },
  { additionalProperties: false },
);

/** disabled; failing: deliveries waiting for a retry now; degraded: some went dead; healthy otherwise. */
export function healthOf(entry: WebhookHealth): "disabled" | "paused" | "failing" | "degraded" | "healthy" {
  if (entry.webhook.status === "disabled") return "disabled";
  if (entry.webhook.pause) return "paused";
  if (entry.counts.failed > 0) return "failing";
  if (entry.counts.dead > 0) return "degraded";
  return "healthy";
}

function presentHealth(entry: WebhookHealth) {
  const { succeeded, failed, dead } = entry.counts;
  const tried = succeeded + failed + dead;
  const last = entry.lastFailure;
  return {
    webhook_id: entry.webhook.id,
    customer_id: entry.webhook.customerId,
    url: entry.webhook.url,
    status: entry.webhook.status,
    disabled_reason: entry.webhook.disabledReason,
    health: healthOf(entry),
    /** While paused: when its next probe is due. */
    next_probe_at: entry.webhook.pause ? new Date(entry.webhook.pause.probeAt).toISOString() : null,
    counts: entry.counts,
    /** Of its deliveries that were tried, the share that succeeded; null when none was. */
    success_rate: tried === 0 ? null : succeeded / tried,
    last_failure: last && {
      delivery_id: last.deliveryId,
      event_id: last.eventId,
      status: last.status,
      status_code: last.statusCode,
      error: last.error,
      at: new Date(last.at).toISOString(),
    },
  };
}

/** The URL of each webhook the deliveries went to, one read per webhook. */
async function webhookUrls(store: Store, deliveries: Delivery[]): Promise<Map<string, string>> {
  const owners = new Map(deliveries.map((d) => [d.webhookId, d.customerId]));
  const found = await Promise.all([...owners].map(([id, customerId]) => store.getWebhook(customerId, id)));
  return new Map(found.flatMap((w) => (w ? [[w.id, w.url] as const] : [])));
}

/** An answer documented by its main fields and an example of the whole (docs/operations.md says more). */
const Answer = (description: string, example: unknown, properties: Record<string, TSchema> = {}) => Type.Object(properties, { description, additionalProperties: true, examples: [example] });
const operator = { scope: "admin" } as const;
const tags = ["Dashboard"];

export function observabilityRoutes(deps: ObservabilityDeps) {
  return new Elysia({ name: "observability" })
    .use(accessControl(deps.guard))
    .model({ LoginInput: GATEWAY_MODELS.LoginInput, LoginToken: GATEWAY_MODELS.LoginToken })
    .get(
      "/",
      ({ set }) => {
        Object.assign(set.headers, DASHBOARD_HEADERS);
        return dashboardPage;
      },
      {
        detail: {
          operationId: "dashboard",
          tags,
          summary: "The dashboard (HTML; it signs in with the admin password)",
          responses: { 200: { description: "A self-contained page", content: { "text/html": {} } } },
        },
      },
    )
    .post(
      "/auth/login",
      async ({ body, request, set, server }) => {
        const ip = clientIp({ request, set, server }, deps.guard.trustForwardedFor);
        return login({ ...deps, rateGate: deps.guard.rateGate }, body.username, body.password, ip);
      },
      {
        client: { surface: "api", body: LOGIN_BODY },
        body: "LoginInput",
        response: { 200: "LoginToken" },
        detail: { operationId: "dashboardLogin", tags, summary: "The gateway's login, on this port too: the dashboard signs in where it is served", "x-errors": { 401: "wrong username or password" } },
      },
    )
    .get(
      "/api/stats",
      async () => {
        const [deliveries, retryQueueDepth] = await Promise.all([deps.store.countDeliveries(), deps.schedule.depth()]);
        // Awaiting a retry counts against it: divided by finished deliveries only, a webhook failing
        // every attempt (but not yet out of retries) left the ratio at 100%.
        const tried = deliveries.succeeded + deliveries.failed + deliveries.dead;
        const now = deps.pulse.now();
        return {
          deliveries,
          retry_queue_depth: retryQueueDepth,
          success_ratio: tried === 0 ? null : deliveries.succeeded / tried,
          attempt_success_ratio: successShare(now.rates.delivered_per_second, now.rates.failed_per_second),
          ...now,
          targets: deps.scraper.targets(),
          series: deps.pulse.series(),
        };
      },
      {
        bearer: operator,
        response: {
          200: Answer("Counts over every customer, rates and latency quantiles now, the scrape targets, and the charts' recent history", EXAMPLES.stats, {
            deliveries: Type.Record(Type.String(), Type.Integer(), { description: "deliveries by status" }),
            retry_queue_depth: Type.Integer({ minimum: 0 }),
            success_ratio: Type.Union([Type.Number(), Type.Null()], { description: "succeeded / (succeeded + failed + dead); null before any" }),
            attempt_success_ratio: Type.Union([Type.Number(), Type.Null()], { description: "successful attempts over the last 10 s" }),
          }),
        },
        detail: { operationId: "stats", tags, summary: "The deployment now: counts, rates, latencies, and the charts' history" },
      },
    )
    .get("/api/webhooks", async () => ({ data: (await deps.store.webhookHealth(MAX_WEBHOOKS)).map(presentHealth) }), {
      bearer: operator,
      response: {
        200: Answer(`Every webhook's health (at most ${MAX_WEBHOOKS}): its state, its deliveries by status, its last failure`, EXAMPLES.webhooks, {
          data: Type.Array(Type.Object({}, { additionalProperties: true })),
        }),
      },
      detail: { operationId: "webhookHealth", tags, summary: "Each webhook's health: healthy, degraded, failing, paused or disabled" },
    })
    .get("/api/event-types", async () => ({ data: (await deps.store.eventTypes.all(MAX_EVENT_TYPES)).map((t) => ({ customer_id: t.customerId, ...presentEventType(t) })) }), {
      bearer: operator,
      response: {
        200: Answer(`Every customer's event type catalog (at most ${MAX_EVENT_TYPES}), by customer and name: description, data schema, examples`, EXAMPLES.eventTypes, {
          data: Type.Array(Type.Object({}, { additionalProperties: true })),
        }),
      },
      detail: { operationId: "eventTypes", tags, summary: "The event type catalogs of every customer" },
    })
    .get(
      "/api/failures",
      async ({ query }) => {
        const failing = await deps.store.recentFailures(query.limit ?? 50);
        const [attempts, urls] = await Promise.all([Promise.all(failing.map((d) => deps.store.listAttempts(d.id))), webhookUrls(deps.store, failing)]);
        return {
          data: failing.map((delivery, i) => ({
            ...presentDelivery(delivery),
            customer_id: delivery.customerId,
            // The operator knows endpoints by their URL, not by an id (null: the webhook was deleted).
            webhook_url: urls.get(delivery.webhookId) ?? null,
            attempts: attempts[i]!.map(presentAttempt),
          })),
        };
      },
      {
        bearer: operator,
        query: FailuresQuery,
        response: {
          200: Answer("The latest failed and dead deliveries, newest first, each with its customer, its webhook's URL and its attempts", EXAMPLES.failures, {
            data: Type.Array(Type.Object({}, { additionalProperties: true })),
          }),
        },
        detail: { operationId: "failures", tags, summary: "Recent failed and dead deliveries of every customer, with their attempts" },
      },
    )
    .get("/api/events/:id/timeline", async ({ params }) => eventTimeline(deps.store, params.id), {
      bearer: operator,
      params: Type.Object({ id: Type.String({ description: "the event's id" }) }),
      response: { 200: Answer("The event (of every customer that sent its id), its deliveries with their attempts, and every step in time order", EXAMPLES.timeline) },
      detail: { operationId: "eventTimeline", tags, summary: "One event's timeline across every customer: its deliveries and their attempts in order" },
    })
    .post(
      "/api/deliveries/:id/retry",
      async ({ principal, params, set }) => {
        const [work] = await deps.store.deliveryWork([params.id]);
        if (!work) throw new NotFoundError("delivery", params.id);
        // The operator retries any customer's delivery: on that customer's behalf.
        const requeued = await retryDelivery(deps, { ...principal, customerId: work.delivery.customerId }, params.id);
        set.status = 202;
        return { ...presentDelivery(requeued), customer_id: requeued.customerId };
      },
      {
        bearer: operator,
        params: Type.Object({ id: Type.String({ description: "the delivery's id" }) }),
        response: { 202: Answer("The delivery, queued for a new round of tries", EXAMPLES.retry, { customer_id: Type.String() }) },
        detail: { operationId: "dashboardRetry", tags, summary: "Retry any customer's delivery now" },
      },
    )
    .post(
      "/api/customers/:customer/webhooks/:id/recover",
      async ({ principal, params, body, set }) => {
        // The operator recovers any customer's webhook: on that customer's behalf.
        const job = await startRecovery(deps, { ...principal, customerId: params.customer }, params.id, body);
        set.status = 202;
        return presentJob(job);
      },
      {
        bearer: { ...operator, body: 64 * 1024 },
        params: Type.Object({ customer: Type.String({ description: "the webhook's customer" }), id: Type.String({ description: "the webhook's id" }) }),
        response: { 202: Answer("The recovery job, started", EXAMPLES.job) },
        detail: { operationId: "dashboardRecover", tags, summary: "Start a recovery of any customer's webhook (as POST /api/v1/webhooks/{id}/recover)" },
      },
    )
    .get("/api/customers/:customer/jobs/:id", async ({ principal, params }) => presentJob(await getJob(deps, { ...principal, customerId: params.customer }, params.id)), {
      bearer: operator,
      params: Type.Object({ customer: Type.String(), id: Type.String({ description: "the job's id" }) }),
      response: { 200: Answer("The recovery job and its progress", EXAMPLES.job) },
      detail: { operationId: "dashboardJob", tags, summary: "Follow any customer's recovery" },
    })
    .post("/api/customers/:customer/jobs/:id/cancel", async ({ principal, params }) => presentJob(await cancelJob(deps, { ...principal, customerId: params.customer }, params.id)), {
      bearer: operator,
      params: Type.Object({ customer: Type.String(), id: Type.String({ description: "the job's id" }) }),
      response: { 200: Answer("The recovery job, cancelled", EXAMPLES.job) },
      detail: { operationId: "dashboardCancelJob", tags, summary: "Cancel any customer's recovery" },
    });
}
