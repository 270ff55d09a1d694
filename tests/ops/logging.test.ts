// The log pipeline of the compose deployment: Grafana Alloy's configuration parses, its components
// are wired to Loki, and its pino stages fit the lines hookrelay really writes (read from a gateway
// started here); the Grafana log queries use only labels the pipeline sets.
import { afterAll, describe, expect, it } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { attribute, type Block, descendants, objectKeys, parseAlloy, referencesOf, stringsOf, stringValue } from "./lib/alloy.ts";
import { hookrelayServices, mountedAt, ROOT, readText, readYaml, repoPath } from "./lib/repo.ts";

const FILE = "docker/alloy/config.alloy";
const blocks = parseAlloy(readText(FILE));
const compose = readYaml("compose.yaml");
/** What each component type exports, as Alloy's reference documents it. */
const EXPORTS: Record<string, string[]> = {
  "discovery.docker": ["targets"],
  "discovery.relabel": ["output", "rules"],
  "loki.source.docker": [],
  "loki.process": ["receiver"],
  "loki.write": ["receiver"],
};
const component = (name: string) => blocks.find((b) => `${b.name}.${b.label}` === name);
const pipeline = blocks.find((b) => b.name === "loki.process")!;
const match = descendants(pipeline).find((b) => b.name === "stage.match")!;
const stage = (name: string) => descendants(match).find((b) => b.name === name);

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A gateway started in a fresh directory (embedded, port 0, no admin password): its stdout up to "hookrelay started". */
async function gatewayOutput(): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "hookrelay-logs-"));
  dirs.push(dir);
  const proc = Bun.spawn(["bun", join(ROOT, "src/cli/main.ts"), "gateway"], {
    cwd: dir,
    env: { PATH: Bun.env.PATH ?? "", HOME: Bun.env.HOME ?? "", HOOKRELAY_DATA_DIR: join(dir, "data"), HOOKRELAY_SERVER_HOST: "127.0.0.1", HOOKRELAY_SERVER_GATEWAY_PORT: "0" },
    stdout: "pipe",
    stderr: "pipe",
  });
  let out = "";
  const deadline = Date.now() + 30_000;
  const reader = proc.stdout.getReader();
  while (!out.includes('"msg":"hookrelay started"') && Date.now() < deadline) {
    const { value, done } = await Promise.race([reader.read(), Bun.sleep(1000).then(() => ({ value: undefined, done: false }))]);
    if (done) break;
    if (value) out += new TextDecoder().decode(value);
  }
  proc.kill("SIGTERM");
  await proc.exited;
  if (!out.includes('"msg":"hookrelay started"')) throw new Error(`the gateway did not start: ${out}${await new Response(proc.stderr).text()}`);
  return out.split("\n").filter(Boolean);
}

