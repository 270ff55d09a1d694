/** @module The dispatcher's view of who subscribes to what, reloaded when any webhook changes. */
import { SubscriptionIndex } from "../../domain/match.ts";
import type { Store } from "../../domain/ports.ts";

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

  /** @param checkEveryMs how stale the view may get before the version is checked again. */
  constructor(
    private readonly store: Store,
    private readonly checkEveryMs: number,
  ) {}

  /**
   * The index to match events accepted up to `newestAcceptedAt`. The store's version is
   * checked at least every `checkEveryMs`, and always when an event is newer than the last
   * check (less CLOCK_SKEW_MS), so a webhook created before an event was accepted always receives it.
   */
  async current(now: number, newestAcceptedAt: number): Promise<SubscriptionIndex> {
    const fresh = newestAcceptedAt < this.checkedAt - CLOCK_SKEW_MS && now - this.checkedAt < this.checkEveryMs;
    if (fresh) return this.index;
    const version = await this.store.webhooksVersion();
    if (version !== this.version) {
      this.index = new SubscriptionIndex(await this.store.activeWebhooks());
      this.version = version;
    }
    // Only a check that got its answer counts: marked before the reads, a failed one (the store
    // restarting) made the old index look fresh to the dispatch tried again, and events accepted
    // after the webhooks were created matched none of them and were acknowledged undelivered.
    this.checkedAt = now;
    return this.index;
  }
}
