/**
 * @module The metric names and label names a PromQL expression uses, and a check of them against
 * the series hookrelay exports (its real prom-client registry) plus Prometheus' `up`.
 *
 * Not a full PromQL parser: a tokenizer that knows what is not a metric (function calls,
 * aggregation operators, keywords, numbers, durations, strings, `[...]` ranges, label names in
 * `{...}` and in `by/without/on/ignoring/group_left/group_right (...)`), which is all the check needs.
 */
import { createMetrics } from "../../../src/platform/metrics.ts";

/** One `name{label=...}` selector: the metric and the label names it matches on. */
export interface Selector {
  metric: string;
  labels: string[];
}

export interface QueryParts {
  selectors: Selector[];
  /** Label names of by/without/on/ignoring/group_left/group_right lists. */
  grouping: string[];
}

const AGGREGATIONS = new Set([
  "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio",
]);
const GROUPING = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);
const KEYWORDS = new Set(["bool", "and", "or", "unless", "offset", "atan2", "inf", "nan"]);
const IDENT = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const NUMBER = /(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?[a-zA-Z0-9_.]*)/y;

/** Grafana's template variables (`$__rate_interval`, `$job`, `${job:regex}`, `[[job]]`) stand for a value. */
export function withoutTemplateVariables(expr: string): string {
  return expr.replace(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[^\]]*\]\]/g, "1");
}

function skipString(text: string, i: number): number {
  const quote = text[i]!;
  for (let j = i + 1; j < text.length; j++) {
    if (quote !== "`" && text[j] === "\\") j++;
    else if (text[j] === quote) return j + 1;
  }
  throw new Error(`unterminated string from offset ${i} in: ${text}`);
}

function skipSpace(text: string, i: number): number {
  while (i < text.length) {
    if (/\s/.test(text[i]!)) i++;
    else if (text[i] === "#") while (i < text.length && text[i] !== "\n") i++;
    else break;
  }
  return i;
}

/** Label names inside `{...}` starting at `i` (the `{`); returns them and the offset after `}`. */
function readMatchers(text: string, i: number): { labels: string[]; end: number } {
  const labels: string[] = [];
  let j = i + 1;
  while (j < text.length) {
    j = skipSpace(text, j);
    const c = text[j];
    if (c === "}") return { labels, end: j + 1 };
    if (c === '"' || c === "'" || c === "`") {
      j = skipString(text, j);
      continue;
    }
    if (c === ",") {
      j++;
      continue;
    }
    IDENT.lastIndex = j;
    const m = IDENT.exec(text);
    if (m) {
      labels.push(m[0]);
      j += m[0].length;
      continue;
    }
    j++; // =, !=, =~, !~
  }
  throw new Error(`unterminated {...} from offset ${i} in: ${text}`);
}

/** Label names in `(a, b)` starting at `i` (the `(`). */
function readLabelList(text: string, i: number): { labels: string[]; end: number } {
  const close = text.indexOf(")", i);
  if (close < 0) throw new Error(`unterminated label list from offset ${i} in: ${text}`);
  const labels = text.slice(i + 1, close).split(",").map((s) => s.trim()).filter(Boolean);
  return { labels, end: close + 1 };
}

/** The selectors and grouping labels of one PromQL expression. */
export function parsePromQL(input: string): QueryParts {
  const text = withoutTemplateVariables(input);
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  let i = 0;
  let last: Selector | undefined; // the metric just read, for a `{...}` right after it
  while (i < text.length) {
    i = skipSpace(text, i);
    if (i >= text.length) break;
    const c = text[i]!;
    if (c === '"' || c === "'" || c === "`") {
      i = skipString(text, i);
      last = undefined;
      continue;
    }
    if (c === "{") {
      const { labels, end } = readMatchers(text, i);
      if (last) last.labels.push(...labels);
      else selectors.push({ metric: "", labels });
      i = end;
      last = undefined;
      continue;
    }
    if (c === "[") {
      // A range or subquery: durations only.
      const close = text.indexOf("]", i);
      if (close < 0) throw new Error(`unterminated [...] from offset ${i} in: ${input}`);
      i = close + 1;
      last = undefined;
      continue;
    }
    if (/[0-9.]/.test(c)) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      i += m && m[0].length > 0 ? m[0].length : 1;
      last = undefined;
      continue;
    }
    IDENT.lastIndex = i;
    const m = IDENT.exec(text);
    if (!m) {
      i++;
      last = undefined;
      continue;
    }
    const word = m[0];
    i += word.length;
    const next = skipSpace(text, i);
    last = undefined;
    if (GROUPING.has(word)) {
      if (text[next] === "(") {
        const list = readLabelList(text, next);
        grouping.push(...list.labels);
        i = list.end;
      }
      continue;
    }
    if (text[next] === "(") continue; // a function call or an aggregation
    if (AGGREGATIONS.has(word)) continue; // `sum by (x) (...)`, `sum without (...)`
    if (KEYWORDS.has(word.toLowerCase())) continue;
    const selector = { metric: word, labels: [] };
    selectors.push(selector);
    last = selector;
  }
  return { selectors, grouping };
}

