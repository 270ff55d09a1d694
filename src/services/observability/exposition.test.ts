import { describe, expect, test } from "bun:test";
import { Counter, Histogram, Registry } from "prom-client";
import { mergeSources, parseExposition, renderExposition } from "./exposition.ts";

async function registryText(setup: (registers: Registry[]) => void): Promise<string> {
  const registry = new Registry();
  setup([registry]);
  return registry.metrics();
}

describe("Prometheus exposition", () => {
  test("reads prom-client's output back: families, types, labels, histogram series", async () => {
    const text = await registryText((registers) => {
      new Counter({ name: "a_total", help: "A counter", labelNames: ["outcome"], registers }).inc({ outcome: 'we"ird\\' }, 3);
      new Histogram({ name: "h_seconds", help: "A histogram", buckets: [0.1, 1], registers }).observe(0.5);
    });
    const families = parseExposition(text);
    expect(families.map((f) => [f.name, f.type])).toEqual([
      ["a_total", "counter"],
      ["h_seconds", "histogram"],
    ]);
    expect(families[0]!.samples).toEqual([{ name: "a_total", labels: { outcome: 'we"ird\\' }, value: 3 }]);
    const histogram = families[1]!.samples.map((s) => `${s.name}${s.labels.le ?? ""}=${s.value}`);
    expect(histogram).toEqual(["h_seconds_bucket0.1=0", "h_seconds_bucket1=1", "h_seconds_bucket+Inf=1", "h_seconds_sum=0.5", "h_seconds_count=1"]);
    // Written again, it reads the same.
    expect(parseExposition(renderExposition(families))).toEqual(families);
  });

  test("skips lines it cannot read instead of failing the whole source", () => {
    const families = parseExposition('# TYPE x counter\nx 1\nx{broken 2\ny{a="1"} not-a-number\n\nz 4 1700000000000\n');
    expect(families.flatMap((f) => f.samples.map((s) => [s.name, s.value]))).toEqual([
      ["x", 1],
      ["z", 4],
    ]);
  });

  test("merging writes each family once, every sample labelled with its source", () => {
    const a = parseExposition('# HELP c_total C\n# TYPE c_total counter\nc_total{role="gateway"} 2\n');
    const b = parseExposition('# HELP c_total C\n# TYPE c_total counter\nc_total{role="ingest",instance="x"} 5\n# TYPE g gauge\ng 7\n');
    const text = renderExposition(
      mergeSources([
        { instance: "one:1", families: a },
        { instance: "two:2", families: b },
      ]),
    );
    expect(text.match(/# TYPE c_total/g)).toHaveLength(1);
    expect(text).toContain('c_total{role="gateway",instance="one:1"} 2');
    expect(text).toContain('c_total{role="ingest",exported_instance="x",instance="two:2"} 5');
    expect(text).toContain('g{instance="two:2"} 7');
  });
});
