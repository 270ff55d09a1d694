/**
 * @module What the operations tests read from the repository: YAML files (one or several
 * documents), compose's services and their environment, and which environment variables
 * hookrelay's configuration reads.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, describeConfig, loadConfig, parseConfig } from "../../../src/platform/config.ts";

export const ROOT = join(import.meta.dir, "../../..");

export function repoPath(path: string): string {
  return join(ROOT, path);
}

export function readText(path: string): string {
  const full = repoPath(path);
  if (!existsSync(full)) throw new Error(`${path}: file does not exist`);
  return readFileSync(full, "utf8");
}

/** One YAML document; the error names the file. */
export function readYaml(path: string): any {
  try {
    return Bun.YAML.parse(readText(path));
  } catch (err) {
    throw new Error(`${path}: not valid YAML: ${(err as Error).message}`);
  }
}

/** Every document of a multi-document YAML file (`---`), empty ones left out. */
export function readYamlDocuments(path: string): any[] {
  let parsed: unknown;
  try {
    parsed = Bun.YAML.parse(readText(path));
  } catch (err) {
    throw new Error(`${path}: not valid YAML: ${(err as Error).message}`);
  }
  // Bun.YAML answers an array for several documents, the document itself for one.
  const docs = /^---\s*$/m.test(readText(path)) && Array.isArray(parsed) ? parsed : [parsed];
  return docs.filter((doc) => doc !== null && doc !== undefined);
}

/** Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}` with no variable set: the default, or "". */
export function interpolateUnset(value: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*)|(:?\?)([^}]*))?\}/g, (_m, _name, dash, fallback) => (dash ? fallback : "")).replace(/\$\$/g, "$");
}

/** A compose `environment:` (mapping or `KEY=value` list) as a mapping, values interpolated with nothing set. */
export function environmentOf(environment: unknown): Record<string, string> {
  if (environment === undefined || environment === null) return {};
  const entries: [string, string][] = Array.isArray(environment)
    ? environment.map((item: string) => {
        const at = item.indexOf("=");
        return at < 0 ? [item, ""] : [item.slice(0, at), item.slice(at + 1)];
      })
    : Object.entries(environment as Record<string, unknown>).map(([k, v]) => [k, v === null || v === undefined ? "" : String(v)]);
  return Object.fromEntries(entries.map(([k, v]) => [k, interpolateUnset(v)]));
}

const CONFIG_VARIABLES = new Set(describeConfig().map((entry) => entry.env));
const PROBE_VALUES = ["true", "12345", "probe-value", "probe-value-long-enough-for-any-secret-0123456789"];

/**
 * Whether hookrelay reads `name`: a `HOOKRELAY_<SECTION>_<KEY>` from describeConfig(), an alias
 * (found by setting it and seeing the configuration change, or a value of it refused as coming
 * from it), or HOOKRELAY_CONFIG (the config file's path).
 */
export function configReads(name: string): boolean {
  if (CONFIG_VARIABLES.has(name)) return true;
  if (name === "HOOKRELAY_CONFIG") {
    try {
      loadConfig({ HOOKRELAY_CONFIG: "/nonexistent/hookrelay-probe.yaml" });
    } catch (err) {
      return err instanceof ConfigError && err.message.includes("HOOKRELAY_CONFIG");
    }
    return false;
  }
  const base = parseConfig({ env: {} });
  for (const value of PROBE_VALUES) {
    try {
      if (!Bun.deepEquals(parseConfig({ env: { [name]: value } }), base)) return true;
    } catch (err) {
      if (err instanceof ConfigError && err.message.includes(`[from ${name}]`)) return true;
    }
  }
  return false;
}

/** The compose services that run the hookrelay image (built from docker/Dockerfile). */
export function hookrelayServices(compose: any): [string, any][] {
  return Object.entries(compose.services as Record<string, any>).filter(
    ([, service]) => service.build?.dockerfile === "docker/Dockerfile" || String(service.image ?? "").split(":")[0] === "hookrelay",
  );
}

/** The container side of a compose `ports:` entry ("8080:8080", "127.0.0.1:8080:8080/tcp", or the long form). */
export function containerPort(entry: unknown): number {
  if (typeof entry === "object" && entry !== null) return Number((entry as { target: unknown }).target);
  const text = String(entry).replace(/\/(tcp|udp)$/, "");
  return Number(text.split(":").at(-1));
}

/** A bind-mount source inside the repository (`./docker/x:/etc/x:ro` → docker/x), or null for a named volume. */
export function bindMount(entry: unknown): { source: string; target: string } | null {
  if (typeof entry === "object" && entry !== null) {
    const v = entry as { type?: string; source?: string; target?: string };
    return v.type === "bind" && v.source && v.target ? { source: v.source.replace(/^\.\//, ""), target: v.target } : null;
  }
  const [source, target] = String(entry).split(":");
  if (!source || !target || !(source.startsWith("./") || source.startsWith("/"))) return null;
  return { source: source.replace(/^\.\//, ""), target };
}

/** Where a file of the repository appears inside a compose service's container, through its bind mounts. */
export function mountedAt(service: any, repoFile: string): string | null {
  for (const volume of service.volumes ?? []) {
    const mount = bindMount(volume);
    if (!mount || mount.source.startsWith("/")) continue;
    if (repoFile === mount.source) return mount.target;
    if (repoFile.startsWith(`${mount.source}/`)) return `${mount.target}${repoFile.slice(mount.source.length)}`;
  }
  return null;
}

/** The repository file a container path of `service` shows, through its bind mounts, or null. */
export function repoFileAt(service: any, containerPath: string): string | null {
  for (const volume of service.volumes ?? []) {
    const mount = bindMount(volume);
    if (!mount || mount.source.startsWith("/")) continue;
    if (containerPath === mount.target) return mount.source;
    if (containerPath.startsWith(`${mount.target}/`)) return `${mount.source}${containerPath.slice(mount.target.length)}`;
  }
  return null;
}

/** Seconds of a hookrelay duration ("10s", "250ms", "5m"). */
export function seconds(duration: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(duration);
  if (!m) throw new Error(`not a duration: ${duration}`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "ms" | "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit;
}
