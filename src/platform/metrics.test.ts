import { describe, expect, test } from "bun:test";
import { createMetrics, HEAP_WALKING_METRICS } from "./metrics.ts";

describe("metrics registry", () => {
  test("leaves out the heap-space gauges, whose collection walks Bun's heap, and keeps the cheap process metrics", async () => {
    const { registry } = createMetrics();
    const names = registry.getMetricsAsArray().map((m) => (m as unknown as { name: string }).name);
    for (const name of HEAP_WALKING_METRICS) expect(names).not.toContain(name);
    for (const name of ["hookrelay_nodejs_heap_size_used_bytes", "hookrelay_process_resident_memory_bytes", "hookrelay_process_cpu_seconds_total", "hookrelay_nodejs_eventloop_lag_p99_seconds"])
      expect(names).toContain(name);
    expect(await registry.metrics()).not.toContain("heap_space_size");
  });
});
