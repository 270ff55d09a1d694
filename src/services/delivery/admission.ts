/**
 * @module A webhook's own limits, checked before each of its requests: `rate_limit` (a token bucket)
 * and `max_in_flight` (slots), both shared by every dispatcher process (Redis in production). A
 * delivery over a limit is not sent now but handed back with the time to try it again: the
 * dispatcher parks it in the store, the retry manager moves its due time. The times a process hands
 * out for one webhook are spaced at its rate, so its backlog comes due at the pace it may go, not
 * all at once. A webhook with neither limit costs one check of two fields.
 */
import type { Webhook } from "../../domain/model.ts";
import type { Clock, ConcurrencyLimiter, RateLimiter } from "../../domain/ports.ts";
import type { Logger } from "../../platform/logger.ts";

/** A delivery turned away by its webhook's `max_in_flight` is tried again this much later at the earliest, ms. */
const SLOT_WAIT_MS = 100;
/** With the limit's backend away, a delivery is tried again this much later, ms. */
const BACKEND_WAIT_MS = 1000;

export type Admission = { release: (() => void) | null } | { retryAt: number };

const OPEN: Admission = { release: null };

export class WebhookLimits {
  /** Per webhook: the latest time this process handed out for a turned-away delivery (spacing the next). */
  private readonly handedOut = new Map<string, number>();

  constructor(
    private readonly deps: { rate: RateLimiter; slots: ConcurrencyLimiter; clock: Clock; log: Logger },
    /** How long a slot is held at most (a process that dies frees its slots then): the HTTP timeout and room to spare. */
    private readonly slotLeaseMs: number,
  ) {}

  /** Admits one request to `webhook` now (with the slot's release, if it took one), or says when to try again. */
  async admit(webhook: Webhook): Promise<Admission> {
    if (webhook.rateLimit === null && webhook.maxInFlight === null) return OPEN;
    const now = this.deps.clock.now();
    const key = `wh:${webhook.id}`;
    let token: string | null = null;
    try {
      if (webhook.maxInFlight !== null) {
        token = await this.deps.slots.acquire(key, webhook.maxInFlight, this.slotLeaseMs, now);
        if (token === null) return { retryAt: this.turnAfter(webhook, now + SLOT_WAIT_MS) };
      }
      if (webhook.rateLimit !== null) {
        const decision = await this.deps.rate.take(key, { capacity: webhook.rateLimit.burst, refillPerSecond: webhook.rateLimit.perSecond }, 1, now);
        if (!decision.allowed) {
          if (token !== null) void this.release(key, token);
          return { retryAt: this.turnAfter(webhook, now + decision.retryAfterMs) };
        }
      }
    } catch (err) {
      if (token !== null) void this.release(key, token);
      this.deps.log.warn({ err, webhookId: webhook.id }, "webhook limits unavailable; the delivery is tried again shortly");
      return { retryAt: now + BACKEND_WAIT_MS };
    }
    const held = token;
    return { release: held === null ? null : () => void this.release(key, held) };
  }

  /** The next free turn of this webhook at or after `earliest`, one rate interval after the last handed out. */
  private turnAfter(webhook: Webhook, earliest: number): number {
    const spacing = webhook.rateLimit ? 1000 / webhook.rateLimit.perSecond : 0;
    const last = this.handedOut.get(webhook.id) ?? 0;
    const at = Math.max(earliest, last + spacing);
    this.handedOut.set(webhook.id, at);
    // Forget turns long past, so the map follows the webhooks being limited now.
    if (this.handedOut.size > 10_000) for (const [id, t] of this.handedOut) if (t < earliest - 60_000) this.handedOut.delete(id);
    return Math.round(at);
  }

  private async release(key: string, token: string): Promise<void> {
    await this.deps.slots.release(key, token).catch((err) => this.deps.log.warn({ err, key }, "could not release a webhook slot; its lease frees it"));
  }
}
