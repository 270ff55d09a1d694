/**
 * @module The metric names and label names a PromQL expression uses, and a check of them against
 * the series hookrelay exports (its real prom-client registry) plus Prometheus' `up`.
 *
 * The expression is parsed with Prometheus' own Lezer grammar (`@prometheus-io/lezer-promql`, the
 * one its web UI uses) and the names are read off the syntax tree. The grammar checks syntax only,
 * not types (it accepts `rate(1)`), which is all the check of names needs.
 */
import type { SyntaxNode, SyntaxNodeRef, Tree } from "@lezer/common";
import { parser } from "@prometheus-io/lezer-promql";
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

/** Grafana's template variables (`$__rate_interval`, `$job`, `${job:regex}`, `[[job]]`) stand for a value. */
export function withoutTemplateVariables(expr: string): string {
  return expr.replace(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[^\]]*\]\]/g, "1");
}

/** The selectors and grouping labels of one PromQL expression, in source order; throws on a syntax error. */
export function parsePromQL(input: string): QueryParts {
  const text = withoutTemplateVariables(input);
  const tree = parser.parse(text);
  checkSyntax(tree, text);
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  tree.iterate({
    enter(ref) {
      if (ref.name === "VectorSelector") selectors.push(readSelector(ref.node, text));
      else if (ref.name === "GroupingLabels") grouping.push(...children(ref.node).map((label) => labelName(label, text)));
    },
  });
  return { selectors, grouping };
}

/**
 * Throws at the first syntax error. Lezer does not fail on one: it recovers by inserting error
 * nodes (`⚠`), which would otherwise let a broken expression through with whatever names it had.
 */
function checkSyntax(tree: Tree, text: string): void {
  tree.iterate({
    enter(ref) {
      if (ref.type.isError) throw syntaxError(text, ref.from);
      if (ref.name === "StringLiteral") stringValue(ref, text);
    },
  });
}

/**
 * `name{a="x", "b.c"=~"y"}`, `{a="x"}` (metric "") or Prometheus 3's `{"name", a="x"}`. A
 * `__name__` matcher stays a label: the check treats such a selector as one it cannot judge.
 */
function readSelector(node: SyntaxNode, text: string): Selector {
  const name = node.getChild("Identifier");
  const selector: Selector = { metric: name ? text.slice(name.from, name.to) : "", labels: [] };
  for (const matcher of children(node.getChild("LabelMatchers"))) {
    if (matcher.name !== "QuotedLabelName") selector.labels.push(labelName(matcher.firstChild!, text));
    else if (selector.metric === "") selector.metric = stringValue(matcher, text);
    else throw syntaxError(text, matcher.from, "metric name given twice");
  }
  return selector;
}

/** The named child nodes of `node` (Lezer keeps no nodes for punctuation such as `(`, `,`). */
function children(node: SyntaxNode | null): SyntaxNode[] {
  const list: SyntaxNode[] = [];
  for (let child = node?.firstChild; child; child = child.nextSibling) list.push(child);
  return list;
}

/** A `LabelName`, or a `QuotedLabelName` (`"b.c"`, Prometheus 3's UTF-8 names). */
function labelName(node: SyntaxNode, text: string): string {
  return node.name === "QuotedLabelName" ? stringValue(node, text) : text.slice(node.from, node.to);
}

/**
 * The value of a string literal. The grammar's string token also matches one whose closing quote
 * is missing (an editor wants a token while one types), so that is checked here. An escape is read
 * as the character after the backslash (`\"`, `\\`): enough for the metric and label names that
 * are all this module reads out of strings.
 */
function stringValue(node: SyntaxNodeRef, text: string): string {
  const literal = text.slice(node.from, node.to);
  const quote = literal[0];
  if (quote === "`") return literal.slice(1, -1); // raw, and the grammar wants its closing backtick
  let value = "";
  for (let i = 1; i < literal.length; i++) {
    if (literal[i] === quote && i === literal.length - 1) return value;
    if (literal[i] === "\\") i++;
    value += literal[i] ?? "";
  }
  throw syntaxError(text, node.from, "unterminated string");
}

function syntaxError(text: string, offset: number, what = "syntax error"): Error {
  const where = offset < text.length ? `near ${JSON.stringify(text.slice(offset, offset + 20))}` : "at the end";
  return new Error(`${what} at offset ${offset} (${where}) in: ${text}`);
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
      const near = [...catalog.keys()]
        .map((name) => [name, distance(name, metric)] as const)
        .filter(([, d]) => d <= 3)
        .sort((a, b) => a[1] - b[1]);
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
      if (!seen.has(label) && !targets.has(label)) problems.push(`groups by ${label}, which none of its metrics (${parts.selectors.map((s) => s.metric).join(", ")}) carries`);
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
