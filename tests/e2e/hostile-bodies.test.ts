// Hostile JSON bodies over real sockets, in both deployments: nesting past security.max_json_depth
// is refused with 422 before any parsing on every route that takes JSON (ingest single and batch,
// the gateway's /api/v1 routes and login, OAuth, the observability role's login), another tenant's
// ingest stays fast while two clients loop 120,000-deep bodies, and a property-based fuzz of deep
// nesting, huge numbers, long strings, escapes and invalid UTF-8 never gets a 5xx.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import fc from "fast-check";
import { adminToken, client, type Instance, startInProcess } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

/** `depth` levels of arrays, or of objects `{"k":…}`: the whole value is `depth` deep. */
const nested = (depth: number, kind: "array" | "object" = "array") => (kind === "array" ? "[".repeat(depth) + "]".repeat(depth) : `${'{"k":'.repeat(depth - 1)}{}${"}".repeat(depth - 1)}`);
/** An event whose body nests `depth` levels in all (its own object is the first). */
const eventNested = (id: string, depth: number) => `{"id":"${id}","type":"deep.test","source":"s","data":${nested(depth - 1)}}`;

interface Answer {
  status: number;
  body: any;
  text: string;
  ms: number;
}

async function send(url: string, token: string | null, body: string | Uint8Array, method = "POST"): Promise<Answer> {
  const t0 = performance.now();
  const res = await fetch(url, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), "content-type": "application/json" }, body });
  const text = await res.text();
  const ms = performance.now() - t0;
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, text, ms };
}

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))]!;

