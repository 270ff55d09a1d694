/**
 * @module Notices of webhook changes over PostgreSQL's LISTEN/NOTIFY: each committed change sends
 * its new `webhooks_version` on one channel, and every process that watches (ingest, for its
 * answers' `matched_webhooks`) reads its webhooks again when one comes, instead of asking the
 * version for every event.
 *
 * A change is answered only once this process has its own notice back (at most a second): by then
 * PostgreSQL has sent it to every listener, so an event sent after the answer finds its ingest
 * process told, unless that process is slower to read its socket than the producer is to send.
 */
import type { Sql } from "./client.ts";

/** One channel for the database: another schema's changes only cost the watchers a read. */
const CHANNEL = "hookrelay_webhooks";
/** How long a change waits for its notice to come back before it is answered anyway. */
const ECHO_WAIT_MS = 1000;

export class WebhookNotices {
  private readonly watchers = new Set<() => void>();
  private listening: ReturnType<Sql["listen"]> | undefined;
  /** The newest version a notice has said. */
  private heard = 0;
  private waiting: { version: number; done: () => void }[] = [];

  constructor(private readonly sql: Sql) {}

  /** The statement that sends `version`'s notice when the transaction commits (never if it rolls back). */
  send(tx: Sql, version: number) {
    return tx`SELECT pg_notify(${CHANNEL}, ${String(version)})`;
  }

  /**
   * Calls `onChange` after every notice, and when the LISTEN connection (re)connects (notices may
   * have been missed meanwhile). Resolves once listening, to what stops it.
   */
  async watch(onChange: () => void): Promise<() => Promise<void>> {
    this.watchers.add(onChange);
    this.listening ??= this.sql.listen(
      CHANNEL,
      (payload) => this.heardOf(Number(payload) || 0),
      () => this.heardOf(Number.POSITIVE_INFINITY),
    );
    const { unlisten } = await this.listening;
    return async () => {
      this.watchers.delete(onChange);
      if (this.watchers.size > 0) return;
      this.listening = undefined;
      this.heardOf(Number.POSITIVE_INFINITY);
      await unlisten();
    };
  }

  /** Resolves once this process has heard `version`'s notice (at once when it does not watch), or after ECHO_WAIT_MS. */
  async untilHeard(version: number): Promise<void> {
    if (!this.listening || this.heard >= version) return;
    let timer: Timer | undefined;
    await new Promise<void>((resolve) => {
      this.waiting.push({ version, done: resolve });
      timer = setTimeout(resolve, ECHO_WAIT_MS);
    });
    clearTimeout(timer);
  }

  /** A notice of `version` (infinity: a (re)connect, after which nothing can be assumed heard or missed). */
  private heardOf(version: number): void {
    for (const watcher of this.watchers) watcher();
    if (Number.isFinite(version)) this.heard = Math.max(this.heard, version);
    const due = this.waiting.filter((w) => w.version <= version || w.version <= this.heard);
    this.waiting = this.waiting.filter((w) => !due.includes(w));
    for (const w of due) w.done();
  }
}
