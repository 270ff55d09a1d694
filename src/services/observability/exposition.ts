/**
 * @module Prometheus text exposition (format 0.0.4): read the `/metrics` of several processes and
 * write them back as one, each sample labelled with the process it came from.
 */

export interface Sample {
  /** The series name: the family's, or with a `_bucket`/`_sum`/`_count` suffix. */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: string;
  samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;
const SUFFIXES = ["_bucket", "_sum", "_count", "_total", "_created", "_info"];

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function parseLabels(text: string | undefined): Record<string, string> | null {
  const labels: Record<string, string> = {};
  if (!text) return labels;
  LABEL.lastIndex = 0;
  let consumed = 0;
  for (let match = LABEL.exec(text); match; match = LABEL.exec(text)) {
    labels[match[1]!] = unescapeLabel(match[2]!);
    consumed = LABEL.lastIndex;
  }
  return consumed === text.length ? labels : null;
}

function parseValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

/** The family a sample belongs to: the declared one its name extends, else its own name. */
function familyOf(name: string, declared: Map<string, Family>): string {
  if (declared.has(name)) return name;
  for (const suffix of SUFFIXES) if (name.endsWith(suffix) && declared.has(name.slice(0, -suffix.length))) return name.slice(0, -suffix.length);
  return name;
}

/** Families in the order they appear; lines it cannot read are skipped (one bad target line must not hide the rest). */
export function parseExposition(text: string): Family[] {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let found = families.get(name);
    if (!found) {
      found = { name, help: "", type: "untyped", samples: [] };
      families.set(name, found);
    }
    return found;
  };
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith("#")) {
      const meta = /^#\s+(HELP|TYPE)\s+(\S+)\s*(.*)$/.exec(line);
      if (!meta) continue;
      if (meta[1] === "HELP") family(meta[2]!).help = meta[3]!;
      else family(meta[2]!).type = meta[3]!;
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const labels = parseLabels(match[2]);
    const value = parseValue(match[3]!);
    if (!labels || (Number.isNaN(value) && match[3] !== "NaN")) continue;
    family(familyOf(match[1]!, families)).samples.push({ name: match[1]!, labels, value });
  }
  return [...families.values()].filter((f) => f.samples.length > 0 || f.help || f.type !== "untyped");
}

function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

export function renderExposition(families: Family[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (family.help) lines.push(`# HELP ${family.name} ${family.help}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels)
        .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
        .join(",");
      lines.push(`${sample.name}${labels ? `{${labels}}` : ""} ${formatValue(sample.value)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

export interface SourceMetrics {
  /** Put on every sample as `instance` (a sample's own `instance` label is kept as `exported_instance`). */
  instance: string;
  families: Family[];
}

/**
 * One exposition from several: families of the same name are written once (the first source's
 * help and type), with every source's samples, each labelled with its source.
 */
export function mergeSources(sources: SourceMetrics[]): Family[] {
  const merged = new Map<string, Family>();
  for (const source of sources) {
    for (const family of source.families) {
      let into = merged.get(family.name);
      if (!into) {
        into = { name: family.name, help: family.help, type: family.type, samples: [] };
        merged.set(family.name, into);
      }
      for (const sample of family.samples) {
        const { instance, ...rest } = sample.labels;
        const labels = instance === undefined ? rest : { ...rest, exported_instance: instance };
        into.samples.push({ name: sample.name, labels: { ...labels, instance: source.instance }, value: sample.value });
      }
    }
  }
  return [...merged.values()];
}
