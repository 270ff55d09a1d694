// The shipped config.yaml and README stay true to the configuration schema.
import { describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describeConfig, parseConfig } from "../../src/platform/config.ts";

const ROOT = join(import.meta.dir, "../..");
const read = (file: string) => readFileSync(join(ROOT, file), "utf8");

describe("shipped configuration and docs", () => {
  it("config.yaml names every key with its default value and loads cleanly", () => {
    const text = read("config.yaml");
    const doc = Bun.YAML.parse(text) as Record<string, Record<string, unknown>>;
    const keys = describeConfig();
    expect(Object.entries(doc).flatMap(([section, values]) => Object.keys(values).map((k) => `${section}.${k}`)).sort()).toEqual(keys.map((k) => k.key).sort());
    for (const key of keys) {
      const [section, name] = key.key.split(".");
      expect({ key: key.key, value: doc[section!]![name!] }).toEqual({ key: key.key, value: key.default });
    }
    expect(() => parseConfig({ env: {}, file: { path: "config.yaml", text } })).not.toThrow();
  });

  it("the README's configuration table lists every key, variable and default", () => {
    const readme = read("README.md");
    for (const key of describeConfig()) expect(readme).toContain(`| \`${key.key}\` | \`${key.env}\` |`);
  });

  it("the README shows the two commands", () => {
    const readme = read("README.md");
    expect(readme).toContain("bun run start");
    expect(readme).toContain("bun run test");
  });
});
