/**
 * @module The deployment's recent past, from periodic reads of every role's metrics: rates,
 * latency quantiles and gauges now, and a short history for the dashboard's charts. Counters
 * are read per series, so a role that restarts (its counters back at 0) does not read as a drop.
 */
import type { Family, SourceMetrics } from "./exposition.ts";

const COUNTERS = {
  delivered: { family: "webhook_delivery_attempts_total", where: { outcome: "success" } },
  failed: { family: "webhook_delivery_attempts_total", where: { outcome: "failure" } },
  retries: { family: "webhook_retries_scheduled_total", where: {} },
  dead: { family: "webhook_dead_letters_total", where: {} },
  ingested: { family: "webhook_events_ingested_total", where: { outcome: "accepted" } },
} as const;
const GAUGES = { lag: "webhook_event_log_lag", retry_queue: "webhook_retry_queue_depth", in_flight: "webhook_deliveries_in_flight" } as const;
const HISTOGRAMS = { latency: "webhook_delivery_latency_seconds", duration: "webhook_delivery_duration_seconds" } as const;

type CounterName = keyof typeof COUNTERS;
type GaugeName = keyof typeof GAUGES;
type HistogramName = keyof typeof HISTOGRAMS;

/** One series' cumulative value, the process it came from, and (a histogram bucket's) upper bound. */
interface Reading {
  instance: string;
  value: number;
  le: number;
}
/** Readings by series (name and labels, instance included). */
type Series = Map<string, Reading>;

interface Snapshot {
  at: number;
  instances: Set<string>;
  counters: Record<CounterName, Series>;
  gauges: Record<GaugeName, number>;
  /** `_bucket` samples by series. */
  buckets: Record<HistogramName, Series>;
}

export interface Quantiles {
  p50: number | null;
  p99: number | null;
}

/** One chart point: what happened between two reads. */
export interface Point {
  /** End of the interval (ms). */
  t: number;
  delivered_per_second: number;
  failed_per_second: number;
  retries_per_second: number;
  dead_per_second: number;
  ingested_per_second: number;
  /** Of the attempts in the interval, the share that succeeded; null when there were none. */
  attempt_success_ratio: number | null;
  latency_p50_seconds: number | null;
  latency_p99_seconds: number | null;
  event_log_lag: number;
  retry_queue_depth: number;
}

export interface Now {
  /** Per second over the last `rateWindowMs`. */
  rates: Record<`${CounterName}_per_second`, number>;
  /** Since each process started, summed over the processes read. */
  totals: Record<CounterName, number>;
  /** From event accepted to delivered, over the whole history kept. */
  latency_seconds: Quantiles;
  /** One HTTP attempt, over the whole history kept. */
  attempt_duration_seconds: Quantiles;
  event_log_lag: number;
  deliveries_in_flight: number;
  window_seconds: number;
  /** When the newest read was taken (ms); null before the first. */
  sampled_at: number | null;
}

/** Of the attempts counted, the share that succeeded; null when there were none. */
export function successShare(delivered: number, failed: number): number | null {
  return delivered + failed > 0 ? delivered / (delivered + failed) : null;
}

function key(name: string, labels: Record<string, string>): string {
  return `${name}${JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)))}`;
}

function matches(labels: Record<string, string>, where: Record<string, string>): boolean {
  return Object.entries(where).every(([k, v]) => labels[k] === v);
}

function familiesByName(sources: SourceMetrics[]): Map<string, { instance: string; family: Family }[]> {
  const byName = new Map<string, { instance: string; family: Family }[]>();
  for (const source of sources)
    for (const family of source.families) {
      const list = byName.get(family.name) ?? [];
      list.push({ instance: source.instance, family });
      byName.set(family.name, list);
    }
  return byName;
}

function snapshotOf(sources: SourceMetrics[], at: number): Snapshot {
  const byName = familiesByName(sources);
  const counters = {} as Record<CounterName, Series>;
  for (const [name, { family, where }] of Object.entries(COUNTERS) as [CounterName, (typeof COUNTERS)[CounterName]][]) {
    const series: Series = new Map();
    for (const { instance, family: f } of byName.get(family) ?? [])
      for (const s of f.samples) if (s.name === family && matches(s.labels, where)) series.set(key(s.name, { ...s.labels, instance }), { instance, value: s.value, le: Infinity });
    counters[name] = series;
  }
  const gauges = {} as Record<GaugeName, number>;
  for (const [name, family] of Object.entries(GAUGES) as [GaugeName, string][])
    gauges[name] = (byName.get(family) ?? []).reduce((sum, { family: f }) => sum + f.samples.reduce((s, x) => s + x.value, 0), 0);
  const buckets = {} as Record<HistogramName, Series>;
  for (const [name, family] of Object.entries(HISTOGRAMS) as [HistogramName, string][]) {
    const series: Series = new Map();
    for (const { instance, family: f } of byName.get(family) ?? [])
      for (const s of f.samples) {
        if (s.name !== `${family}_bucket` || s.labels.le === undefined) continue;
        const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
        series.set(key(s.name, { ...s.labels, instance }), { instance, value: s.value, le });
      }
    buckets[name] = series;
  }
  return { at, instances: new Set(sources.map((s) => s.instance)), counters, gauges, buckets };
}

