/**
 * @module The Sender port over Bun `fetch`: bounded time, no redirects, a capped answer. It
 * connects to the address the SSRF guard vetted, keeping the name for the Host header and the
 * TLS server name, so a DNS answer that changes after the check is never the one connected to.
 */
import type { Sender, SendRequest, SendResult, TargetResolver } from "../../domain/ports.ts";

export interface FetchSenderOptions {
  /** Bytes of the response body kept; the rest is not read. */
  maxResponseBytes: number;
  /** The SSRF guard: refuses a target, or names the address to connect to. */
  resolveTarget: TargetResolver;
  userAgent: string;
  /** PEM certificates trusted besides the system's, for endpoints of a private CA. */
  ca?: string;
}

/** Origins remembered for connection isolation; the oldest is forgotten past this. */
const MAX_ORIGINS = 10_000;

/** Handshake failures that mean "no trusted root for this chain": another set of roots may verify it. */
const UNTRUSTED_CHAIN = new Set(["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT"]);

export class FetchSender implements Sender {
  /**
   * Each origin's one customer, or null once a second customer sent there. Bun's fetch can take a
   * stray answer a receiver pushed down a kept-alive connection as the next request's answer when it
   * reuses the connection at once (tests/e2e/stray-response.test.ts measured 4-6%); so requests to
   * an origin two customers use never reuse a connection, and one customer's server can never answer
   * another customer's delivery. An origin only one customer uses keeps its connections alive.
   */
  private readonly origins = new Map<string, string | null>();
  /**
   * Origins whose certificate only `ca` verified. Bun's `tls.ca` replaces the system's roots instead
   * of adding to them, and handing it the whole system bundle costs ~250 CPU-µs per request (it is
   * read again each time); so each origin is sent with one set, the system's or `ca`, and switches
   * when its chain is untrusted under the one it has.
   */
  private readonly caOrigins = new Set<string>();

  constructor(private readonly options: FetchSenderOptions) {}

  /** True while only `customerId` has sent to this origin (connect address, port and TLS name). */
  private mayReuse(origin: string, customerId: string): boolean {
    const seen = this.origins.get(origin);
    if (seen === undefined) {
      if (this.origins.size >= MAX_ORIGINS) this.origins.delete(this.origins.keys().next().value!);
      this.origins.set(origin, customerId);
      return true;
    }
    if (seen === customerId) return true;
    this.origins.set(origin, null);
    return false;
  }

  async send(request: SendRequest): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return failure(elapsed(), "network: invalid URL");
    }
    const { refused, address } = await this.options.resolveTarget(url);
    if (refused) return failure(elapsed(), `blocked: ${refused}`);
    const name = url.hostname.replace(/^\[|\]$/g, "");
    const pinned = address !== null && address !== name;
    const target = pinned ? new URL(url) : url;
    if (pinned) target.hostname = address.includes(":") ? `[${address}]` : address;
    const origin = `${target.host} ${name}`;
    const serverName = pinned && url.protocol === "https:" ? { serverName: name } : {};
    // A timer cleared when the exchange ends, not AbortSignal.timeout: that one lives (with its
    // signal) for the whole timeout after the answer, and at 11k deliveries/s × 30 s the live ones
    // held ~500 MiB (RSS grew with every delivery of a 200,000-event backlog, bench/README.md).
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DOMException(`timeout after ${request.timeoutMs}ms`, "TimeoutError")), request.timeoutMs);
    const signal = controller.signal;
    const post = (ca: string | undefined) => {
      const tls = { ...serverName, ...(ca ? { ca } : {}) };
      return fetch(target, {
        method: "POST",
        headers: { "user-agent": this.options.userAgent, ...request.headers, ...(pinned ? { host: url.host } : {}), "content-type": "application/json" },
        body: request.body,
        redirect: "manual",
        keepalive: this.mayReuse(origin, request.customerId),
        signal,
        ...(Object.keys(tls).length > 0 ? { tls } : {}),
      });
    };
    try {
      const response = url.protocol === "https:" && this.options.ca ? await this.postTrusted(origin, this.options.ca, post) : await post(undefined);
      const responseBody = storable(await readCapped(response, this.options.maxResponseBytes));
      const ok = response.status >= 200 && response.status < 300;
      return {
        status: response.status,
        durationMs: elapsed(),
        error: ok ? null : `HTTP ${response.status}`,
        responseBody,
        retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
      };
    } catch (err) {
      const e = err as Error & { code?: string };
      const timedOut = e.name === "TimeoutError" || e.name === "AbortError";
      return failure(elapsed(), timedOut ? `timeout after ${request.timeoutMs}ms` : `network: ${e.code ?? e.message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Posts with the roots that verified `origin` last (the system's unless `ca` did); a chain they
   * do not trust is tried once with the other roots. The handshake failed before any byte of the
   * request was written, so the second try cannot deliver twice.
   */
  private async postTrusted(origin: string, ca: string, post: (ca: string | undefined) => Promise<Response>): Promise<Response> {
    const withCa = this.caOrigins.has(origin);
    try {
      return await post(withCa ? ca : undefined);
    } catch (err) {
      if (!UNTRUSTED_CHAIN.has((err as { code?: string }).code ?? "")) throw err;
      const response = await post(withCa ? undefined : ca);
      if (withCa) this.caOrigins.delete(origin);
      else {
        if (this.caOrigins.size >= MAX_ORIGINS) this.caOrigins.delete(this.caOrigins.values().next().value!);
        this.caOrigins.add(origin);
      }
      return response;
    }
  }
}

/** A send that got no answer: `status` null, with the reason. */
export function failure(durationMs: number, error: string): SendResult {
  return { status: null, durationMs, error, responseBody: null, retryAfterMs: null };
}

/** Reads at most `limit` bytes of the body and drops the rest. */
async function readCapped(response: Response, limit: number): Promise<string | null> {
  if (!response.body) return null;
  // A declared length within the cap (most answers: empty or short) is read whole, without a stream reader.
  const declared = response.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) <= limit) {
    const text = limit === 0 ? "" : await response.text();
    return text.length > 0 ? text : null;
  }
  if (limit === 0) {
    await response.body.cancel();
    return null;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    if (size >= limit) await reader.cancel().catch(() => {});
    else reader.releaseLock();
  }
  const text = Buffer.concat(chunks).subarray(0, limit).toString("utf8");
  return text.length > 0 ? text : null;
}

/**
 * A receiver's answer as text any store can keep: NUL as U+FFFD. PostgreSQL's text cannot hold
 * NUL, and one attempt that cannot be written held back the outcomes written with it: a receiver
 * answering `ok\0` stalled every delivery's record in the production deployment.
 */
function storable(body: string | null): string | null {
  return body?.includes("\u0000") ? body.replaceAll("\u0000", "\uFFFD") : body;
}

/** Retry-After in seconds or as an HTTP date, as milliseconds from now. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