describe.each(MODES)("hostile JSON bodies (%s)", (mode) => {
  let hr: Instance;
  let token: string;
  let webhookId: string;
  const run = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    hr = await startInProcess({
      ...(await modeEnv(mode)),
      HOOKRELAY_SECURITY_OAUTH2_ENABLED: "true",
      HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_CUSTOMER: "0",
      HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_IP: "0",
    });
    token = await adminToken(hr.gateway);
    const created = await client(hr.gateway, token)("POST", "/api/v1/webhooks", { url: "http://127.0.0.1:9/hostile", event_types: ["nothing.matches"] });
    expect(created.status).toBe(201);
    webhookId = created.body.id;
  });
  afterAll(() => hr.stop());

  /** Every route that reads a JSON body, with the token it needs (null: none) and its body limit. */
  const jsonRoutes = (): [string, string, string | null, number][] => [
    ["POST", `${hr.ingest}/events`, token, 256 * 1024],
    ["POST", `${hr.ingest}/events/batch`, token, 16 * 1024 * 1024],
    ["POST", `${hr.gateway}/api/v1/events`, token, 256 * 1024],
    ["POST", `${hr.gateway}/api/v1/events/batch`, token, 16 * 1024 * 1024],
    ["POST", `${hr.gateway}/api/v1/webhooks`, token, 64 * 1024],
    ["PUT", `${hr.gateway}/api/v1/webhooks/${webhookId}`, token, 64 * 1024],
    ["PATCH", `${hr.gateway}/api/v1/webhooks/${webhookId}`, token, 64 * 1024],
    ["POST", `${hr.gateway}/api/v1/customers`, token, 64 * 1024],
    ["POST", `${hr.gateway}/api/v1/customers/default/api-keys`, token, 64 * 1024],
    ["POST", `${hr.gateway}/auth/login`, null, 64 * 1024],
    ["POST", `${hr.observability}/auth/login`, null, 64 * 1024],
  ];

  it("refuses nesting past 64 levels with 422 on every JSON route, at once, whatever the depth (413 past the route's size first)", async () => {
    const seen: string[] = [];
    for (const depth of [65, 3_000, 30_000, 120_000]) {
      const body = `{"id":"deep-${run}","type":"t","source":"s","data":${nested(depth - 1)},"events":[]}`;
      for (const [method, url, auth, limit] of jsonRoutes()) {
        const answer = await send(url, auth, body, method);
        seen.push(`${method} ${new URL(url).pathname} ${depth}: ${answer.status} ${answer.ms.toFixed(0)} ms`);
        const expected = body.length > limit ? { status: 413, code: "payload_too_large" } : { status: 422, code: "validation_failed" };
        expect({ url, depth, status: answer.status, code: answer.body?.error?.code }).toEqual({ url, depth, ...expected });
        if (expected.status === 422) expect(answer.body.error.message).toStartWith("request body nests arrays and objects deeper than 64 levels (at character ");
        expect(answer.ms).toBeLessThan(500);
      }
    }
    console.log(`${mode}: deep bodies refused:`, seen.filter((s) => s.includes(" 30000:") || s.includes(" 120000:")).join("; "));
    // OAuth answers in its own shape (RFC 6749), never 5xx.
    const oauth = await send(`${hr.gateway}/oauth/token`, null, `{"grant_type":${nested(120_000)}}`);
    expect(oauth.status).toBe(400);
    expect(oauth.body.error).toBe("invalid_request");
  });

  it("accepts an event nested exactly 64 deep, and one more level is refused", async () => {
    expect((await send(`${hr.ingest}/events`, token, eventNested(`at-limit-${run}`, 64))).status).toBe(202);
    const over = await send(`${hr.ingest}/events`, token, eventNested(`over-limit-${run}`, 65));
    expect(over.status).toBe(422);
    const batch = `{"events":[${eventNested(`in-batch-${run}`, 62)}]}`; // the batch's object and array are 2 levels
    expect((await send(`${hr.ingest}/events/batch`, token, batch)).status).toBe(202);
    expect((await send(`${hr.ingest}/events/batch`, token, `{"events":[${eventNested(`in-batch-over-${run}`, 63)}]}`)).status).toBe(422);
  });

  it("keeps another tenant's ingest fast while two clients loop 120,000-deep bodies", async () => {
    const admin = client(hr.gateway, token);
    const customer = `calm-${mode}-${run}`;
    expect((await admin("POST", "/api/v1/customers", { id: customer, name: customer })).status).toBe(201);
    const key = (await admin("POST", `/api/v1/customers/${customer}/api-keys`, { name: "calm", scopes: ["events:write"] })).body.key as string;
    const deep = eventNested(`hammer-${run}`, 120_000);
    let hammering = true;
    const refused: number[] = [];
    const hammer = async () => {
      while (hammering) refused.push((await send(`${hr.ingest}/events`, token, deep)).status);
    };
    const hammers = [hammer(), hammer()];
    const latencies: number[] = [];
    for (let i = 0; i < 40; i++) {
      const answer = await send(`${hr.ingest}/events`, key, JSON.stringify({ id: `calm-${run}-${i}`, type: "t", source: "s", data: { i } }));
      expect(answer.status).toBe(202);
      latencies.push(answer.ms);
    }
    hammering = false;
    await Promise.all(hammers);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    console.log(`${mode}: other tenant's ingest while ${refused.length} 120,000-deep bodies were refused: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);
    expect(new Set(refused)).toEqual(new Set([422]));
    expect(refused.length).toBeGreaterThan(40);
    expect(p50).toBeLessThan(100);
  });

  it("stores valid events with awkward values and reads them back, or refuses them with a 4xx", async () => {
    const cases: Record<string, string> = {
      "huge numbers": `{"big":1e400,"small":1e-400,"long":1${"0".repeat(400)},"exact":9007199254740993}`,
      "NUL and lone surrogates in data": JSON.stringify({ s: "a\u0000b\ud800c\udfff" }),
      "long string": JSON.stringify("x".repeat(200_000)),
      "escaped brackets": JSON.stringify("[{".repeat(50_000)),
    };
    // "escaped NUL": shrunk from the property below (production answered 500: PostgreSQL's text cannot hold NUL).
    const sources: Record<string, string> = {
      plain: '"s"',
      NUL: '"a\u0000b"',
      "escaped NUL": '"\\u0000"',
      "lone surrogate": '"a\ud800b"',
      "U+FFFF": '"\uffff"',
      "invalid UTF-8 (replaced)": '"a\ufffdb"',
    };
    const outcomes: string[] = [];
    let i = 0;
    for (const [what, data] of Object.entries(cases))
      for (const [sourceWhat, source] of Object.entries(sources)) {
        const id = `awkward-${run}-${i++}`;
        const answer = await send(`${hr.ingest}/events`, token, `{"id":"${id}","type":"t","source":${source},"data":${data}}`);
        outcomes.push(`${what} / source ${sourceWhat}: ${answer.status}`);
        expect({ what, sourceWhat, server_error: answer.status >= 500, text: answer.status >= 500 ? answer.text : "" }).toEqual({ what, sourceWhat, server_error: false, text: "" });
        if (sourceWhat === "escaped NUL") expect({ what, sourceWhat, status: answer.status, code: answer.body?.error?.code }).toEqual({ what, sourceWhat, status: 422, code: "validation_failed" });
        if (answer.status === 202) {
          const read = await send(`${hr.gateway}/api/v1/events/${id}`, token, "", "GET").catch(() => null);
          expect({ what, sourceWhat, read: read?.status }).toEqual({ what, sourceWhat, read: 200 });
        } else expect(typeof answer.body?.error?.code).toBe("string");
      }
    // Invalid UTF-8 bytes in a field: decoded with U+FFFD, never a 5xx.
    const bad = new Uint8Array([...new TextEncoder().encode(`{"id":"awkward-${run}-bytes","type":"t","source":"a`), 0xff, 0xc0, 0xaf, ...new TextEncoder().encode('b","data":{}}')]);
    const answer = await send(`${hr.ingest}/events`, token, bad);
    outcomes.push(`invalid UTF-8 bytes in source: ${answer.status}`);
    expect(answer.status).toBeLessThan(500);
    console.log(`${mode}: awkward values:`, outcomes.join("; "));
  });

  it("answers a NUL character in a free-text field or a query with a 2xx or a well-formed 4xx, never a 5xx", async () => {
    // PostgreSQL's text cannot hold NUL; SQLite's can. Either way no 500.
    const nul = "a\u0000b";
    const answers = {
      "webhook description": await send(`${hr.gateway}/api/v1/webhooks`, token, JSON.stringify({ url: "http://127.0.0.1:9/nul", event_types: ["x"], description: nul })),
      "customer name": await send(`${hr.gateway}/api/v1/customers`, token, JSON.stringify({ id: `nul-${run}`, name: nul })),
      "login username": await send(`${hr.gateway}/auth/login`, null, JSON.stringify({ username: nul, password: "x" })),
      "deliveries by event id": await send(`${hr.gateway}/api/v1/deliveries?event_id=${encodeURIComponent(nul)}`, token, "", "GET"),
      "event by id": await send(`${hr.gateway}/api/v1/events/${encodeURIComponent(nul)}`, token, "", "GET"),
    };
    const statuses = Object.fromEntries(Object.entries(answers).map(([what, a]) => [what, a.status]));
    console.log(`${mode}: NUL in text:`, JSON.stringify(statuses));
    for (const [what, answer] of Object.entries(answers)) {
      expect({ what, server_error: answer.status >= 500, text: answer.status >= 500 ? answer.text : "" }).toEqual({ what, server_error: false, text: "" });
      if (answer.status >= 400) expect(typeof answer.body?.error?.code).toBe("string");
    }
  });

  it("answers any hostile body with a 2xx or a well-formed 4xx, never a 5xx", async () => {
    const encoder = new TextEncoder();
    const concat = (...parts: (string | Uint8Array)[]) => {
      const bytes = parts.map((p) => (typeof p === "string" ? encoder.encode(p) : p));
      const out = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
      let at = 0;
      for (const b of bytes) {
        out.set(b, at);
        at += b.length;
      }
      return out;
    };
    const deepValue = fc.record({ depth: fc.integer({ min: 1, max: 150_000 }), kind: fc.constantFrom("array" as const, "object" as const), cut: fc.nat(20) }).map(({ depth, kind, cut }) => {
      const text = nested(depth, kind);
      return cut === 0 ? text.slice(0, text.length - 1 - (depth % 7)) : text; // sometimes unbalanced
    });
    const hugeNumber = fc.constantFrom("1e400", "-1e400", "1e-400", `1${"0".repeat(400)}`, `0.${"0".repeat(400)}1`, "123456789012345678901234567890", "-0", "1E+999999999", "9007199254740993");
    const longString = fc.oneof(
      fc.integer({ min: 1, max: 300_000 }).map((n) => JSON.stringify("x".repeat(n))),
      fc.integer({ min: 1, max: 20_000 }).map((n) => `"${"\\u0000".repeat(n)}"`),
      fc.integer({ min: 1, max: 20_000 }).map((n) => `"${"\\ud800".repeat(n)}"`),
      fc.integer({ min: 1, max: 20_000 }).map((n) => `"${'\\"['.repeat(n)}"`),
    );
    const invalidUtf8 = fc.constantFrom(
      new Uint8Array([0xff]),
      new Uint8Array([0xfe, 0xff]),
      new Uint8Array([0xc0, 0xaf]),
      new Uint8Array([0xed, 0xa0, 0x80]), // a surrogate in UTF-8
      new Uint8Array([0xe2, 0x82]), // cut short
      new Uint8Array([0x80, 0x80, 0x80]),
      new Uint8Array([0xf4, 0x90, 0x80, 0x80]), // past U+10FFFF
      new Uint8Array([0xef, 0xbb, 0xbf]), // a BOM
      new Uint8Array([0x00]),
    );
    const value = fc.oneof(
      deepValue,
      hugeNumber,
      longString,
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? "null"),
    );
    const text = fc.oneof(
      fc.string({ maxLength: 40 }).map((s) => JSON.stringify(s)),
      value,
    );
    // Hostile values in each field of an event, a batch of them, bare values, and invalid bytes spliced in anywhere.
    const event = fc
      .record({
        id: fc.oneof({ weight: 4, arbitrary: fc.uuid().map((u) => `"fz-${u}"`) }, { weight: 1, arbitrary: text }),
        type: fc.oneof({ weight: 4, arbitrary: fc.constant('"t"') }, { weight: 1, arbitrary: text }),
        source: fc.oneof({ weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 60 }).map((s) => JSON.stringify(s)) }, { weight: 1, arbitrary: text }),
        data: value,
        timestamp: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.oneof(hugeNumber, text) }),
      })
      .map((e) => `{"id":${e.id},"type":${e.type},"source":${e.source},"data":${e.data}${e.timestamp !== undefined ? `,"timestamp":${e.timestamp}` : ""}}`);
    const body = fc.oneof(
      { weight: 4, arbitrary: event.map((e) => encoder.encode(e)) },
      { weight: 2, arbitrary: fc.array(event, { minLength: 1, maxLength: 4 }).map((events) => encoder.encode(`{"events":[${events.join(",")}]}`)) },
      { weight: 2, arbitrary: value.map((v) => encoder.encode(v)) },
      {
        weight: 3,
        arbitrary: fc.tuple(event, invalidUtf8, fc.double({ min: 0, max: 1, noNaN: true })).map(([e, bad, where]) => {
          const at = Math.floor(e.length * where);
          return concat(e.slice(0, at), bad, e.slice(at));
        }),
      },
      { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 30 }), invalidUtf8).map(([s, bad]) => concat(`{"id":"${s.replace(/["\\]/g, "")}`, bad, `","type":"t","source":"s","data":{}}`)) },
    );
    const routes = fc.constantFrom(
      ...jsonRoutes()
        .filter(([, url]) => !url.endsWith("/auth/login"))
        .map(([method, url, auth]) => [method, url, auth] as const),
    );
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(routes, body, async ([method, url, auth], bytes) => {
        const answer = await send(url, auth, bytes, method);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const summary = `${method} ${url} ${new TextDecoder().decode(bytes.slice(0, 160))} → ${answer.status} ${answer.text.slice(0, 200)}`;
        expect({ summary, server_error: answer.status >= 500 }).toEqual({ summary, server_error: false });
        if (answer.status >= 400) {
          expect({ summary, code: typeof answer.body?.error?.code, message: typeof answer.body?.error?.message }).toEqual({ summary, code: "string", message: "string" });
          expect(answer.text).not.toContain("    at ");
        }
      }),
      { numRuns: 200 },
    );
    console.log(`${mode}: hostile-body statuses`, JSON.stringify(Object.fromEntries(statuses)));
    expect([...statuses.keys()]).toEqual(expect.arrayContaining([400, 413, 422]));
    // Logins too, fewer of them (they are rate limited per IP; 429 is an answer too).
    for (const depthOrBytes of [nested(100_000), `{"username":"admin","password":${nested(70)}}`, `{"username":"a\\u0000","password":"${"p".repeat(60_000)}"}`]) {
      for (const url of [`${hr.gateway}/auth/login`, `${hr.observability}/auth/login`]) {
        const answer = await send(url, null, concat(depthOrBytes.slice(0, 20), new Uint8Array([0xff]), depthOrBytes.slice(20)));
        expect({ url, status: answer.status < 500, code: typeof answer.body?.error?.code }).toEqual({ url, status: true, code: "string" });
      }
    }
    // Still serving, and sound.
    expect((await send(`${hr.ingest}/events`, token, JSON.stringify({ id: `after-${run}`, type: "t", source: "s", data: {} }))).status).toBe(202);
  });
});
