import { describe, expect, test } from "bun:test";
import { parseExposition } from "./exposition.ts";
import { quantile, RecentActivity } from "./recent-activity.ts";

const source = (instance: string, text: string) => ({ instance, families: parseExposition(text) });
const attempts = (success: number, failure: number) =>
  `# TYPE webhook_delivery_attempts_total counter\nwebhook_delivery_attempts_total{outcome="success"} ${success}\nwebhook_delivery_attempts_total{outcome="failure"} ${failure}\n`;
const latency = (le01: number, le1: number, inf: number) =>
  `# TYPE webhook_delivery_latency_seconds histogram\nwebhook_delivery_latency_seconds_bucket{le="0.1"} ${le01}\nwebhook_delivery_latency_seconds_bucket{le="1"} ${le1}\nwebhook_delivery_latency_seconds_bucket{le="+Inf"} ${inf}\n`;

describe("histogram quantiles", () => {
  test("interpolate inside the bucket like Prometheus' histogram_quantile", () => {
    const buckets = [
      { le: 0.1, count: 50 },
      { le: 1, count: 100 },
      { le: Infinity, count: 100 },
    ];
    expect(quantile(0.5, buckets)).toBeCloseTo(0.1);
    expect(quantile(0.75, buckets)).toBeCloseTo(0.55);
    expect(quantile(0.5, [{ le: Infinity, count: 0 }])).toBeNull();
    // Everything beyond the last finite bound: the bound is the best answer there is.
    expect(
      quantile(0.99, [
        { le: 1, count: 0 },
        { le: Infinity, count: 10 },
      ]),
    ).toBe(1);
  });
});

describe("RecentActivity", () => {
  test("rates and the chart's points come from counter growth over time, summed over processes", () => {
    const activity = new RecentActivity(10, 10_000);
    activity.record([source("a", attempts(0, 0)), source("b", attempts(0, 0))], 0);
    activity.record([source("a", attempts(10, 2)), source("b", attempts(10, 0))], 2_000);
    activity.record([source("a", attempts(30, 2)), source("b", attempts(30, 4))], 4_000);
    const points = activity.series();
    expect(points.map((p) => p.delivered_per_second)).toEqual([10, 20]);
    expect(points.map((p) => p.failed_per_second)).toEqual([1, 2]);
    expect(points[1]!.attempt_success_ratio).toBeCloseTo(40 / 44);
    const now = activity.now();
    expect(now.rates.delivered_per_second).toBe(15);
    expect(now.totals.delivered).toBe(60);
  });

  test("a process that restarts does not read as a drop, and one read for the first time adds nothing", () => {
    const activity = new RecentActivity(10, 10_000);
    activity.record([source("a", attempts(100, 0))], 0);
    activity.record([source("a", attempts(5, 0)), source("late", attempts(1_000, 0))], 1_000);
    expect(activity.series()[0]!.delivered_per_second).toBe(5);
  });

  test("latency quantiles come from the buckets' growth, not their totals since start", () => {
    const activity = new RecentActivity(10, 10_000);
    activity.record([source("a", latency(1000, 1000, 1000))], 0);
    activity.record([source("a", latency(1000, 1010, 1010))], 1_000);
    const now = activity.now();
    expect(now.latency_seconds.p50).toBeCloseTo(0.55);
    expect(now.latency_seconds.p99).toBeGreaterThan(0.9);
    expect(activity.series()[0]!.latency_p50_seconds).toBeCloseTo(0.55);
  });

  test("keeps only the history it was given room for", () => {
    const activity = new RecentActivity(3, 10_000);
    for (let i = 0; i < 10; i++) activity.record([source("a", attempts(i, 0))], i * 1000);
    expect(activity.series().map((p) => p.t)).toEqual([7000, 8000, 9000]);
  });
});
