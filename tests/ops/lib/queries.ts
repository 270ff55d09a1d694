/**
 * @module Every PromQL query of the operations artifacts, each with where it lives: Grafana
 * dashboard panels and variables, Prometheus alert and recording rules, prometheus-adapter rules.
 */
import { type Catalog, checkQuery, resultLabels } from "./promql.ts";

export interface Query {
  /** File and item, e.g. `docker/grafana/dashboards/x.json › panel "CPU" › A`. */
  where: string;
  expr: string;
  /** Labels a legend may name (`{{role}}`), checked against what the result carries. */
  legend?: string;
  /** For `label_values(metric, label)`: the label asked for. */
  label?: string;
}

/** Labels Prometheus attaches to every scraped series. */
export const TARGET_LABELS = ["job", "instance"];

function datasourceUid(ds: unknown): string | undefined {
  if (typeof ds === "string") return ds;
  if (ds && typeof ds === "object") return (ds as { uid?: string }).uid;
  return undefined;
}

/** The PromQL of a dashboard: Prometheus targets of every panel (rows' nested panels too) and query variables. */
export function dashboardQueries(dashboard: any, file: string, prometheusUids: ReadonlySet<string>): Query[] {
  const queries: Query[] = [];
  const panels = (list: any[]): any[] => list.flatMap((p) => [p, ...panels(p.panels ?? [])]);
  for (const panel of panels(dashboard.panels ?? [])) {
    for (const target of panel.targets ?? []) {
      const uid = datasourceUid(target.datasource) ?? datasourceUid(panel.datasource);
      if (!uid || !prometheusUids.has(uid)) continue;
      queries.push({ where: `${file} › panel "${panel.title}" › ${target.refId}`, expr: String(target.expr ?? ""), legend: target.legendFormat });
    }
  }
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type !== "query" || !prometheusUids.has(datasourceUid(variable.datasource) ?? "")) continue;
    const text = String(typeof variable.query === "string" ? variable.query : (variable.query?.query ?? ""));
    const m = /^\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$/.exec(text);
    if (m) queries.push({ where: `${file} › variable $${variable.name}`, expr: m[1]!, label: m[2] });
    else if (/^\s*query_result\((.*)\)\s*$/.test(text)) queries.push({ where: `${file} › variable $${variable.name}`, expr: /^\s*query_result\((.*)\)\s*$/.exec(text)![1]! });
    else queries.push({ where: `${file} › variable $${variable.name}`, expr: text });
  }
  return queries;
}

/** The expressions of a Prometheus rules file. */
export function ruleQueries(rules: any, file: string): Query[] {
  return (rules.groups ?? []).flatMap((group: any) =>
    (group.rules ?? []).map((rule: any) => ({ where: `${file} › group ${group.name} › ${rule.alert ?? rule.record}`, expr: String(rule.expr ?? "") })),
  );
}

/**
 * prometheus-adapter rules as the PromQL the adapter runs: `<<.Series>>` is the series of the
 * seriesQuery, `<<.LabelMatchers>>` the namespace (and an HPA's selector), `<<.GroupBy>>` the
 * resource labels.
 */
export function adapterQueries(config: any, file: string): Query[] {
  const queries: Query[] = [];
  for (const kind of ["rules", "externalRules", "resourceRules"]) {
    for (const [n, rule] of (config[kind] ?? []).entries()) {
      const where = `${file} › ${kind}[${n}]`;
      queries.push({ where: `${where} › seriesQuery`, expr: String(rule.seriesQuery ?? "") });
      const series = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(String(rule.seriesQuery ?? ""))?.[1] ?? "";
      const overrides = Object.keys(rule.resources?.overrides ?? {});
      const expr = String(rule.metricsQuery ?? "")
        .replaceAll("<<.Series>>", series)
        .replaceAll("<<.LabelMatchers>>", overrides.map((label) => `${label}="x"`).join(","))
        .replaceAll("<<.GroupBy>>", overrides.join(","));
      if (/<<|>>/.test(expr)) queries.push({ where: `${where} › metricsQuery`, expr: `unknown template in: ${rule.metricsQuery}` });
      else queries.push({ where: `${where} › metricsQuery`, expr });
    }
  }
  return queries;
}

/** One sentence per problem, each starting with where it is; empty when every name is exported. */
export function checkQueries(queries: Query[], catalog: Catalog, targetLabels: readonly string[] = TARGET_LABELS): string[] {
  const problems: string[] = [];
  for (const q of queries) {
    const found = checkQuery(q.expr, catalog, targetLabels);
    for (const problem of found) problems.push(`${q.where}: ${problem}`);
    if (found.length > 0) continue; // its labels cannot be judged
    let labels: Set<string>;
    try {
      labels = resultLabels(q.expr, catalog, targetLabels);
    } catch {
      continue; // reported above
    }
    for (const m of String(q.legend ?? "").matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g))
      if (!labels.has(m[1]!)) problems.push(`${q.where}: legend names {{${m[1]}}}, a label its result does not carry`);
    if (q.label && !labels.has(q.label)) problems.push(`${q.where}: label_values asks for ${q.label}, a label of none of its metrics`);
  }
  return problems;
}
