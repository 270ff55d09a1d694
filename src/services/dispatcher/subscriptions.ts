/** @module The dispatcher's view of who subscribes to what, reloaded when any webhook changes. */
import { SubscriptionIndex } from "../../domain/match.ts";
import type { Store } from "../../domain/ports.ts";

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
   * check, so a webhook created before an event was accepted always receives it.
   */
  async current(now: number, newestAcceptedAt: number): Promise<SubscriptionIndex> {
    const fresh = newestAcceptedAt < this.checkedAt && now - this.checkedAt < this.checkEveryMs;
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
