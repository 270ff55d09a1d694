// Every metric a Grafana panel, a Prometheus rule, the prometheus-adapter or an HPA asks for is one
// hookrelay exports (names and label names taken from its real prom-client registry), and the
// dashboards and rules hang together (data sources, panel ids, rule fields).
import { describe, expect, it } from "bun:test";
import { readdirSync } from "node:fs";
import { hookrelayCatalog } from "./lib/promql.ts";
import { adapterQueries, checkQueries, dashboardQueries, type Query, ruleQueries, TARGET_LABELS } from "./lib/queries.ts";
import { readText, readYaml, readYamlDocuments, repoFileAt, repoPath } from "./lib/repo.ts";

const catalog = hookrelayCatalog();
const DASHBOARDS = "docker/grafana/dashboards";
const dashboardFiles = readdirSync(repoPath(DASHBOARDS))
  .filter((f) => f.endsWith(".json"))
  .map((f) => `${DASHBOARDS}/${f}`);
const datasourceFiles = readdirSync(repoPath("docker/grafana/provisioning/datasources")).map((f) => `docker/grafana/provisioning/datasources/${f}`);
const datasources: any[] = datasourceFiles.flatMap((f) => readYaml(f).datasources ?? []);
const uidsOf = (type: string) => new Set(datasources.filter((d) => d.type === type).map((d) => d.uid as string));
/** Labels Kubernetes service discovery (prometheus-operator, kubernetes_sd relabeling) puts on series. */
const K8S_TARGET_LABELS = [...TARGET_LABELS, "namespace", "pod", "service", "container", "endpoint"];

function parseJson(file: string): any {
  try {
    return JSON.parse(readText(file));
  } catch (err) {
    throw new Error(`${file}: not valid JSON: ${(err as Error).message}`);
  }
}

/** The rule files Prometheus loads, as repository paths (through compose's mount of its config directory). */
function ruleFiles(): string[] {
  const compose = readYaml("compose.yaml");
  const prometheus = compose.services.prometheus;
  const configArg = (prometheus.command as string[]).find((a) => a.startsWith("--config.file="))!.split("=")[1]!;
  const configFile = repoFileAt(prometheus, configArg);
  if (configFile !== "docker/prometheus/prometheus.yml") throw new Error(`compose.yaml: prometheus reads ${configArg}, which is ${configFile ?? "no file of the repository"}`);
  return (readYaml(configFile).rule_files as string[]).map((path) => {
    const file = repoFileAt(prometheus, path);
    if (!file) throw new Error(`${configFile}: rule file ${path} is not mounted from the repository`);
    return file;
  });
}

