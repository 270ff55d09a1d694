/**
 * @module The benchmark's webhook receiver, in its own Bun process (it shares the cores with
 * everything, so it stays lean). Prints `{"port":N,"ports":[...]}` once listening on 127.0.0.1
 * (PORT, default 0; PORTS=N adds N more listening ports, for many origins). With TLS_CERT_FILE and
 * TLS_KEY_FILE it serves https on every port (`bun run bench --receiver=https`).
 *
 * Deliveries (requests with a `webhook-id`) are counted per (path, event id), the body's first
 * field (one to one with webhook-id, which is derived from the customer and event id): ids ending
 * in `_<n>` go to a byte array per (path, id prefix), others to a map. Every SIG_EVERY-th delivery
 * to a path with a configured secret has its Standard Webhooks signature checked. The latency
 * ingest→delivery comes from `"sent_at_ms":<wall-clock ms>` in the body (a regex, no JSON.parse).
 * Paths: `/fail/…` answers 500, `/slow/…` answers 200 after SLOW_MS (5000); anything else 204
 * and is "healthy". Connections are counted as distinct (listening port, client port) pairs.
 *
 *   GET /_stats [?quick]  totals, duplicates, signatures, latency p50/p99/max (all, healthy)
 *   POST /_reset          clears the counters of a step (secrets stay)
 *   POST /_config         {"secrets":{"/path":"whsec_…"},"sig_every":N}
 *   GET /stats            {"received":N} (requests of any kind; the fetch ceiling's use)
 */
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";

const SLOW_MS = Number(process.env.SLOW_MS ?? 5000);
const SENT_AT = /"sent_at_ms":(\d+(?:\.\d+)?)/;
const EVENT_ID = /^\{"id":"([^"]*)"/;

let sigEvery = Number(process.env.SIG_EVERY ?? 50);
const keys = new Map<string, Buffer>();

class Latencies {
  values = new Float64Array(1024);
  count = 0;
  push(v: number): void {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count++] = v;
  }
}

function fresh() {
  return {
    received: 0,
    deliveries: 0,
    distinct: 0,
    duplicates: 0,
    healthy: { deliveries: 0, distinct: 0, duplicates: 0 },
    failed_answers: 0,
    slow_answers: 0,
    signatures: { checked: 0, bad: 0, unsigned: 0 },
    no_sent_at: 0,
    healthyLatency: new Latencies(),
    otherLatency: new Latencies(),
    seen: new Map<string, Uint8Array>(),
    seenOther: new Map<string, number>(),
    connections: new Set<number>(),
  };
}
let s = fresh();

/** Counts one delivery of `id` to `path`; true when it is the first. */
function firstDelivery(path: string, id: string): boolean {
  const cut = id.lastIndexOf("_");
  const n = cut > 0 ? Number(id.slice(cut + 1)) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > 50_000_000) {
    const key = `${path}|${id}`;
    const seen = s.seenOther.get(key) ?? 0;
    s.seenOther.set(key, seen + 1);
    return seen === 0;
  }
  const key = `${path}|${id.slice(0, cut)}`;
  let counts = s.seen.get(key);
  if (!counts || counts.length <= n) {
    const grown = new Uint8Array(Math.max(1024, 2 ** Math.ceil(Math.log2(n + 1))));
    if (counts) grown.set(counts);
    counts = grown;
    s.seen.set(key, counts);
  }
  const seen = counts[n]!;
  if (seen < 255) counts[n] = seen + 1;
  return seen === 0;
}

function verify(key: Buffer, headers: Headers, id: string, body: string): boolean {
  const timestamp = headers.get("webhook-timestamp");
  const signature = headers.get("webhook-signature");
  if (!timestamp || !signature) return false;
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest("base64");
  return signature.split(" ").some((entry) => entry === `v1,${expected}`);
}

