/**
 * @module Reads `/metrics` from this process and from the other roles' processes (the configured
 * scrape targets), so the observability role can answer for the whole deployment.
 */
import type { Registry } from "prom-client";
import type { Logger } from "../../platform/logger.ts";
import { mergeSources, parseExposition, renderExposition, type SourceMetrics } from "./exposition.ts";

/** What the last read of one target found. */
export interface TargetStatus {
  url: string;
  instance: string;
  up: boolean;
  /** Why the last read failed; null when it did not. */
  error: string | null;
  /** When it was last read (ms). */
  at: number;
}

export interface ScraperDeps {
  /** This process's own metrics. */
  registry: Registry;
  /** Other roles' `/metrics` URLs. */
  targets: readonly string[];
  log: Logger;
  /** Longest wait for one target. */
  timeoutMs: number;
  now: () => number;
}

/** The instance label of this process's own samples. */
export const LOCAL_INSTANCE = "observability";

function instanceOf(url: string): string {
  if (url.startsWith("unix:")) return url.slice(url.lastIndexOf("/") + 1).replace(/\.sock$/, "");
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export class Scraper {
  private readonly status = new Map<string, TargetStatus>();

  constructor(private readonly deps: ScraperDeps) {}

  /** Every source read now: this process first, then each target that answered. */
  async read(): Promise<SourceMetrics[]> {
    const local: SourceMetrics = { instance: LOCAL_INSTANCE, families: parseExposition(await this.deps.registry.metrics()) };
    const remote = await Promise.all(this.deps.targets.map((url) => this.readTarget(url)));
    return [local, ...remote.filter((source): source is SourceMetrics => source !== null)];
  }

  /**
   * One exposition for the deployment. With no targets it is this process's own, unchanged;
   * with targets every sample carries the `instance` it came from.
   */
  async exposition(): Promise<string> {
    if (this.deps.targets.length === 0) return this.deps.registry.metrics();
    return renderExposition(mergeSources(await this.read()));
  }

  targets(): TargetStatus[] {
    return this.deps.targets.map((url) => this.status.get(url) ?? { url, instance: instanceOf(url), up: false, error: "not read yet", at: 0 });
  }

  private async readTarget(url: string): Promise<SourceMetrics | null> {
    const instance = instanceOf(url);
    const at = this.deps.now();
    try {
      // `unix:<path>`: an embedded shard's socket (src/adapters/sqlite/shard-link.ts).
      const socket = url.startsWith("unix:") ? url.slice("unix:".length) : undefined;
      const response = await fetch(socket ? "http://shard/metrics" : url, { signal: AbortSignal.timeout(this.deps.timeoutMs), redirect: "manual", unix: socket });
      if (!response.ok) throw new Error(`answered ${response.status}`);
      const families = parseExposition(await response.text());
      this.mark({ url, instance, up: true, error: null, at });
      return { instance, families };
    } catch (err) {
      const error = (err as Error).name === "TimeoutError" ? `no answer within ${this.deps.timeoutMs} ms` : (err as Error).message;
      this.mark({ url, instance, up: false, error, at });
      return null;
    }
  }

  private mark(next: TargetStatus): void {
    const previous = this.status.get(next.url);
    if (previous && previous.up !== next.up) {
      if (next.up) this.deps.log.info({ target: next.url }, "scrape target is back");
      else this.deps.log.warn({ target: next.url, reason: next.error }, "scrape target is down");
    } else if (!previous && !next.up) this.deps.log.warn({ target: next.url, reason: next.error }, "scrape target is down");
    this.status.set(next.url, next);
  }
}
