// The Kubernetes manifests in docker/k8s, checked without a cluster: every document parses and has
// the fields its kind needs, selectors select what they mean to, ports and environment are ones
// hookrelay uses, and autoscaling, disruption budgets and shutdown fit how the roles work.
import { describe, expect, it } from "bun:test";
import { readdirSync } from "node:fs";
import { ROLES, type Role } from "../../src/cli/compose.ts";
import { backendProblem, parseConfig } from "../../src/platform/config.ts";
import { LOCAL_INSTANCE } from "../../src/services/observability/scraper.ts";
import { parseDockerfile } from "./lib/dockerfile.ts";
import { configReads, readText, readYamlDocuments, repoPath, seconds } from "./lib/repo.ts";

const DIR = "docker/k8s";
const files = readdirSync(repoPath(DIR))
  .filter((f) => f.endsWith(".yaml"))
  .sort();
interface Doc {
  file: string;
  doc: any;
}
const docs: Doc[] = files.flatMap((f) => readYamlDocuments(`${DIR}/${f}`).map((doc) => ({ file: `${DIR}/${f}`, doc })));
const ofKind = (kind: string) => docs.filter((d) => d.doc.kind === kind);
const where = ({ file, doc }: Doc) => `${file} › ${doc.kind} ${doc.metadata?.name}`;
const deployments = ofKind("Deployment");
const services = ofKind("Service");
const dockerfile = parseDockerfile(readText("docker/Dockerfile"));
const runtime = dockerfile.stages.at(-1)!;
const entrypoint = runtime.instructions.find((i) => i.keyword === "ENTRYPOINT")!.exec!;
const imageUser = runtime.instructions.findLast((i) => i.keyword === "USER")!.args;
const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) => Object.entries(selector).every(([k, v]) => labels[k] === v);
const podLabels = (d: Doc) => d.doc.spec.template.metadata.labels as Record<string, string>;
const container = (d: Doc) => d.doc.spec.template.spec.containers[0];

/** The environment a container starts with: its envFrom ConfigMaps and Secrets, then its env. */
function environmentOf(d: Doc, c: any): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of c.envFrom ?? []) {
    const ref = source.configMapRef ?? source.secretRef;
    const kind = source.configMapRef ? "ConfigMap" : "Secret";
    const found = ofKind(kind).find((o) => o.doc.metadata.name === ref.name && o.doc.metadata.namespace === d.doc.metadata.namespace);
    if (!found) throw new Error(`${where(d)}: envFrom ${kind} ${ref.name} is not among the manifests`);
    Object.assign(env, kind === "ConfigMap" ? found.doc.data : (found.doc.stringData ?? {}));
  }
  for (const e of c.env ?? []) env[e.name] = e.value ?? "";
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}
const roleOf = (d: Doc): Role => container(d).args[0];
/** The environment once an operator has replaced the Secret's placeholders (the JWT one is refused as it is). */
function filledIn(env: Record<string, string>): Record<string, string> {
  const jwt = env.HOOKRELAY_SECURITY_JWT_SECRET;
  return jwt?.includes("CHANGE-ME") ? { ...env, HOOKRELAY_SECURITY_JWT_SECRET: "an-operator-chosen-secret-of-48-characters-000000" } : env;
}
const configOf = (d: Doc) => parseConfig({ env: filledIn(environmentOf(d, container(d))) });

