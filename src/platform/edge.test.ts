// The HTTP edge's bounds on a JSON body, before any costly work: nesting deeper than the limit is
// found by one pass over the text (strings skipped) and refused with 422 before JSON.parse, and
// the pass costs a fraction of the parse it guards; the configuration keys and their checks.
import { describe, expect, it } from "bun:test";
import { parseConfig } from "./config.ts";
import { createHttpApp, DEFAULT_EDGE_LIMITS, edgeLimits, idleTimeoutSeconds, nestedBeyond, readJson } from "./http.ts";
import { createLogger } from "./logger.ts";
import { createMetrics } from "./metrics.ts";

const nested = (depth: number, open = "[", close = "]") => open.repeat(depth) + close.repeat(depth);

describe("nestedBeyond", () => {
  it("allows exactly the limit and names the first character past it", () => {
    expect(nestedBeyond(nested(64), 64)).toBe(-1);
    expect(nestedBeyond(nested(65), 64)).toBe(64);
    expect(nestedBeyond(`{"a":${nested(63, '{"b":', "}")}}`, 64)).toBe(-1);
    expect(nestedBeyond(`{"a":${nested(64, '{"b":', "}")}}`, 64)).toBeGreaterThan(0);
    // Depth is the deepest point, not the count of brackets.
    expect(nestedBeyond(`[${"[],".repeat(10_000)}[]]`, 2)).toBe(-1);
  });

  it("skips brackets inside strings, escaped quotes included", () => {
    expect(nestedBeyond(JSON.stringify({ s: "[".repeat(1000) }), 2)).toBe(-1);
    expect(nestedBeyond(JSON.stringify({ s: `\\"[[[[[` }), 2)).toBe(-1); // the text holds \\\" : an escaped quote
    expect(nestedBeyond(JSON.stringify({ s: "\\", t: "[[[[" }), 2)).toBe(-1); // a string ending in an escaped backslash
    expect(nestedBeyond(JSON.stringify(["\\\\\\", [[["x"]]]]), 3)).toBe(12);
    expect(nestedBeyond(JSON.stringify({ "[[[[": 1, "{{{{": "}}}}" }), 1)).toBe(-1);
  });

  it("leaves malformed text to JSON.parse", () => {
    expect(nestedBeyond('{"open": "never closed [[[[[[', 2)).toBe(-1);
    expect(nestedBeyond("]]]]][[", 2)).toBe(-1);
    expect(nestedBeyond("", 1)).toBe(-1);
  });

  it("costs a fraction of the JSON.parse it guards, and refuses a deep body at once", () => {
    // The fastest of 3 after a first run (which also flattens a concatenated string, as a body read from a socket already is).
    const time = (f: () => unknown) => {
      f();
      let best = Infinity;
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        f();
        best = Math.min(best, performance.now() - t0);
      }
      return best;
    };
    // A 16 MiB batch of string-heavy events (the largest body ingest takes) and one of tiny objects.
    const strings = JSON.stringify({ events: Array.from({ length: 1000 }, (_, i) => ({ id: `e${i}`, type: "t", source: "s", data: { blob: 'z\\"'.repeat(5000) } })) });
    const dense = JSON.stringify({ events: Array.from({ length: 1000 }, (_, i) => ({ id: `e${i}`, type: "t", source: "s", data: Array.from({ length: 1000 }, (_, k) => ({ a: [k] })) })) });
    const figures: Record<string, number> = {};
    for (const [name, text] of [
      ["strings", strings],
      ["dense", dense],
    ] as const) {
      figures[`${name} scan ms`] = time(() => nestedBeyond(text, 64));
      figures[`${name} parse ms`] = time(() => JSON.parse(text));
      expect(nestedBeyond(text, 64)).toBe(-1);
    }
    const deep = `{"id":"x","type":"t","source":"s","data":${nested(8_000_000)}}`; // 16 MB of brackets
    figures["16 MB deep scan ms"] = time(() => nestedBeyond(deep, 64));
    console.log(
      "nesting scan vs parse:",
      JSON.stringify(figures, (_, v) => (typeof v === "number" ? Number(v.toFixed(2)) : v)),
    );
    expect(figures["strings scan ms"]!).toBeLessThan(figures["strings parse ms"]! * 1.5);
    expect(figures["dense scan ms"]!).toBeLessThan(figures["dense parse ms"]!);
    expect(figures["16 MB deep scan ms"]!).toBeLessThan(1);
  });
});

describe("readJson and the error shape", () => {
  const app = createHttpApp({ role: "test", log: createLogger("silent"), metrics: createMetrics(), checks: {} }).post("/echo", async ({ request }) => ({ got: await readJson(request, 1 << 20) }), {
    parse: "none",
  });
  const post = (body: string) => app.handle(new Request("http://localhost/echo", { method: "POST", headers: { "content-type": "application/json" }, body }));

  it("answers 422 in the error shape for a body nested past the limit, and parses one at the limit", async () => {
    const deep = await post(`{"data":${nested(120_000)}}`);
    expect(deep.status).toBe(422);
    expect(await deep.json()).toEqual({ error: { code: "validation_failed", message: "request body nests arrays and objects deeper than 64 levels (at character 71)" } });
    const atLimit = await post(`{"data":${nested(63)}}`);
    expect(atLimit.status).toBe(200);
  });

  it("still answers 400 for malformed JSON and 413 past the size", async () => {
    expect((await post("[[[")).status).toBe(400);
    expect((await post(`"${"x".repeat(1 << 20)}"`)).status).toBe(413);
  });
});

describe("edge configuration", () => {
  it("defaults: depth 64, body timeout 10 s, 512 requests in progress per IP", () => {
    const limits = edgeLimits(parseConfig({ env: {} }).security);
    expect(limits).toEqual(DEFAULT_EDGE_LIMITS);
    expect(limits).toEqual({ maxJsonDepth: 64, bodyTimeoutMs: 10_000, maxConnectionsPerIp: 512, trustForwardedFor: false });
    expect(idleTimeoutSeconds(limits)).toBe(30);
  });

  it("keeps Bun's idle timeout 10 s past a long body timeout, within Bun's 255 s", () => {
    expect(idleTimeoutSeconds({ ...DEFAULT_EDGE_LIMITS, bodyTimeoutMs: 60_000 })).toBe(70);
    expect(idleTimeoutSeconds({ ...DEFAULT_EDGE_LIMITS, bodyTimeoutMs: 240_000 })).toBe(250);
  });

  it("refuses a body timeout over 4 minutes and a depth under 1", () => {
    expect(() => parseConfig({ env: { HOOKRELAY_SECURITY_BODY_TIMEOUT: "5m" } })).toThrow("security.body_timeout: between 1ms and 4m");
    expect(() => parseConfig({ env: { HOOKRELAY_SECURITY_MAX_JSON_DEPTH: "0" } })).toThrow("security.max_json_depth");
    expect(parseConfig({ env: { HOOKRELAY_SECURITY_MAX_CONNECTIONS_PER_IP: "0" } }).security.max_connections_per_ip).toBe(0);
  });
});
