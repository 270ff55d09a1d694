// compose.yaml and what it mounts (Prometheus, Grafana, Loki configs), checked without Docker:
// it parses, every reference resolves, every hookrelay service runs a real role with variables
// hookrelay reads, publishes the port that role listens on, and checks its health with the probe.
import { describe, expect, it } from "bun:test";
import { existsSync } from "node:fs";
import { ROLES, type Role } from "../../src/cli/compose.ts";
import { backendProblem, parseConfig } from "../../src/platform/config.ts";
import { LOCAL_INSTANCE } from "../../src/services/observability/scraper.ts";
import { parseDockerfile } from "./lib/dockerfile.ts";
import { bindMount, configReads, containerPort, environmentOf, hookrelayServices, mountedAt, readText, readYaml, repoPath, seconds } from "./lib/repo.ts";

const FILE = "compose.yaml";
const compose = readYaml(FILE);
const services = compose.services as Record<string, any>;
const hookrelay = hookrelayServices(compose);
const HTTP_ROLES = ROLES.filter((r) => r !== "registry");
const entrypoint = parseDockerfile(readText("docker/Dockerfile"))
  .stages.at(-1)!
  .instructions.find((i) => i.keyword === "ENTRYPOINT")!.exec!;
const dependsOn = (service: any): Record<string, { condition?: string }> =>
  Array.isArray(service.depends_on) ? Object.fromEntries(service.depends_on.map((n: string) => [n, { condition: "service_started" }])) : (service.depends_on ?? {});
/** The role a hookrelay service runs (its command's first word), or undefined for migrate. */
const roleOf = (service: any): Role | undefined => ((ROLES as readonly string[]).includes(service.command?.[0]) ? service.command[0] : undefined);
const roleServices = hookrelay.filter(([, s]) => roleOf(s));
const configOf = (service: any) => parseConfig({ env: environmentOf(service.environment) });

