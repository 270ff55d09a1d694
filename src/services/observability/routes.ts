/**
 * @module The observability role (port 8085): the dashboard page, and the operator's JSON behind
 * it — stats for the whole deployment, webhook health, recent failures, event timelines, retry.
 */
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import { NotFoundError } from "../../domain/errors.ts";
import type { Delivery } from "../../domain/model.ts";
import type { Clock, RetrySchedule, Store, WebhookHealth } from "../../domain/ports.ts";
import { clientIp, type RequestContext, readJson } from "../../platform/http.ts";
import type { Logger } from "../../platform/logger.ts";
import { inlinePagePolicy } from "../../platform/page-policy.ts";
import { coerceQuery, compile } from "../../platform/validate.ts";
import { authorize, type GuardDeps, limitClient } from "../auth/guard.ts";
import { login } from "../auth/login.ts";
import type { PasswordChecks } from "../auth/password-checks.ts";
import type { Tokens } from "../auth/tokens.ts";
import { retryDelivery } from "../gateway/deliveries.ts";
import { presentAttempt, presentDelivery } from "../gateway/present.ts";
import { LoginInputSchema } from "../gateway/schemas.ts";
import dashboardHtml from "./dashboard.html" with { type: "text" };
import { type Pulse, successShare } from "./pulse.ts";
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
  pulse: Pulse;
}

const MAX_WEBHOOKS = 500;
/** Imported as text (bun-types types every `.html` import as an HTML bundle, whatever its `type`). */
const dashboardPage = dashboardHtml as unknown as string;
const DASHBOARD_POLICY = inlinePagePolicy(dashboardPage);
/** The gateway's login, on this port too: the dashboard signs in where it is served. */
const loginRequest = compile(LoginInputSchema);
const LOGIN_BODY = 64 * 1024;
const FailuresQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, errorMessage: "must be an integer from 1 to 200" })) }, { additionalProperties: false });
const failuresQuery = compile(FailuresQuery);

/** disabled; failing: deliveries waiting for a retry now; degraded: some went dead; healthy otherwise. */
export function healthOf(entry: WebhookHealth): "disabled" | "failing" | "degraded" | "healthy" {
  if (entry.webhook.status === "disabled") return "disabled";
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
    health: healthOf(entry),
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

export function observabilityRoutes(deps: ObservabilityDeps) {
  // Counts over every customer: for the operator only.
  const operator = (ctx: RequestContext) => authorize(deps.guard, ctx, "api", "admin");

  return new Elysia({ name: "observability" })
    .get("/", ({ set }) => {
      set.headers["content-type"] = "text/html; charset=utf-8";
      set.headers["cache-control"] = "no-cache";
      set.headers["content-security-policy"] = DASHBOARD_POLICY;
      set.headers["referrer-policy"] = "no-referrer";
      set.headers["x-content-type-options"] = "nosniff";
      return dashboardPage;
    })
    .post(
      "/auth/login",
      async ({ request, set, server }) => {
        await limitClient(deps.guard, { request, set, server }, "api");
        const input = loginRequest.parse(await readJson(request, LOGIN_BODY));
        const ip = clientIp({ request, set, server }, deps.guard.trustForwardedFor);
        return login({ ...deps, rateGate: deps.guard.rateGate }, input.username, input.password, ip);
      },
      { parse: "none" },
    )
    .get("/api/stats", async ({ request, set, server }) => {
      await operator({ request, set, server });
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
    })
    .get("/api/webhooks", async ({ request, set, server }) => {
      await operator({ request, set, server });
      return { data: (await deps.store.webhookHealth(MAX_WEBHOOKS)).map(presentHealth) };
    })
    .get("/api/failures", async ({ request, query, set, server }) => {
      await operator({ request, set, server });
      const limit = failuresQuery.parse(coerceQuery(FailuresQuery, query), "query").limit ?? 50;
      const failing = await deps.store.recentFailures(limit);
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
    })
    .get("/api/events/:id/timeline", async ({ request, params, set, server }) => {
      await operator({ request, set, server });
      return eventTimeline(deps.store, params.id);
    })
    .post(
      "/api/deliveries/:id/retry",
      async ({ request, params, set, server }) => {
        const principal = await operator({ request, set, server });
        const [work] = await deps.store.deliveryWork([params.id]);
        if (!work) throw new NotFoundError("delivery", params.id);
        // The operator retries any customer's delivery: on that customer's behalf.
        const requeued = await retryDelivery(deps, { ...principal, customerId: work.delivery.customerId }, params.id);
        set.status = 202;
        return { ...presentDelivery(requeued), customer_id: requeued.customerId };
      },
      { parse: "none" },
    );
}