describe("metric names in dashboards, alerts and autoscaling", () => {
  it("has Prometheus and Loki data sources with unique uids", () => {
    expect(dashboardFiles.length).toBeGreaterThan(0);
    const uids = datasources.map((d) => d.uid);
    expect(new Set(uids).size).toBe(uids.length);
    expect(uidsOf("prometheus").size).toBe(1);
    expect(uidsOf("loki").size).toBe(1);
    const compose = readYaml("compose.yaml");
    for (const d of datasources) {
      const host = new URL(d.url).hostname;
      expect({ datasource: d.name, url: d.url, serviceExists: host in compose.services }).toEqual({ datasource: d.name, url: d.url, serviceExists: true });
    }
  });

  it("asks only for metrics and labels hookrelay exports, in every dashboard panel and variable", () => {
    const queries = dashboardFiles.flatMap((file) => dashboardQueries(parseJson(file), file, uidsOf("prometheus")));
    expect(queries.length).toBeGreaterThan(20);
    expect(checkQueries(queries, catalog)).toEqual([]);
  });

  it("uses every delivery, queue and HTTP metric hookrelay exports somewhere on a dashboard", () => {
    const used = new Set(
      dashboardFiles
        .flatMap((file) => dashboardQueries(parseJson(file), file, uidsOf("prometheus")))
        .flatMap((q) => [...q.expr.matchAll(/webhook_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ""))),
    );
    const exported = [...catalog.keys()].filter((n) => n.startsWith("webhook_")).map((n) => n.replace(/_(bucket|sum|count)$/, ""));
    expect([...new Set(exported)].filter((n) => !used.has(n))).toEqual([]);
  });

  it("builds dashboards Grafana can load: unique uids and panel ids, known data sources, a 24-column grid", () => {
    const problems: string[] = [];
    const uids = new Set<string>();
    const known = new Set(datasources.map((d) => d.uid));
    for (const file of dashboardFiles) {
      const d = parseJson(file);
      if (!d.uid || uids.has(d.uid)) problems.push(`${file}: uid ${d.uid} missing or used twice`);
      uids.add(d.uid);
      if (!d.title) problems.push(`${file}: no title`);
      const ids = new Set<number>();
      for (const p of d.panels ?? []) {
        if (ids.has(p.id)) problems.push(`${file}: panel id ${p.id} used twice`);
        ids.add(p.id);
        const g = p.gridPos;
        if (!g || g.x < 0 || g.w < 1 || g.x + g.w > 24 || g.h < 1) problems.push(`${file} › panel "${p.title}": gridPos ${JSON.stringify(g)} outside the 24-column grid`);
        if (p.type === "row") continue;
        if (!(p.targets?.length > 0)) problems.push(`${file} › panel "${p.title}": no query`);
        for (const t of p.targets ?? []) {
          const uid = t.datasource?.uid ?? p.datasource?.uid;
          if (!known.has(uid)) problems.push(`${file} › panel "${p.title}" › ${t.refId}: data source ${uid} is not provisioned`);
          if (!String(t.expr ?? "").trim()) problems.push(`${file} › panel "${p.title}" › ${t.refId}: empty expr`);
        }
      }
      for (const v of d.templating?.list ?? []) if (v.datasource && !known.has(v.datasource.uid)) problems.push(`${file} › variable $${v.name}: data source ${v.datasource.uid} is not provisioned`);
    }
    expect(problems).toEqual([]);
  });

  it("loads alert rules whose expressions use only exported metrics, each with a duration, severity and summary", () => {
    const files = ruleFiles();
    expect(files).toEqual(["docker/prometheus/alerts.yml"]);
    const problems: string[] = [];
    const queries: Query[] = [];
    for (const file of files) {
      const rules = readYaml(file);
      queries.push(...ruleQueries(rules, file));
      for (const group of rules.groups ?? [])
        for (const rule of group.rules ?? []) {
          const where = `${file} › ${rule.alert ?? rule.record ?? "(unnamed rule)"}`;
          if (!rule.alert && !rule.record) problems.push(`${where}: neither alert nor record`);
          if (rule.alert && !/^\d+[smh]$/.test(String(rule.for ?? ""))) problems.push(`${where}: 'for' should be a duration like 5m (got ${rule.for})`);
          if (rule.alert && !["critical", "warning", "info"].includes(rule.labels?.severity)) problems.push(`${where}: severity label critical, warning or info`);
          if (rule.alert && !rule.annotations?.summary) problems.push(`${where}: no summary annotation`);
          if (rule.record && !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(rule.record)) problems.push(`${where}: bad record name`);
        }
    }
    const alerts = queries.map((q) => q.where.split(" › ").at(-1));
    for (const required of ["HookrelayRoleDown", "HookrelayDeliveryFailureRatioHigh", "HookrelayEventLogLagHigh", "HookrelayDeadLettersGrowing", "HookrelayRetryQueueGrowing"])
      expect(alerts).toContain(required);
    expect(problems).toEqual([]);
    expect(checkQueries(queries, catalog)).toEqual([]);
  });

  it("gives the prometheus-adapter rules only exported metrics, and every HPA metric a rule serves", () => {
    const file = "docker/k8s/prometheus-adapter.yaml";
    const [configMap] = readYamlDocuments(file);
    expect(configMap.kind).toBe("ConfigMap");
    const config = Bun.YAML.parse(configMap.data["config.yaml"]) as any;
    const queries = adapterQueries(config, file);
    expect(queries.length).toBeGreaterThan(0);
    expect(checkQueries(queries, catalog, K8S_TARGET_LABELS)).toEqual([]);

    const served = new Map<string, string>(); // external metric name → series
    for (const rule of config.externalRules ?? []) {
      const series = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(rule.seriesQuery)![1]!;
      served.set(rule.name?.as ?? series, series);
    }
    const problems: string[] = [];
    let external = 0;
    for (const manifest of readdirSync(repoPath("docker/k8s")).filter((f) => f.endsWith(".yaml")))
      for (const doc of readYamlDocuments(`docker/k8s/${manifest}`)) {
        if (doc.kind !== "HorizontalPodAutoscaler") continue;
        for (const metric of doc.spec.metrics ?? []) {
          const where = `docker/k8s/${manifest} › HPA ${doc.metadata.name}`;
          if (metric.type === "Pods" || metric.type === "Object")
            problems.push(`${where}: ${metric.type} metric ${metric[metric.type.toLowerCase()].metric.name} has no adapter rule here (only externalRules are provided)`);
          if (metric.type !== "External") continue;
          external++;
          const name = metric.external.metric.name;
          const series = served.get(name);
          if (!series) {
            problems.push(`${where}: External metric ${name} is served by no externalRules entry of ${file}`);
            continue;
          }
          const labels = Object.keys(metric.external.metric.selector?.matchLabels ?? {});
          const matchers = labels.map((l) => `${l}="x"`).join(",");
          for (const p of checkQueries([{ where: `${where} › ${name} selector`, expr: `${series}{${matchers}}` }], catalog, K8S_TARGET_LABELS)) problems.push(p);
        }
      }
    expect(external).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });
});