describe("Kubernetes manifests", () => {
  it("parse, and every object has apiVersion, kind, a name and the hookrelay namespace (the adapter rule: monitoring)", () => {
    expect(files.length).toBeGreaterThan(5);
    const problems: string[] = [];
    for (const d of docs) {
      if (!d.doc.apiVersion || !d.doc.kind) problems.push(`${d.file}: a document without apiVersion or kind`);
      if (d.doc.kind === "Kustomization") continue;
      if (!d.doc.metadata?.name) problems.push(`${d.file}: a ${d.doc.kind} without metadata.name`);
      if (d.doc.kind === "Namespace") continue;
      if (!["hookrelay", "monitoring"].includes(d.doc.metadata?.namespace)) problems.push(`${where(d)}: namespace ${d.doc.metadata?.namespace}`);
    }
    expect(problems).toEqual([]);
    expect(ofKind("Namespace").map((d) => d.doc.metadata.name)).toEqual(["hookrelay"]);
  });

  it("lists every manifest in kustomization.yaml, or says why one is applied separately", () => {
    const [kustomization] = readYamlDocuments(`${DIR}/kustomization.yaml`);
    const listed = kustomization.resources as string[];
    for (const file of listed) expect({ file, exists: files.includes(file) }).toEqual({ file, exists: true });
    const text = readText(`${DIR}/kustomization.yaml`);
    for (const file of files.filter((f) => f !== "kustomization.yaml" && !listed.includes(f))) expect({ file, explained: text.includes(file) }).toEqual({ file, explained: true });
    const images = new Set([...deployments, ...ofKind("Job")].map((d) => container(d).image.split(":")[0]));
    expect([...images]).toEqual(kustomization.images.map((i: any) => i.name));
  });

  it("has one Deployment per role, running the image's binary with that role", () => {
    expect(deployments.map(roleOf).sort()).toEqual([...ROLES].sort());
    for (const d of deployments) {
      const c = container(d);
      expect({ at: where(d), command: c.command, args: c.args }).toEqual({ at: where(d), command: undefined, args: [d.doc.metadata.name] });
    }
    expect(entrypoint).toEqual(["/usr/local/bin/hookrelay"]);
  });

  it("selects each Deployment's pods with its own selector and a Service that selects only them", () => {
    const problems: string[] = [];
    for (const d of deployments) {
      const selector = d.doc.spec.selector.matchLabels;
      if (!matches(selector, podLabels(d))) problems.push(`${where(d)}: selector ${JSON.stringify(selector)} does not match its pod labels`);
      const mine = services.filter((s) => s.doc.metadata.namespace === d.doc.metadata.namespace && matches(s.doc.spec.selector, podLabels(d)));
      if (mine.length !== 1) problems.push(`${where(d)}: ${mine.length} Services select its pods (want 1)`);
      for (const s of mine) {
        const others = deployments.filter((o) => o !== d && matches(s.doc.spec.selector, podLabels(o)));
        if (others.length) problems.push(`${where(s)}: also selects the pods of ${others.map(where).join(", ")}`);
        if (s.doc.metadata.name !== d.doc.metadata.name) problems.push(`${where(s)}: named differently from its Deployment ${d.doc.metadata.name}`);
        const ports = container(d).ports as any[];
        for (const p of s.doc.spec.ports)
          if (!ports.some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort)) problems.push(`${where(s)}: targetPort ${p.targetPort} is no port of the container`);
          else if (p.port !== ports.find((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort).containerPort)
            problems.push(`${where(s)}: port ${p.port} differs from the container port (the roles find each other on their default ports)`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("sets only variables hookrelay reads, making a valid production configuration for every role and the Job", () => {
    const problems: string[] = [];
    for (const d of [...deployments, ...ofKind("Job")]) {
      const env = environmentOf(d, container(d));
      for (const variable of Object.keys(env)) if (!configReads(variable)) problems.push(`${where(d)}: ${variable} is not a variable hookrelay reads`);
      try {
        const config = parseConfig({ env: filledIn(env) });
        const problem = backendProblem(config);
        if (problem) problems.push(`${where(d)}: ${problem}`);
      } catch (err) {
        problems.push(`${where(d)}: ${(err as Error).message}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("marks every Secret value as a placeholder to replace, and refuses to start with the JWT placeholder", () => {
    const secrets = ofKind("Secret");
    expect(secrets.length).toBeGreaterThan(0);
    for (const s of secrets) {
      const text = readText(s.file);
      for (const [key, value] of Object.entries(s.doc.stringData as Record<string, string>)) {
        const marked = String(value).includes("CHANGE-ME") || (value === "" && new RegExp(`CHANGE-ME[^\\n]*\\n(?:\\s*#[^\\n]*\\n)*\\s*${key}:`).test(text));
        expect({ at: where(s), key, marked }).toEqual({ at: where(s), key, marked: true });
      }
      expect(s.doc.data).toBeUndefined(); // stringData only: no base64 to get wrong
    }
    const jwt = secrets.map((s) => s.doc.stringData.HOOKRELAY_SECURITY_JWT_SECRET).find((v) => v !== undefined);
    expect(() => parseConfig({ env: { HOOKRELAY_SECURITY_JWT_SECRET: jwt } })).toThrow("security.jwt_secret: must be at least 32 characters");
    // Every role verifies tokens with the same secret; only the gateway sets the admin password.
    for (const d of deployments) {
      const env = environmentOf(d, container(d));
      expect({ at: where(d), jwt: "HOOKRELAY_SECURITY_JWT_SECRET" in env, admin: "HOOKRELAY_ADMIN_PASSWORD" in env }).toEqual({ at: where(d), jwt: true, admin: roleOf(d) === "gateway" });
    }
  });

  it("exposes each role's configured port and probes its health there: /health over HTTP, gRPC health for the registry", () => {
    const problems: string[] = [];
    for (const d of deployments) {
      const c = container(d);
      const role = roleOf(d);
      const port = configOf(d).server[`${role}_port`];
      const ports = c.ports as any[];
      if (ports.length !== 1 || ports[0].containerPort !== port) problems.push(`${where(d)}: container ports ${ports.map((p) => p.containerPort)}; ${role} listens on ${port}`);
      const resolve = (p: unknown) => (typeof p === "number" ? p : ports.find((cp) => cp.name === p)?.containerPort);
      for (const kind of ["readinessProbe", "livenessProbe", "startupProbe"]) {
        const probe = c[kind];
        if (!probe) {
          if (kind !== "startupProbe") problems.push(`${where(d)}: no ${kind}`);
          continue;
        }
        if (role === "registry") {
          if (probe.grpc?.port !== port) problems.push(`${where(d)}: ${kind} should be a gRPC probe on ${port} (the registry serves no HTTP), got ${JSON.stringify(probe)}`);
        } else if (probe.httpGet?.path !== "/health" || resolve(probe.httpGet?.port) !== port) problems.push(`${where(d)}: ${kind} should GET /health on ${port}, got ${JSON.stringify(probe)}`);
      }
      // Liveness must not restart a pod over a short backend outage: /health turns 503 then.
      const live = c.livenessProbe;
      if (live && (live.periodSeconds ?? 10) * (live.failureThreshold ?? 3) < 60) problems.push(`${where(d)}: liveness gives up within a minute`);
    }
    expect(problems).toEqual([]);
  });

  it("gives the pods longer to stop than the preStop pause plus dispatcher.shutdown_timeout", () => {
    for (const d of deployments) {
      const spec = d.doc.spec.template.spec;
      const pause = container(d).lifecycle?.preStop?.sleep?.seconds ?? 0;
      const shutdown = seconds(configOf(d).dispatcher.shutdown_timeout);
      expect({ at: where(d), enough: spec.terminationGracePeriodSeconds > pause + shutdown }).toEqual({ at: where(d), enough: true });
    }
  });

  it("runs as the image's non-root user with a read-only root, no privilege escalation, and resource requests and limits", () => {
    const [uid, gid] = imageUser.split(":").map(Number);
    const problems: string[] = [];
    for (const d of [...deployments, ...ofKind("Job")]) {
      const pod = d.doc.spec.template.spec;
      const c = container(d);
      if (pod.securityContext?.runAsNonRoot !== true || pod.securityContext?.runAsUser !== uid || pod.securityContext?.runAsGroup !== gid)
        problems.push(`${where(d)}: pod securityContext should run as ${uid}:${gid} non-root (the image's USER)`);
      if (c.securityContext?.allowPrivilegeEscalation !== false || c.securityContext?.readOnlyRootFilesystem !== true || JSON.stringify(c.securityContext?.capabilities?.drop) !== '["ALL"]')
        problems.push(`${where(d)}: container securityContext should forbid escalation, drop ALL capabilities, read-only root`);
      for (const kind of ["requests", "limits"]) for (const r of ["cpu", "memory"]) if (!c.resources?.[kind]?.[r]) problems.push(`${where(d)}: no resources.${kind}.${r}`);
    }
    expect(problems).toEqual([]);
  });

  it("points the observability role's scrape targets at the other HTTP roles' Services and ports", () => {
    const observability = deployments.find((d) => roleOf(d) === "observability")!;
    const targets = configOf(observability).observability.scrape_targets.map((url) => {
      const u = new URL(url);
      const service = services.find((s) => s.doc.metadata.name === u.hostname);
      const deployment = service && deployments.find((d) => matches(service.doc.spec.selector, podLabels(d)));
      return { url, role: deployment && roleOf(deployment), path: u.pathname, port: service?.doc.spec.ports.some((p: any) => p.port === Number(u.port)) };
    });
    expect(targets.map((t) => t.role).sort()).toEqual(ROLES.filter((r) => r !== "registry" && r !== "observability").sort());
    for (const t of targets) expect(t).toEqual({ url: t.url, role: t.role, path: "/metrics", port: true });
  });

  it("scales gateway and ingest on CPU and the dispatcher on its lag and CPU, never past the partitions", () => {
    const hpas = ofKind("HorizontalPodAutoscaler");
    const problems: string[] = [];
    const byRole = new Map<Role, any>();
    for (const h of hpas) {
      const ref = h.doc.spec.scaleTargetRef;
      const target = deployments.find((d) => ref.kind === "Deployment" && d.doc.metadata.name === ref.name && d.doc.metadata.namespace === h.doc.metadata.namespace);
      if (!target) {
        problems.push(`${where(h)}: scales ${ref.kind} ${ref.name}, which is not among the manifests`);
        continue;
      }
      byRole.set(roleOf(target), h.doc);
      if (target.doc.spec.replicas !== undefined) problems.push(`${where(target)}: sets replicas although ${where(h)} owns them (every apply would reset them)`);
      if (!(h.doc.spec.minReplicas >= 1 && h.doc.spec.maxReplicas > h.doc.spec.minReplicas)) problems.push(`${where(h)}: min/max replicas ${h.doc.spec.minReplicas}/${h.doc.spec.maxReplicas}`);
      for (const m of h.doc.spec.metrics)
        if (m.type === "Resource" && !container(target).resources?.requests?.[m.resource.name]) problems.push(`${where(h)}: scales on ${m.resource.name} but ${where(target)} requests none`);
      if (roleOf(target) === "dispatcher" && h.doc.spec.maxReplicas > configOf(target).kafka.partitions)
        problems.push(`${where(h)}: maxReplicas ${h.doc.spec.maxReplicas} exceeds kafka.partitions ${configOf(target).kafka.partitions}: the extra dispatchers would idle`);
    }
    expect(problems).toEqual([]);
    const kinds = (role: Role) => (byRole.get(role)?.spec.metrics ?? []).map((m: any) => (m.type === "Resource" ? m.resource.name : `${m.type}:${m[m.type.toLowerCase()].metric.name}`));
    expect(kinds("gateway")).toEqual(["cpu"]);
    expect(kinds("ingest")).toEqual(["cpu"]);
    expect(kinds("dispatcher")).toEqual(["External:webhook_event_log_lag", "cpu"]);
    // Each dispatcher reports the group's total lag: only an AverageValue over an External metric divides it by replicas.
    expect(byRole.get("dispatcher").spec.metrics[0].external.target.type).toBe("AverageValue");
  });

  it("covers every Deployment with a PodDisruptionBudget that selects only it and still lets a node drain", () => {
    const problems: string[] = [];
    const hpas = ofKind("HorizontalPodAutoscaler");
    for (const d of deployments) {
      const pdbs = ofKind("PodDisruptionBudget").filter((p) => p.doc.metadata.namespace === d.doc.metadata.namespace && matches(p.doc.spec.selector.matchLabels, podLabels(d)));
      if (pdbs.length !== 1) {
        problems.push(`${where(d)}: ${pdbs.length} PodDisruptionBudgets select it (want 1)`);
        continue;
      }
      const pdb = pdbs[0]!;
      const others = deployments.filter((o) => o !== d && matches(pdb.doc.spec.selector.matchLabels, podLabels(o)));
      if (others.length) problems.push(`${where(pdb)}: also selects ${others.map(where).join(", ")}`);
      const hpa = hpas.find((h) => h.doc.spec.scaleTargetRef.name === d.doc.metadata.name);
      const fewest = hpa ? hpa.doc.spec.minReplicas : (d.doc.spec.replicas ?? 1);
      if (typeof pdb.doc.spec.minAvailable === "number" && pdb.doc.spec.minAvailable >= fewest)
        problems.push(`${where(pdb)}: minAvailable ${pdb.doc.spec.minAvailable} with ${fewest} replicas blocks every node drain`);
    }
    expect(problems).toEqual([]);
    for (const p of ofKind("PodDisruptionBudget"))
      expect({ at: where(p), targets: deployments.some((d) => matches(p.doc.spec.selector.matchLabels, podLabels(d))) }).toEqual({ at: where(p), targets: true });
  });

  it("migrates with a Job running `hookrelay migrate up`", () => {
    const jobs = ofKind("Job");
    expect(jobs.map((j) => container(j).args)).toEqual([["migrate", "up"]]);
    for (const j of jobs) expect(["OnFailure", "Never"]).toContain(j.doc.spec.template.spec.restartPolicy);
  });

  it("scrapes the HTTP roles through a ServiceMonitor on their `http` port, the registry left out", () => {
    const [monitor] = ofKind("ServiceMonitor");
    const selected = services.filter((s) => matches(monitor!.doc.spec.selector.matchLabels, s.doc.metadata.labels));
    const ports = new Set(monitor!.doc.spec.endpoints.map((e: any) => e.port));
    const scraped = selected
      .filter((s) => s.doc.spec.ports.some((p: any) => ports.has(p.name)))
      .map((s) => s.doc.metadata.name)
      .sort();
    expect(scraped).toEqual(ROLES.filter((r) => r !== "registry").sort());
    // As in compose: of the observability role's aggregate, only its own series are kept.
    for (const endpoint of monitor!.doc.spec.endpoints)
      expect(endpoint.metricRelabelings).toEqual([
        { sourceLabels: ["exported_instance"], regex: `(${LOCAL_INSTANCE})?`, action: "keep" },
        { regex: "exported_instance", action: "labeldrop" },
      ]);
    for (const d of deployments) {
      const annotations = d.doc.spec.template.metadata.annotations ?? {};
      const role = roleOf(d);
      expect({ role, scrape: annotations["prometheus.io/scrape"], port: annotations["prometheus.io/port"] }).toEqual(
        role === "registry" ? { role, scrape: "false", port: undefined } : { role, scrape: "true", port: String(configOf(d).server[`${role}_port`]) },
      );
    }
  });
});