function summary(l: Latencies): { count: number; p50: number; p99: number; max: number } {
  if (l.count === 0) return { count: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const sorted = l.values.slice(0, l.count).sort();
  const at = (p: number) => Math.round(sorted[Math.min(l.count - 1, Math.floor((p / 100) * l.count))]! * 100) / 100;
  return { count: l.count, p50: at(50), p99: at(99), max: Math.round(sorted[l.count - 1]! * 100) / 100 };
}

function stats(quick: boolean) {
  const { healthyLatency, otherLatency, seen, seenOther, connections, ...totals } = s;
  const base = { ...totals, connections: connections.size };
  if (quick) return base;
  const all = new Latencies();
  all.values = new Float64Array(healthyLatency.count + otherLatency.count);
  all.values.set(healthyLatency.values.subarray(0, healthyLatency.count));
  all.values.set(otherLatency.values.subarray(0, otherLatency.count), healthyLatency.count);
  all.count = all.values.length;
  return { ...base, latency_ms: summary(all), healthy_latency_ms: summary(healthyLatency) };
}

async function control(request: Request, path: string): Promise<Response> {
  if (path === "/_stats") return Response.json(stats(request.url.includes("quick")));
  if (path === "/_reset") {
    s = fresh();
    return Response.json({ ok: true });
  }
  if (path === "/_config") {
    const body = (await request.json()) as { secrets?: Record<string, string>; sig_every?: number };
    for (const [p, secret] of Object.entries(body.secrets ?? {})) keys.set(p, Buffer.from(secret.replace(/^whsec_/, ""), "base64"));
    if (body.sig_every) sigEvery = body.sig_every;
    return Response.json({ ok: true, secrets: keys.size, sig_every: sigEvery });
  }
  return Response.json({ received: s.received });
}

async function handle(request: Request, server: Bun.Server<undefined>): Promise<Response> {
  const id = request.headers.get("webhook-id");
  if (id === null) {
    const path = new URL(request.url).pathname;
    if (path.startsWith("/_") || (request.method === "GET" && path === "/stats")) return control(request, path);
    s.received++;
    await request.arrayBuffer();
    return new Response(null, { status: 204 });
  }
  s.received++;
  const body = await request.text();
  const url = request.url;
  const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
  const remote = server.requestIP(request);
  if (remote) s.connections.add(server.port! * 65536 + remote.port);
  if (path.startsWith("/fail/")) {
    s.failed_answers++;
    return new Response("failing on purpose", { status: 500 });
  }
  const slow = path.startsWith("/slow/");
  if (slow) await Bun.sleep(SLOW_MS);
  const now = performance.timeOrigin + performance.now();
  s.deliveries++;
  if (firstDelivery(path, EVENT_ID.exec(body)?.[1] ?? id)) {
    s.distinct++;
    if (!slow) s.healthy.distinct++;
  } else {
    s.duplicates++;
    if (!slow) s.healthy.duplicates++;
  }
  const key = keys.get(path);
  if (key === undefined) s.signatures.unsigned++;
  else if (s.deliveries % sigEvery === 0) {
    s.signatures.checked++;
    if (!verify(key, request.headers, id, body)) s.signatures.bad++;
  }
  const sentAt = SENT_AT.exec(body);
  if (sentAt) (slow ? s.otherLatency : s.healthyLatency).push(now - Number(sentAt[1]));
  else s.no_sent_at++;
  if (slow) {
    s.slow_answers++;
    return new Response("slow", { status: 200 });
  }
  s.healthy.deliveries++;
  return new Response(null, { status: 204 });
}

const host = process.env.HOST ?? "127.0.0.1";
const tls = process.env.TLS_CERT_FILE ? { cert: readFileSync(process.env.TLS_CERT_FILE, "utf8"), key: readFileSync(process.env.TLS_KEY_FILE ?? "", "utf8") } : undefined;
const listen = (port: number) => Bun.serve({ port, hostname: host, fetch: handle, ...(tls ? { tls } : {}) });
const main = listen(Number(process.env.PORT ?? 0));
const extra = Array.from({ length: Number(process.env.PORTS ?? 0) }, () => listen(0).port!);
console.log(JSON.stringify({ port: main.port, ports: extra }));