/** A series Prometheus can hold, with the label names it can carry. */
export type Catalog = Map<string, Set<string>>;

/**
 * Every series name hookrelay's registry exports (`createMetrics()`), with its label names:
 * counters and gauges as named, histograms as `_bucket` (plus `le`), `_sum` and `_count`,
 * summaries as named (plus `quantile`), `_sum` and `_count`; and Prometheus' own `up`.
 */
export function hookrelayCatalog(): Catalog {
  const catalog: Catalog = new Map();
  for (const metric of createMetrics().registry.getMetricsAsArray()) {
    const labelNames = (metric as unknown as { labelNames?: readonly string[] }).labelNames;
    if (!Array.isArray(labelNames)) throw new Error(`prom-client metric ${metric.name} has no labelNames array: the catalog cannot be built`);
    const labels = new Set(labelNames);
    const type = String(metric.type);
    if (type === "histogram") {
      catalog.set(`${metric.name}_bucket`, new Set([...labels, "le"]));
      catalog.set(`${metric.name}_sum`, labels);
      catalog.set(`${metric.name}_count`, labels);
    } else if (type === "summary") {
      catalog.set(metric.name, new Set([...labels, "quantile"]));
      catalog.set(`${metric.name}_sum`, labels);
      catalog.set(`${metric.name}_count`, labels);
    } else catalog.set(metric.name, labels);
  }
  catalog.set("up", new Set());
  return catalog;
}

/**
 * What is wrong with the names in `expr`: a metric hookrelay does not export, a label a metric
 * does not carry, a grouping label none of its metrics carry. `targetLabels` are the labels
 * Prometheus adds to every series (job, instance, and in Kubernetes namespace, pod, ...).
 * Returns one sentence per problem, empty when all is well.
 */
export function checkQuery(expr: string, catalog: Catalog, targetLabels: readonly string[]): string[] {
  let parts: QueryParts;
  try {
    parts = parsePromQL(expr);
  } catch (err) {
    return [`cannot read the expression: ${(err as Error).message}`];
  }
  const problems: string[] = [];
  const targets = new Set(targetLabels);
  const seen = new Set<string>();
  let unknown = false;
  if (parts.selectors.length === 0) problems.push(`uses no metric at all: ${expr}`);
  for (const { metric, labels } of parts.selectors) {
    if (metric === "") {
      problems.push(`a selector without a metric name ({${labels.join(",")}}) cannot be checked: ${expr}`);
      continue;
    }
    const known = catalog.get(metric);
    if (!known) {
      unknown = true;
      const near = [...catalog.keys()].map((name) => [name, distance(name, metric)] as const).filter(([, d]) => d <= 3).sort((a, b) => a[1] - b[1]);
      problems.push(`metric ${metric} is not exported by hookrelay${near.length ? ` (did you mean ${near[0]![0]}?)` : ""}`);
      continue;
    }
    for (const label of known) seen.add(label);
    for (const label of labels)
      if (label !== "__name__" && !known.has(label) && !targets.has(label))
        problems.push(`metric ${metric} has no label ${label} (it has ${[...known].join(", ") || "none"}; targets add ${[...targets].join(", ")})`);
  }
  // With a metric unknown, its labels are too: say only that.
  if (!unknown)
    for (const label of parts.grouping)
      if (!seen.has(label) && !targets.has(label))
        problems.push(`groups by ${label}, which none of its metrics (${parts.selectors.map((s) => s.metric).join(", ")}) carries`);
  return problems;
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

/** The labels an expression's result can carry: its metrics' labels and the target labels. */
export function resultLabels(expr: string, catalog: Catalog, targetLabels: readonly string[]): Set<string> {
  const labels = new Set(targetLabels);
  for (const { metric } of parsePromQL(expr).selectors) for (const label of catalog.get(metric) ?? []) labels.add(label);
  return labels;
}
