/**
 * @module Opening circuit breakers from the outcomes one process sees (see domain/breaker.ts for the
 * rules): the pool counts each attempt here, and a trip pauses the webhook in the store, with a
 * `webhook.paused` event, for every process to read. The healthy path costs one map look-up.
 */
import { type BreakerPolicy, FailureTracker, openPause } from "../../domain/breaker.ts";
import { newId } from "../../domain/ids.ts";
import type { Webhook } from "../../domain/model.ts";
import type { Store } from "../../domain/ports.ts";
import type { Config } from "../../platform/config.ts";
import { durationMs } from "../../platform/duration.ts";
import type { Logger } from "../../platform/logger.ts";
import type { Settlement } from "../delivery/transitions.ts";

/** The breaker's rules from the `endpoint_health` settings. */
export function breakerPolicyOf(health: Config["endpoint_health"]): BreakerPolicy {
  return {
    consecutiveFailures: health.breaker_consecutive_failures,
    failureRatio: health.breaker_failure_ratio,
    windowMs: durationMs(health.breaker_window),
    minAttempts: health.breaker_min_attempts,
    probeIntervalMs: durationMs(health.probe_interval),
    maxProbeIntervalMs: durationMs(health.probe_max_interval),
    disableAfterMs: durationMs(health.disable_after),
  };
}

export class Breakers {
  private readonly tracker: FailureTracker;

  constructor(
    private readonly deps: { store: Store; log: Logger },
    private readonly policy: BreakerPolicy,
  ) {
    this.tracker = new FailureTracker(policy);
  }

  /**
   * Counts a judged attempt. True when it opened the webhook's breaker: the caller stops sending to
   * it at once; the pause is written in the background (a write that fails is logged, and the next
   * failures open it again). A permanent failure (the receiver refused that one request for good) is
   * no sign of an endpoint down, and is not counted.
   */
  count(webhook: Webhook, settlement: Settlement): boolean {
    const at = settlement.record.attempt.createdAt;
    if (settlement.outcome === "succeeded") {
      this.tracker.succeeded(webhook.id, at);
      return false;
    }
    if (settlement.permanent) return false;
    const trip = this.tracker.failed(webhook.id, at);
    if (!trip) return false;
    const pause = openPause(this.policy, trip, at);
    const event = { id: newId("ope", at), customerId: webhook.customerId, webhookId: webhook.id, type: "webhook.paused" as const, reason: trip.why, createdAt: at };
    this.deps.store.pauseWebhook(event, pause).then(
      (paused) => {
        if (paused)
          this.deps.log.warn(
            { webhookId: webhook.id, customerId: webhook.customerId, reason: trip.why, probeInMs: pause.probeAt - at },
            "webhook paused: its deliveries are held until a probe succeeds",
          );
      },
      (err) => this.deps.log.warn({ err, webhookId: webhook.id }, "could not pause a failing webhook; its next failures try again"),
    );
    return true;
  }
}