describe("log shipping (Grafana Alloy → Loki)", () => {
  it("parses, with every component labelled and every reference naming a declared component's export", () => {
    expect(blocks.map((b) => `${b.name}.${b.label}`).sort()).toEqual(
      ["discovery.docker.containers", "discovery.relabel.containers", "loki.process.hookrelay", "loki.source.docker.containers", "loki.write.loki"].sort(),
    );
    const problems: string[] = [];
    const all = (b: Block): Block[] => [b, ...descendants(b)];
    for (const block of blocks)
      for (const inner of all(block))
        for (const a of inner.attributes)
          for (const ref of referencesOf(a)) {
            const parts = ref.split(".");
            const target = component(parts.slice(0, -1).join("."));
            const exported = target ? EXPORTS[target.name] : undefined;
            if (!target || !exported?.includes(parts.at(-1)!)) problems.push(`${FILE}:${a.line} ${a.name} = ${ref}: no such component export`);
          }
    expect(problems).toEqual([]);
  });

  it("sends what it reads from Docker through the pino stages to Loki's push API", () => {
    const source = blocks.find((b) => b.name === "loki.source.docker")!;
    const hops: string[] = [];
    let at: Block | undefined = source;
    while (at && at.name !== "loki.write") {
      const next = referencesOf(attribute(at, "forward_to")!)[0]!;
      hops.push(next);
      at = component(next.split(".").slice(0, -1).join("."));
    }
    expect(hops).toEqual(["loki.process.hookrelay.receiver", "loki.write.loki.receiver"]);
    const url = new URL(stringValue(at!.blocks.find((b) => b.name === "endpoint")!, "url")!);
    expect(url.pathname).toBe("/loki/api/v1/push");
    expect(url.hostname in compose.services).toBe(true);
    // The Docker socket Alloy talks to is mounted into its container, and so is this file.
    const alloy = compose.services.alloy;
    expect(stringValue(source, "host")).toBe("unix:///var/run/docker.sock");
    expect(alloy.volumes).toContain("/var/run/docker.sock:/var/run/docker.sock:ro");
    expect(alloy.command).toContain(mountedAt(alloy, FILE));
  });

  it("parses exactly the compose services that run hookrelay as pino JSON", () => {
    const selector = stringValue(match, "selector")!;
    const m = /^\{service=~"([^"]+)"\}$/.exec(selector);
    expect(m).not.toBeNull();
    expect(m![1]!.split("|").sort()).toEqual(
      hookrelayServices(compose)
        .map(([name]) => name)
        .sort(),
    );
    // The `service` label comes from compose's own container label.
    const relabel = component("discovery.relabel.containers")!;
    const rule = relabel.blocks.find((b) => stringValue(b, "target_label") === "service")!;
    expect(stringsOf(attribute(rule, "source_labels"))).toEqual(["__meta_docker_container_label_com_docker_compose_service"]);
  });

  it("reads the fields hookrelay's log lines have, maps pino's levels, parses their time, and keeps the generated password out", async () => {
    const lines = await gatewayOutput();
    const json = lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    const plain = lines.filter((l) => !l.startsWith("{"));
    expect(json.length).toBeGreaterThan(2);
    const fields = objectKeys(attribute(stage("stage.json")!, "expressions"));
    expect(fields.sort()).toEqual(["component", "level", "msg", "role", "time"]);
    for (const field of ["level", "msg", "role", "time"]) for (const line of json) expect({ field, line, has: field in line }).toEqual({ field, line, has: true });
    expect(json.some((line) => "component" in line)).toBe(true);

    // Level names come through; pino's numeric levels are mapped to the same names.
    const template = stringValue(stage("stage.template")!, "template")!;
    for (const [number, name] of Object.entries(pino.levels.labels)) expect(template).toContain(`eq .Value "${number}" }}${name}{{`);
    for (const line of json) expect(Object.values(pino.levels.labels)).toContain(line.level);

    // RFC3339Nano reads pino's isoTime.
    expect(stringValue(stage("stage.timestamp")!, "format")).toBe("RFC3339Nano");
    for (const line of json) expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);

    // The one plain line is the generated admin password; the replace stage blanks it.
    expect(plain.length).toBe(1);
    const replace = stage("stage.replace")!;
    const redacted = plain[0]!.replace(new RegExp(stringValue(replace, "expression")!), (whole, secret: string) => whole.replace(secret, stringValue(replace, "replace")!));
    const password = /generated password: (\S+)/.exec(plain[0]!)![1]!;
    expect(redacted).not.toContain(password);
    expect(redacted).toContain("[redacted]");
  });

  it("labels lines only with low-cardinality fields, and the Grafana log queries use only labels it sets", () => {
    const labels = objectKeys(attribute(stage("stage.labels")!, "values"));
    expect(labels.sort()).toEqual(["component", "level", "role"]);
    const relabel = component("discovery.relabel.containers")!;
    const produced = new Set([...labels, ...relabel.blocks.map((b) => stringValue(b, "target_label")).filter((l): l is string => Boolean(l))]);
    const problems: string[] = [];
    const dir = "docker/grafana/dashboards";
    for (const file of readdirSync(repoPath(dir)).filter((f) => f.endsWith(".json"))) {
      const dashboard = JSON.parse(readText(`${dir}/${file}`));
      const panels = (list: any[]): any[] => list.flatMap((p) => [p, ...panels(p.panels ?? [])]);
      for (const panel of panels(dashboard.panels ?? []))
        for (const target of panel.targets ?? []) {
          if ((target.datasource?.uid ?? panel.datasource?.uid) !== "loki") continue;
          const selectors = [...String(target.expr).matchAll(/\{([^}]*)\}/g)];
          if (selectors.length === 0) problems.push(`${dir}/${file} › panel "${panel.title}": no stream selector in ${target.expr}`);
          for (const s of selectors)
            for (const m of s[1]!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)/g))
              if (!produced.has(m[1]!)) problems.push(`${dir}/${file} › panel "${panel.title}": label ${m[1]} is not set by ${FILE} (it sets ${[...produced].join(", ")})`);
        }
      for (const v of dashboard.templating?.list ?? [])
        if (v.datasource?.uid === "loki" && v.query?.label && !produced.has(v.query.label)) problems.push(`${dir}/${file} › variable $${v.name}: label ${v.query.label} is not set`);
    }
    expect(problems).toEqual([]);
  });
});