describe("compose.yaml", () => {
  it("runs each of the six roles as its own service from the one image, and a one-shot migrate", () => {
    expect(roleServices.map(([, s]) => roleOf(s)).sort()).toEqual([...ROLES].sort());
    for (const [name, s] of roleServices) expect({ name, role: roleOf(s) }).toEqual({ name, role: name as Role });
    const images = new Set(hookrelay.map(([, s]) => s.image));
    expect(images.size).toBe(1);
    const migrate = hookrelay.filter(([, s]) => s.command?.[0] === "migrate");
    expect(migrate.map(([name, s]) => [name, s.command, s.restart])).toEqual([["migrate", ["migrate", "up"], "no"]]);
    expect(existsSync(repoPath(hookrelay[0]![1].build.dockerfile))).toBe(true);
  });

  it("has every service named in depends_on, with a health check wherever service_healthy waits for one", () => {
    const problems: string[] = [];
    for (const [name, service] of Object.entries(services))
      for (const [dep, { condition = "service_started" }] of Object.entries(dependsOn(service))) {
        if (!services[dep]) problems.push(`${FILE} › ${name}: depends on ${dep}, which is not a service`);
        else if (condition === "service_healthy" && !services[dep].healthcheck) problems.push(`${FILE} › ${name}: waits for ${dep} to be healthy, but ${dep} has no healthcheck`);
        else if (condition === "service_completed_successfully" && services[dep].restart && services[dep].restart !== "no")
          problems.push(`${FILE} › ${name}: waits for ${dep} to complete, but ${dep} restarts (${services[dep].restart})`);
        if (!["service_started", "service_healthy", "service_completed_successfully"].includes(condition)) problems.push(`${FILE} › ${name}: unknown condition ${condition}`);
      }
    expect(problems).toEqual([]);
  });

  it("starts the roles after PostgreSQL, Redis and Kafka are healthy and the migration has run", () => {
    for (const [name, service] of roleServices)
      expect({ name, depends: dependsOn(service) }).toEqual({
        name,
        depends: {
          postgres: { condition: "service_healthy" },
          redis: { condition: "service_healthy" },
          kafka: { condition: "service_healthy" },
          migrate: { condition: "service_completed_successfully" },
        },
      });
    // Roles would migrate on start otherwise; with the one-shot service one place does it.
    for (const [name, service] of roleServices) expect({ name, auto: configOf(service).database.auto_migrate }).toEqual({ name, auto: false });
    expect(dependsOn(services.migrate)).toEqual({ postgres: { condition: "service_healthy" } });
  });

  it("gives every role service a health check: the image's binary probing that service's own role", () => {
    for (const [name, service] of roleServices) {
      const role = roleOf(service)!;
      expect({ name, test: service.healthcheck?.test }).toEqual({ name, test: ["CMD", entrypoint[0], "probe", role] });
      for (const key of ["interval", "timeout", "start_period"]) expect({ name, key, ok: seconds(service.healthcheck[key]) > 0 }).toEqual({ name, key, ok: true });
    }
  });

  it("sets only environment variables hookrelay reads, and they make a valid production configuration", () => {
    const problems: string[] = [];
    for (const [name, service] of hookrelay) {
      for (const variable of Object.keys(environmentOf(service.environment)))
        if (!configReads(variable)) problems.push(`${FILE} › ${name}: ${variable} is not a variable hookrelay reads (describeConfig() or an alias)`);
      try {
        const config = configOf(service);
        const problem = backendProblem(config);
        if (problem) problems.push(`${FILE} › ${name}: ${problem}`);
        if (!config.database.url.startsWith("postgres://") || !/^redis:\/\//.test(config.redis.url) || config.kafka.brokers.length === 0)
          problems.push(`${FILE} › ${name}: not in production mode (database ${config.database.url}, redis ${config.redis.url}, kafka ${config.kafka.brokers})`);
      } catch (err) {
        problems.push(`${FILE} › ${name}: ${(err as Error).message}`);
      }
    }
    expect(problems).toEqual([]);
    // The negative case, so the check above can fail: a typo is not read.
    expect(configReads("HOOKRELAY_SERVER_GATEWAY_PROT")).toBe(false);
    expect(configReads("HOOKRELAY_ADMIN_PASSWORD")).toBe(true);
  });

  it("shares the JWT secret with every role and gives the admin password to the gateway, from the environment", () => {
    for (const [name, service] of hookrelay) {
      const raw = { ...(service.environment as Record<string, string>) };
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose's own interpolation syntax, as written in compose.yaml
      expect({ name, jwt: raw.HOOKRELAY_SECURITY_JWT_SECRET }).toEqual({ name, jwt: "${HOOKRELAY_SECURITY_JWT_SECRET:-}" });
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose's own interpolation syntax, as written in compose.yaml
      expect({ name, admin: raw.HOOKRELAY_ADMIN_PASSWORD }).toEqual({ name, admin: name === "gateway" ? "${HOOKRELAY_ADMIN_PASSWORD:-}" : undefined });
    }
    expect(services.grafana.environment.GF_SECURITY_ADMIN_PASSWORD).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD[:?}]/);
  });

  it("publishes each role's configured port (and only that), and no host port twice", () => {
    const problems: string[] = [];
    for (const [name, service] of roleServices) {
      const role = roleOf(service)!;
      const port = configOf(service).server[`${role}_port`];
      const published = (service.ports ?? []).map(containerPort);
      if (JSON.stringify(published) !== JSON.stringify([port])) problems.push(`${FILE} › ${name}: publishes container ports ${published.join(", ")}; ${role} listens on ${port}`);
    }
    const hostPorts = new Map<string, string>();
    for (const [name, service] of Object.entries(services))
      for (const entry of service.ports ?? []) {
        const parts = String(entry).split(":");
        const host = parts.length >= 2 ? parts.at(-2)! : "";
        if (!host) continue;
        if (hostPorts.has(host)) problems.push(`${FILE}: host port ${host} published by both ${hostPorts.get(host)} and ${name}`);
        hostPorts.set(host, name);
      }
    expect(problems).toEqual([]);
  });

  it("points the observability role at every other HTTP role's /metrics, on the port each listens on", () => {
    const targets = configOf(services.observability).observability.scrape_targets;
    const found = targets.map((url) => {
      const u = new URL(url);
      const service = services[u.hostname];
      const role: Role | undefined = service ? roleOf(service) : undefined;
      return { url, role, path: u.pathname, portMatches: role ? Number(u.port) === configOf(service).server[`${role}_port`] : false };
    });
    expect(found.map((f) => f.role).sort()).toEqual(HTTP_ROLES.filter((r) => r !== "observability").sort());
    for (const f of found) expect(f).toEqual({ url: f.url, role: f.role, path: "/metrics", portMatches: true });
  });

  it("waits longer than dispatcher.shutdown_timeout before killing a role", () => {
    for (const [name, service] of hookrelay) {
      const shutdown = seconds(configOf(service).dispatcher.shutdown_timeout);
      expect({ name, graceLongerThanShutdown: seconds(service.stop_grace_period ?? "10s") > shutdown }).toEqual({ name, graceLongerThanShutdown: true });
    }
  });

  it("mounts files that exist and declares every named volume; third-party images are pinned", () => {
    const problems: string[] = [];
    const declared = new Set(Object.keys(compose.volumes ?? {}));
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const mount = bindMount(volume);
        if (mount && !mount.source.startsWith("/") && !existsSync(repoPath(mount.source))) problems.push(`${FILE} › ${name}: mounts ${mount.source}, which does not exist`);
        if (!mount && !declared.has(String(volume).split(":")[0]!)) problems.push(`${FILE} › ${name}: volume ${volume} is not declared under volumes:`);
      }
      if (!service.build && (!/:[^:]+$/.test(service.image ?? "") || /:latest$/.test(service.image))) problems.push(`${FILE} › ${name}: image ${service.image} is not pinned to a version`);
    }
    expect(problems).toEqual([]);
    for (const required of ["postgres", "redis", "kafka", "schema-registry", "prometheus", "grafana", "loki", "alloy", "kafka-ui", "redis-insight"]) expect(Object.keys(services)).toContain(required);
  });
});

