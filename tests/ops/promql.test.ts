// The checker behind tests/ops/metrics.test.ts: it must find the metric and label names of real
// PromQL, skip everything that is not one, and catch a misspelled name (a check that cannot fail
// would prove nothing).
import { describe, expect, it } from "bun:test";
import { checkQuery, hookrelayCatalog, parsePromQL } from "./lib/promql.ts";
import { checkQueries, dashboardQueries } from "./lib/queries.ts";
import { readText } from "./lib/repo.ts";

const catalog = hookrelayCatalog();
const TARGET = ["job", "instance"];

describe("PromQL names", () => {
  it("finds metrics and their labels, and skips functions, keywords, durations, numbers and strings", () => {
    const parts = parsePromQL(`
      sum by (role, status) (rate(webhook_http_requests_total{job=~"gateway|ingest", status=~"5.."}[5m] offset 1h))
        / ignoring(status) group_left
      sum by (role) (increase(webhook_http_requests_total[$__rate_interval] @ end()))
      > bool 0.05 and on(job) up == 1 or vector(0) unless histogram_quantile(0.99, sum without (outcome) (rate(webhook_delivery_duration_seconds_bucket[1h:5m])))
      + 1e3 * -Inf # a comment naming not_a_metric
    `);
    expect(parts.selectors).toEqual([
      { metric: "webhook_http_requests_total", labels: ["job", "status"] },
      { metric: "webhook_http_requests_total", labels: [] },
      { metric: "up", labels: [] },
      { metric: "webhook_delivery_duration_seconds_bucket", labels: [] },
    ]);
    expect(parts.grouping).toEqual(["role", "status", "status", "role", "job", "outcome"]);
  });

  it("reads `sum(x) by (l)`, aggregation keywords before their parenthesis, strings with braces and Grafana variables", () => {
    const parts = parsePromQL(`topk($n, sum(rate(webhook_events_ingested_total{outcome!="a{b}", job=~"\${job:regex}"}[\${__range}])) by (outcome))`);
    expect(parts.selectors).toEqual([{ metric: "webhook_events_ingested_total", labels: ["outcome", "job"] }]);
    expect(parts.grouping).toEqual(["outcome"]);
    expect(parsePromQL("count without (instance) (up)").selectors).toEqual([{ metric: "up", labels: [] }]);
  });

  it("reads selectors without a metric name and Prometheus 3's quoted names", () => {
    expect(parsePromQL(`{job="gateway"} or {"webhook.odd", "a.b"="x"} or up{"c d"!~"y"}`).selectors).toEqual([
      { metric: "", labels: ["job"] },
      { metric: "webhook.odd", labels: ["a.b"] },
      { metric: "up", labels: ["c d"] },
    ]);
    expect(parsePromQL(`sum by ("a.b", c) (up) / on("d") group_right(e) up`).grouping).toEqual(["a.b", "c", "d", "e"]);
  });

  it("reports a syntax error with its offset instead of reading what it can", () => {
    expect(() => parsePromQL("sum(rate(webhook_http_requests_total[5m])")).toThrow("syntax error at offset 41 (at the end)");
    expect(() => parsePromQL("up up")).toThrow('syntax error at offset 3 (near "up")');
    expect(() => parsePromQL(`up{job="gateway}`)).toThrow("unterminated string at offset 7");
    expect(() => parsePromQL(`up == "x`)).toThrow("unterminated string at offset 6");
    expect(() => parsePromQL(`up{"other"}`)).toThrow("metric name given twice at offset 3");
    expect(checkQuery("rate(up[5m]", catalog, TARGET)).toEqual(["cannot read the expression: syntax error at offset 11 (at the end) in: rate(up[5m]"]);
  });

  it("accepts hookrelay's own names, histogram suffixes and up", () => {
    expect(checkQuery(`histogram_quantile(0.9, sum by (le, outcome) (rate(webhook_delivery_duration_seconds_bucket{outcome="success"}[5m])))`, catalog, TARGET)).toEqual([]);
    expect(checkQuery("rate(webhook_delivery_latency_seconds_sum[5m]) / rate(webhook_delivery_latency_seconds_count[5m])", catalog, TARGET)).toEqual([]);
    expect(checkQuery(`up{job="dispatcher"} == 0`, catalog, TARGET)).toEqual([]);
    expect(checkQuery("rate(hookrelay_process_cpu_seconds_total[1m])", catalog, TARGET)).toEqual([]);
  });

  it("names a misspelled metric, a label the metric does not have, a bad grouping label and a bare histogram name", () => {
    expect(checkQuery("sum by (outcome) (rate(webhook_delivery_attempt_total[5m]))", catalog, TARGET)).toEqual([
      "metric webhook_delivery_attempt_total is not exported by hookrelay (did you mean webhook_delivery_attempts_total?)",
    ]);
    expect(checkQuery(`webhook_delivery_attempts_total{outcom="failure"}`, catalog, TARGET)).toEqual([
      "metric webhook_delivery_attempts_total has no label outcom (it has outcome; targets add job, instance)",
    ]);
    expect(checkQuery(`sum by (rol) (rate(webhook_http_requests_total[5m]))`, catalog, TARGET)).toEqual(["groups by rol, which none of its metrics (webhook_http_requests_total) carries"]);
    // A classic histogram has no series under its bare name: such a panel would stay empty.
    expect(checkQuery("rate(webhook_delivery_duration_seconds[5m])", catalog, TARGET)[0]).toContain("webhook_delivery_duration_seconds is not exported");
    expect(checkQuery("vector(1)", catalog, TARGET)).toEqual(["uses no metric at all: vector(1)"]);
  });

  it("finds a misspelled metric in a copy of the overview dashboard, naming the panel", () => {
    const file = "docker/grafana/dashboards/hookrelay-overview.json";
    const dashboard = JSON.parse(readText(file));
    expect(checkQueries(dashboardQueries(dashboard, file, new Set(["prometheus"])), catalog)).toEqual([]);
    const copy = structuredClone(dashboard);
    const panel = copy.panels.find((p: any) => p.title === "Delivery attempts / s");
    panel.targets[0].expr = panel.targets[0].expr.replace("webhook_delivery_attempts_total", "webhook_delivery_atempts_total");
    const legend = copy.panels.find((p: any) => p.title === "Failed attempts / s by reason");
    legend.targets[0].legendFormat = "{{reasn}}";
    expect(checkQueries(dashboardQueries(copy, file, new Set(["prometheus"])), catalog)).toEqual([
      `${file} › panel "Delivery attempts / s" › A: metric webhook_delivery_atempts_total is not exported by hookrelay (did you mean webhook_delivery_attempts_total?)`,
      `${file} › panel "Failed attempts / s by reason" › A: legend names {{reasn}}, a label its result does not carry`,
    ]);
  });
});
