/** @module Prometheus metrics: one registry per process, made in the composition root and passed down. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export interface Metrics {
  registry: Registry;
  deliveryAttempts: Counter<"outcome">;
  deliverySuccess: Counter;
  deliveryFailures: Counter<"reason">;
  deliveryDuration: Histogram<"outcome">;
  deliveryLatency: Histogram;
  deadLetters: Counter;
  retriesScheduled: Counter;
  httpRequests: Counter<"role" | "method" | "route" | "status">;
  httpDuration: Histogram<"role" | "method" | "route">;
  eventsIngested: Counter<"outcome">;
  kafkaProduced: Counter;
  inFlight: Gauge;
  /**
   * Where the lag, partition and retry-depth gauges come from, set by the composition root once the
   * roles exist. Read at each scrape, not on a timer: a process at rest asks its backends nothing.
   */
  sources: GaugeSources;
}

export interface GaugeSources {
  eventLogLag?: () => Promise<number>;
  assignedPartitions?: () => number;
  retryQueueDepth?: () => Promise<number>;
  /** A source that fails: the gauge keeps its last value and the scrape still answers. */
  onError?: (err: unknown, gauge: string) => void;
}

/** A gauge read from `sources[key]` when scraped (unset: it stays 0); nothing else sets it. */
function sourcedGauge(sources: GaugeSources, key: Exclude<keyof GaugeSources, "onError">, name: string, help: string, registers: Registry[]): Gauge {
  return new Gauge({
    name,
    help,
    registers,
    async collect() {
      const read = sources[key];
      if (!read) return;
      try {
        this.set(await read());
      } catch (err) {
        sources.onError?.(err, name);
      }
    },
  });
}

/**
 * prom-client's heap-space gauges call v8.getHeapSpaceStatistics(), which Bun answers by walking
 * the heap: 200 ms with the event loop blocked at a 160 MiB heap, on every scrape. The process's
 * heap size and use stay (hookrelay_nodejs_heap_size_*_bytes, from process.memoryUsage()).
 */
export const HEAP_WALKING_METRICS = ["total", "used", "available"].map((kind) => `hookrelay_nodejs_heap_space_size_${kind}_bytes`);

/** The metric names the dashboards and alerts use (docs/operations.md, "Health and metrics") plus queue depth and lag gauges. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  // The loop-lag monitor's timer every second, not prom-client's 10 ms: at 10 ms its wake-ups alone
  // cost each idle process 0.4% of a core (3.6 of 4.2 CPU-ms/s measured), at 100 ms 0.13%, at 1 s
  // 0.04%; lag is still measured to the millisecond, once a second.
  collectDefaultMetrics({ register: registry, prefix: "hookrelay_", eventLoopMonitoringPrecision: 1000 });
  for (const name of HEAP_WALKING_METRICS) registry.removeSingleMetric(name);
  const registers = [registry];
  const sources: GaugeSources = {};
  sourcedGauge(sources, "eventLogLag", "webhook_event_log_lag", "Events appended but not yet finished by the dispatchers", registers);
  sourcedGauge(sources, "assignedPartitions", "webhook_event_log_partitions_assigned", "Event log partitions this dispatcher owns", registers);
  sourcedGauge(sources, "retryQueueDepth", "webhook_retry_queue_depth", "Deliveries waiting on the retry schedule", registers);
  return {
    registry,
    sources,
    deliveryAttempts: new Counter({
      name: "webhook_delivery_attempts_total",
      help: "Webhook delivery attempts, by outcome (success, failure)",
      labelNames: ["outcome"],
      registers,
    }),
    deliverySuccess: new Counter({ name: "webhook_delivery_success_total", help: "Attempts answered 2xx", registers }),
    deliveryFailures: new Counter({
      name: "webhook_delivery_failures_total",
      help: "Failed attempts, by reason (status, timeout, network, blocked)",
      labelNames: ["reason"],
      registers,
    }),
    deliveryDuration: new Histogram({
      name: "webhook_delivery_duration_seconds",
      help: "Duration of one webhook HTTP attempt",
      labelNames: ["outcome"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    deliveryLatency: new Histogram({
      name: "webhook_delivery_latency_seconds",
      help: "From event accepted to delivery succeeded",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120, 600, 3600],
      registers,
    }),
    deadLetters: new Counter({ name: "webhook_dead_letters_total", help: "Deliveries that ran out of retries", registers }),
    retriesScheduled: new Counter({ name: "webhook_retries_scheduled_total", help: "Retries put on the schedule", registers }),
    httpRequests: new Counter({
      name: "webhook_http_requests_total",
      help: "HTTP requests served, by role, method, route and status",
      labelNames: ["role", "method", "route", "status"],
      registers,
    }),
    httpDuration: new Histogram({
      name: "webhook_http_request_duration_seconds",
      help: "Time to answer one HTTP request, by role, method and route",
      labelNames: ["role", "method", "route"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    eventsIngested: new Counter({
      name: "webhook_events_ingested_total",
      help: "Events received, by outcome (accepted, duplicate)",
      labelNames: ["outcome"],
      registers,
    }),
    kafkaProduced: new Counter({ name: "webhook_kafka_messages_produced_total", help: "Messages produced to Kafka", registers }),
    inFlight: new Gauge({ name: "webhook_deliveries_in_flight", help: "Webhook requests in flight in this process", registers }),
  };
}