describe("Prometheus in compose", () => {
  const prometheus = readYaml("docker/prometheus/prometheus.yml");
  const jobs = prometheus.scrape_configs as any[];
  /** host:port pairs a job scrapes, from static_configs and dns_sd_configs. */
  const targetsOf = (job: any): string[] => [
    ...(job.static_configs ?? []).flatMap((c: any) => c.targets),
    ...(job.dns_sd_configs ?? []).flatMap((c: any) => c.names.map((n: string) => `${n}:${c.port}`)),
  ];

  it("scrapes every HTTP role's /metrics on the port it listens on, one job per role named after it", () => {
    for (const [name, service] of roleServices.filter(([, s]) => roleOf(s) !== "registry")) {
      const role = roleOf(service)!;
      const job = jobs.find((j) => j.job_name === role);
      const port = configOf(service).server[`${role}_port`];
      expect({ role, targets: job ? targetsOf(job) : [], path: job?.metrics_path ?? "/metrics" }).toEqual({ role, targets: [`${name}:${port}`], path: "/metrics" });
    }
  });

  it("does not scrape the gRPC registry over HTTP: it has no /metrics", () => {
    const registryPort = configOf(services.registry).server.registry_port;
    for (const job of jobs) for (const target of targetsOf(job)) expect({ job: job.job_name, target }).not.toEqual({ job: job.job_name, target: `registry:${registryPort}` });
  });

  it("keeps only the observability role's own series from its aggregated /metrics", () => {
    // Its samples carry instance="<LOCAL_INSTANCE>", the others' their target's host:port; Prometheus
    // renames that label exported_instance (honor_labels is off), and keeps the own ones only.
    const job = jobs.find((j) => j.job_name === "observability");
    expect(job.honor_labels ?? false).toBe(false);
    expect(job.metric_relabel_configs).toEqual([
      { source_labels: ["exported_instance"], regex: `(${LOCAL_INSTANCE})?`, action: "keep" },
      { regex: "exported_instance", action: "labeldrop" },
    ]);
  });
});

describe("Grafana and Loki in compose", () => {
  it("provisions the dashboards directory Grafana mounts, and a home dashboard that exists", () => {
    const grafana = services.grafana;
    const providers = readYaml("docker/grafana/provisioning/dashboards/dashboards.yml").providers as any[];
    expect(providers.map((p) => p.options.path)).toEqual([mountedAt(grafana, "docker/grafana/dashboards")]);
    expect(mountedAt(grafana, "docker/grafana/provisioning/datasources/datasources.yml")).toBe("/etc/grafana/provisioning/datasources/datasources.yml");
    const home = grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH as string;
    const file = [...(grafana.volumes as string[])]
      .map(bindMount)
      .filter(Boolean)
      .map((m) => (home.startsWith(`${m!.target}/`) ? `${m!.source}${home.slice(m!.target.length)}` : null))
      .find(Boolean);
    expect(file && existsSync(repoPath(file))).toBe(true);
  });

  it("runs Loki with the mounted config on the port the data source and Alloy use", () => {
    const loki = readYaml("docker/loki/loki.yml");
    const service = services.loki;
    const configPath = (service.command as string[]).find((a) => a.startsWith("-config.file="))!.split("=")[1];
    expect(mountedAt(service, "docker/loki/loki.yml")).toBe(configPath!);
    const port = loki.server.http_listen_port;
    expect((service.ports as string[]).map(containerPort)).toEqual([port]);
    const datasource = (readYaml("docker/grafana/provisioning/datasources/datasources.yml").datasources as any[]).find((d) => d.type === "loki");
    expect(datasource.url).toBe(`http://loki:${port}`);
    expect(readText("docker/alloy/config.alloy")).toContain(`url = "http://loki:${port}/loki/api/v1/push"`);
    expect(loki.schema_config.configs.length).toBeGreaterThan(0);
    expect(loki.limits_config.retention_period).toMatch(/^\d+h$/);
  });
});
