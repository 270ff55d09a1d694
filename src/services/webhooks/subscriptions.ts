/**
 * @module Who subscribes to what, reloaded when any webhook changes: the dispatcher matches events
 * to their webhooks with it, and ingest counts them in its answer (`matched_webhooks`).
 */
import { SubscriptionIndex } from "../../domain/match.ts";
import type { Store } from "../../domain/ports.ts";
import { Coalescer } from "../../platform/coalesce.ts";

/** The store's reads the index is built from: a version that changes with any webhook, and the active webhooks. */
export type WebhookSource = Pick<Store, "webhooksVersion" | "activeWebhooks">;

/**
 * Events accepted up to this long before the last check still check again. In production an
 * event's acceptance time is the ingest host's clock and the check time the dispatcher's: with
 * the ingest clock behind by up to this much, a webhook created after the check and before the
 * event would otherwise be missed for it. Under load this is one version read per dispatch batch.
 */
const CLOCK_SKEW_MS = 1000;

export class Subscriptions {
  private index = new SubscriptionIndex([]);
  private version = -1;
  private checkedAt = 0;
  /**
   * The reads behind `afterNow`, one at a time: the calls made while one runs (or in the same turn
   * of the event loop) share the next, so under load a version read serves many requests.
   */
  private readonly reads = new Coalescer<undefined, SubscriptionIndex>(
    async (calls) => {
      const index = await this.refresh();
      return calls.map(() => index);
    },
    { serial: true, maxItems: Number.POSITIVE_INFINITY },
  );

  /** @param checkEveryMs how stale `current`'s view may get before the version is checked again. */
  constructor(
    private readonly store: WebhookSource,
    private readonly checkEveryMs = 0,
  ) {}

  /**
   * The index to match events accepted up to `newestAcceptedAt`. The store's version is
   * checked at least every `checkEveryMs`, and always when an event is newer than the last
   * check (less CLOCK_SKEW_MS), so a webhook created before an event was accepted always receives it.
   */
  async current(now: number, newestAcceptedAt: number): Promise<SubscriptionIndex> {
    const fresh = newestAcceptedAt < this.checkedAt - CLOCK_SKEW_MS && now - this.checkedAt < this.checkEveryMs;
    if (fresh) return this.index;
    const index = await this.refresh();
    // Only a check that got its answer counts: marked before the reads, a failed one (the store
    // restarting) made the old index look fresh to the dispatch tried again, and events accepted
    // after the webhooks were created matched none of them and were acknowledged undelivered.
    this.checkedAt = now;
    return index;
  }

  /**
   * The index as of a version read begun after this call: every webhook whose creation (or change)
   * was committed before the call is in it as it is now. Calls share reads (see `reads`); the
   * webhooks are loaded again only when the version changed.
   */
  async afterNow(): Promise<SubscriptionIndex> {
    const [index] = await this.reads.submit([undefined]);
    return index!;
  }

  /** Reads the version, and the active webhooks when it changed (after it: they are at least as new). */
  private async refresh(): Promise<SubscriptionIndex> {
    const version = await this.store.webhooksVersion();
    if (version === this.version) return this.index;
    const index = new SubscriptionIndex(await this.store.activeWebhooks());
    this.index = index;
    this.version = version;
    return index;
  }
}