/**
 * How much each series grew from `before` to `after`. A series lower than before was reset (its
 * process restarted): all of its value is new. A series not there before counts whole only when
 * its process was read before too (a new label value); a process read for the first time adds
 * nothing, or its whole past would land in one interval.
 */
function growth(before: Series, after: Series, known: Set<string>): { le: number; value: number }[] {
  const grown: { le: number; value: number }[] = [];
  for (const [k, { instance, value, le }] of after) {
    const previous = before.get(k)?.value;
    if (previous === undefined) grown.push({ le, value: known.has(instance) ? value : 0 });
    else grown.push({ le, value: value >= previous ? value - previous : value });
  }
  return grown;
}

function total(values: Iterable<{ value: number }>): number {
  let sum = 0;
  for (const { value } of values) sum += value;
  return sum;
}

/** Prometheus' histogram_quantile over cumulative bucket counts. */
export function quantile(q: number, buckets: { le: number; count: number }[]): number | null {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const count = sorted.at(-1)?.count ?? 0;
  if (count <= 0) return null;
  const rank = q * count;
  let lower = 0;
  let below = 0;
  for (const bucket of sorted) {
    if (bucket.count >= rank) {
      if (bucket.le === Infinity) return lower;
      const inBucket = bucket.count - below;
      return inBucket <= 0 ? bucket.le : lower + ((bucket.le - lower) * (rank - below)) / inBucket;
    }
    lower = bucket.le;
    below = bucket.count;
  }
  return lower;
}

/**
 * The deployment's recent activity: the last reads of every role's metrics, from which it gives
 * rates, latency quantiles and gauges now (`now`) and a short history for the charts (`series`).
 */
export class RecentActivity {
  private readonly snapshots: Snapshot[] = [];

  /**
   * @param historyLength reads kept (the charts' width)
   * @param rateWindowMs the span "now" rates are taken over
   */
  constructor(
    private readonly historyLength: number,
    private readonly rateWindowMs: number,
  ) {}

  record(sources: SourceMetrics[], at: number): void {
    this.snapshots.push(snapshotOf(sources, at));
    if (this.snapshots.length > this.historyLength + 1) this.snapshots.shift();
  }

  series(): Point[] {
    const points: Point[] = [];
    for (let i = 1; i < this.snapshots.length; i++) points.push(this.point(this.snapshots[i - 1]!, this.snapshots[i]!));
    return points;
  }

  now(): Now {
    const latest = this.snapshots.at(-1);
    const oldest = this.snapshots[0];
    const windowStart = latest ? (this.snapshots.findLast((s) => s.at <= latest.at - this.rateWindowMs) ?? oldest) : undefined;
    const rates = {} as Now["rates"];
    const totals = {} as Now["totals"];
    for (const name of Object.keys(COUNTERS) as CounterName[]) {
      totals[name] = latest ? total(latest.counters[name].values()) : 0;
      rates[`${name}_per_second`] = latest && windowStart && windowStart !== latest ? this.rate(windowStart, latest, name) : 0;
    }
    const spanned = latest && oldest && oldest !== latest;
    return {
      rates,
      totals,
      latency_seconds: spanned ? this.quantiles(oldest, latest, "latency") : { p50: null, p99: null },
      attempt_duration_seconds: spanned ? this.quantiles(oldest, latest, "duration") : { p50: null, p99: null },
      event_log_lag: latest?.gauges.lag ?? 0,
      deliveries_in_flight: latest?.gauges.in_flight ?? 0,
      window_seconds: spanned ? (latest.at - oldest.at) / 1000 : 0,
      sampled_at: latest?.at ?? null,
    };
  }

  private rate(before: Snapshot, after: Snapshot, name: CounterName): number {
    const seconds = (after.at - before.at) / 1000;
    return seconds > 0 ? total(growth(before.counters[name], after.counters[name], before.instances)) / seconds : 0;
  }

  private quantiles(before: Snapshot, after: Snapshot, name: HistogramName): Quantiles {
    const byBound = new Map<number, number>();
    for (const { le, value } of growth(before.buckets[name], after.buckets[name], before.instances)) byBound.set(le, (byBound.get(le) ?? 0) + value);
    const buckets = [...byBound].map(([le, count]) => ({ le, count }));
    return { p50: quantile(0.5, buckets), p99: quantile(0.99, buckets) };
  }

  private point(before: Snapshot, after: Snapshot): Point {
    const delivered = this.rate(before, after, "delivered");
    const failed = this.rate(before, after, "failed");
    const latency = this.quantiles(before, after, "latency");
    return {
      t: after.at,
      delivered_per_second: delivered,
      failed_per_second: failed,
      retries_per_second: this.rate(before, after, "retries"),
      dead_per_second: this.rate(before, after, "dead"),
      ingested_per_second: this.rate(before, after, "ingested"),
      attempt_success_ratio: successShare(delivered, failed),
      latency_p50_seconds: latency.p50,
      latency_p99_seconds: latency.p99,
      event_log_lag: after.gauges.lag,
      retry_queue_depth: after.gauges.retry_queue,
    };
  }
}
