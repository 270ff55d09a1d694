/**
 * @module Who subscribes to what, reloaded when any webhook changes: the dispatcher matches events
 * to their webhooks with it, and ingest counts them in its answer (`matched_webhooks`).
 */
import { SubscriptionIndex } from "../../domain/match.ts";
import type { Store } from "../../domain/ports.ts";
import { Coalescer } from "../../platform/coalesce.ts";

/** The store's reads the index is built from: a version that changes with any webhook, and the active webhooks. */
export type WebhookSource = Pick<Store, "webhooksVersion" | "activeWebhooks" | "watchWebhooks">;

/**
 * Events accepted up to this long before the last check still check again. In production an
 * event's acceptance time is the ingest host's clock and the check time the dispatcher's: with
 * the ingest clock behind by up to this much, a webhook created after the check and before the
 * event would otherwise be missed for it. Under load this is one version read per dispatch batch.
 */
const CLOCK_SKEW_MS = 1000;

/**
 * `afterNow`'s reads start at most this often: under load one read answers every request of the
 * last few milliseconds. The event's own append takes as long (a group commit), and runs alongside.
 */
const READ_INTERVAL_MS = 2;

/**
 * Watched (the store sends change notices), `afterNow` reads only after a notice, and at least
 * this often anyway. In production a read is a PostgreSQL round trip: one every 2 ms cost 18
 * CPU-µs per delivery at 3,000 events/s (hookrelay and PostgreSQL, A/B of 2 runs each), 4%.
 */
const WATCHED_RECHECK_MS = 1000;

export class Subscriptions {
  private index = new SubscriptionIndex([]);
  private version = -1;
  private checkedAt = 0;
  /** Notices come (see `watch`): `afterNow` may answer from the index until one does. */
  private watched = false;
  /** A notice came after the last read began. */
  private stale = true;
  private lastReadAt = 0;
  /** The read under way, if any. */
  private inFlight: Promise<SubscriptionIndex> | undefined;
  /**
   * The reads behind `afterNow`, one at a time: the calls made while one runs (or in the same turn
   * of the event loop) share the next, so under load a version read serves many requests.
   */
  private readonly reads = new Coalescer<undefined, SubscriptionIndex>(
    async (calls) => {
      const index = await this.refresh();
      return calls.map(() => index);
    },
    { serial: true, maxItems: Number.POSITIVE_INFINITY, minIntervalMs: READ_INTERVAL_MS },
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
    if (this.watched && !this.stale && this.inFlight === undefined && performance.now() - this.lastReadAt < WATCHED_RECHECK_MS) return this.index;
    // A read under way began after the last notice: its answer is as new as this call needs.
    if (this.watched && !this.stale && this.inFlight) return this.inFlight;
    const [index] = await this.reads.submit([undefined]);
    return index!;
  }

  /**
   * Follows the store's change notices, where it sends them: `afterNow` then answers from the index
   * it has until a notice says a webhook changed (or a second has passed), instead of reading per
   * call. A webhook is counted once its notice has come: PostgreSQL sends it at commit, before the
   * request that created the webhook is answered, so a producer that sends an event after that
   * answer is counted unless the notice takes longer than its round trip. Resolves to what stops the watch.
   */
  async watch(): Promise<() => Promise<void>> {
    if (!this.store.watchWebhooks) return async () => {};
    const stop = await this.store.watchWebhooks(() => {
      this.stale = true;
    });
    this.watched = true;
    return async () => {
      this.watched = false;
      await stop();
    };
  }

  /** Reads the version, and the active webhooks when it changed (after it: they are at least as new). */
  private refresh(): Promise<SubscriptionIndex> {
    const reading = this.read();
    this.inFlight = reading;
    const settled = () => {
      if (this.inFlight === reading) this.inFlight = undefined;
    };
    reading.then(settled, settled);
    return reading;
  }

  private async read(): Promise<SubscriptionIndex> {
    // Before the read: a notice that comes while it runs makes the next call read again.
    this.stale = false;
    this.lastReadAt = performance.now();
    try {
      const version = await this.store.webhooksVersion();
      if (version === this.version) return this.index;
      const index = new SubscriptionIndex(await this.store.activeWebhooks());
      this.index = index;
      this.version = version;
      return index;
    } catch (err) {
      this.stale = true;
      throw err;
    }
  }
}
