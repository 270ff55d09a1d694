// The shipped config.yaml, the README and docs/ stay true to the configuration schema and to each other.
import { describe, expect, it } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describeConfig, parseConfig } from "../../src/platform/config.ts";

const ROOT = join(import.meta.dir, "../..");
const read = (file: string) => readFileSync(join(ROOT, file), "utf8");

/** The file the configuration table lives in (the README links to it). */
const CONFIG_DOC = "docs/configuration.md";

/** The markdown files whose relative links are checked: the README and every page under docs/. */
const MARKDOWN = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`),
];

/** The lines of a markdown text outside fenced code blocks. */
function proseLines(text: string): string[] {
  const lines: string[] = [];
  let fence: string | null = null;
  for (const line of text.split("\n")) {
    const marker = /^\s*(```+|~~~+)/.exec(line)?.[1];
    if (marker && (fence === null || marker.startsWith(fence))) {
      fence = fence === null ? marker : null;
      continue;
    }
    if (fence === null) lines.push(line);
  }
  return lines;
}

/** GitHub's anchor for a heading: its text lower-cased, punctuation dropped, spaces as hyphens. */
function slugOf(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // a link's text
    .replace(/<[^>]+>/g, "") // inline HTML
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, "").replace(/\s/g, "-");
}

/** Every anchor a markdown text has: one per heading, repeats numbered `-1`, `-2` as GitHub does. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(text)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const slug = slugOf(heading);
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** The targets of the inline links and images of a markdown text, code spans and blocks left out. */
function linksOf(text: string): string[] {
  const targets: string[] = [];
  for (const line of proseLines(text)) {
    const prose = line.replace(/(`+)[^`]*?\1/g, "");
    for (const match of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(match[1]!);
  }
  return targets;
}

/** Why a relative link of `file` is broken, or null when it points at a file (and heading) there is. */
function brokenLink(file: string, target: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // https:, mailto: ... : not ours to check
  const hash = target.indexOf("#");
  const path = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
  const anchor = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
  const resolved = path === "" ? join(ROOT, file) : path.startsWith("/") ? join(ROOT, path) : join(ROOT, dirname(file), path);
  const shown = relative(ROOT, resolved) || ".";
  if (!resolved.startsWith(ROOT)) return `${target}: leaves the repository`;
  if (!existsSync(resolved)) return `${target}: ${shown} does not exist`;
  if (anchor === null || anchor === "") return null;
  if (!resolved.endsWith(".md")) return null; // a line anchor (#L10) into a source file: GitHub's own
  if (!anchorsOf(readFileSync(resolved, "utf8")).has(anchor.toLowerCase())) return `${target}: ${shown} has no heading #${anchor}`;
  return null;
}

describe("shipped configuration and docs", () => {
  it("config.yaml names every key with its default value and loads cleanly", () => {
    const text = read("config.yaml");
    const doc = Bun.YAML.parse(text) as Record<string, Record<string, unknown>>;
    const keys = describeConfig();
    expect(
      Object.entries(doc)
        .flatMap(([section, values]) => Object.keys(values).map((k) => `${section}.${k}`))
        .sort(),
    ).toEqual(keys.map((k) => k.key).sort());
    for (const key of keys) {
      const [section, name] = key.key.split(".");
      expect({ key: key.key, value: doc[section!]![name!] }).toEqual({ key: key.key, value: key.default });
    }
    expect(() => parseConfig({ env: {}, file: { path: "config.yaml", text } })).not.toThrow();
  });

  it("the configuration table (docs/configuration.md) lists every key, variable and default", () => {
    const table = read(CONFIG_DOC);
    for (const key of describeConfig()) expect(table).toContain(`| \`${key.key}\` | \`${key.env}\` |`);
    expect({ readmeLinksToIt: read("README.md").includes(`(${CONFIG_DOC})`) }).toEqual({ readmeLinksToIt: true });
  });

  it("the README shows the two commands", () => {
    const readme = read("README.md");
    expect(readme).toContain("bun run start");
    expect(readme).toContain("bun run test");
  });

  it("every relative link in README.md and docs/*.md points at a file there is, and at a heading there is", () => {
    const broken = MARKDOWN.flatMap((file) =>
      linksOf(read(file))
        .map((target) => brokenLink(file, target))
        .filter((why): why is string => why !== null)
        .map((why) => `${file}: ${why}`),
    );
    expect(broken).toEqual([]);
    // The check itself: it finds links, and it would catch a broken one.
    expect(MARKDOWN.reduce((n, file) => n + linksOf(read(file)).length, 0)).toBeGreaterThan(20);
    expect(brokenLink("README.md", "docs/no-such-page.md")).toContain("does not exist");
    expect(brokenLink("README.md", "docs/configuration.md#no-such-heading")).toContain("has no heading");
    expect(brokenLink("docs/api.md", "#grpc-registry")).toBeNull();
  });

  it("heading anchors are GitHub's", () => {
    expect(slugOf("Dashboard (observability role)")).toBe("dashboard-observability-role");
    expect(slugOf("Why `@grpc/grpc-js`")).toBe("why-grpcgrpc-js");
    expect(slugOf("Roles and ports")).toBe("roles-and-ports");
    expect(slugOf("1. Send an event")).toBe("1-send-an-event");
    expect(anchorsOf("# A\n## A\n```\n# not a heading\n```\n## A")).toEqual(new Set(["a", "a-1", "a-2"]));
  });
});
