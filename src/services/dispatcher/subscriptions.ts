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

  /** The current index; checks the store's version at most every `checkEveryMs`. */
  async current(now: number, force = false): Promise<SubscriptionIndex> {
    if (!force && now - this.checkedAt < this.checkEveryMs) return this.index;
    this.checkedAt = now;
    const version = await this.store.webhooksVersion();
    if (version !== this.version) {
      this.index = new SubscriptionIndex(await this.store.activeWebhooks());
      this.version = version;
    }
    return this.index;
  }
}
