/**
 * @module The Sender port over our own HTTP/1.1 client (`Bun.connect` sockets, keep-alive
 * connections pooled per origin). A webhook request is a POST with a small JSON body and a
 * small answer: building it as one string and parsing the answer ourselves costs a third of
 * `fetch`'s CPU per request (bench/README.md). It connects to the address the SSRF guard
 * vetted (the Host header keeps the name). `https:` targets go through `fetch` (FetchSender),
 * which brings TLS and connects to the vetted address as well, checking the certificate for the name.
 */
import type { SendRequest, SendResult, Sender, TargetResolver } from "../../domain/ports.ts";
import { type Cancel, Connections, type Origin } from "./http1/connections.ts";
import { FetchSender, failure, parseRetryAfter } from "./sender.ts";

export interface Http1SenderOptions {
  maxResponseBytes: number;
  /** The SSRF guard: it names the address to connect to, so the connection goes where the check looked. */
  resolveTarget: TargetResolver;
  userAgent: string;
  /** Idle keep-alive connections kept per origin. */
  maxIdlePerOrigin: number;
  /** How long an idle connection is kept. */
  idleTimeoutMs: number;
  /** PEM certificates trusted besides the system's, for https:// endpoints of a private CA. */
  ca?: string;
}

/** A header name or value that could end the line and start another (request smuggling). */
const LINE_BREAK = /[\r\n]/;
/** Headers this client writes itself; a webhook's own value for them is dropped. */
const FRAMING_HEADERS = new Set(["host", "content-type", "content-length", "transfer-encoding", "connection"]);

export class Http1Sender implements Sender {
  private readonly connections: Connections;
  private readonly tls: FetchSender;

  constructor(private readonly options: Http1SenderOptions) {
    this.connections = new Connections({ maxIdlePerOrigin: options.maxIdlePerOrigin, idleTimeoutMs: options.idleTimeoutMs });
    this.tls = new FetchSender(options);
  }

  async send(request: SendRequest): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return failure(elapsed(), `network: invalid URL`);
    }
    if (url.protocol === "https:") return this.tls.send(request);
    if (url.protocol !== "http:") return failure(elapsed(), `blocked: scheme ${url.protocol} is not http or https`);
    const { refused, address } = await this.options.resolveTarget(url);
    if (refused) return failure(elapsed(), `blocked: ${refused}`);
    const head = this.head(url, request);
    if (head === null) return failure(elapsed(), "blocked: a header contains a line break");
    const hostname = address ?? url.hostname.replace(/^\[|\]$/g, "");
    const origin: Origin = { key: `${url.host}@${hostname}`, hostname, port: url.port ? Number(url.port) : 80 };
    const message = head + request.body;

    const cancel: Cancel = { cancelled: false };
    let timer: Timer | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), request.timeoutMs);
    });
    try {
      const attempt = async () => {
        // A pooled connection the endpoint closed meanwhile fails before any answer: once more on a new one.
        const first = await this.connections.exchange(origin, message, this.options.maxResponseBytes, cancel);
        return !first.ok && first.stale && !cancel.cancelled ? this.connections.exchange(origin, message, this.options.maxResponseBytes, cancel) : first;
      };
      const outcome = await Promise.race([attempt(), timedOut]);
      if (outcome === "timeout") {
        cancel.cancelled = true;
        cancel.run?.();
        return failure(elapsed(), `timeout after ${request.timeoutMs}ms`);
      }
      if (!outcome.ok) return failure(elapsed(), `network: ${outcome.error}`);
      const { parser } = outcome;
      const ok = parser.status >= 200 && parser.status < 300;
      return {
        status: parser.status,
        durationMs: elapsed(),
        error: ok ? null : `HTTP ${parser.status}`,
        responseBody: parser.body(),
        retryAfterMs: parseRetryAfter(parser.headers.get("retry-after") ?? null),
      };
    } catch (err) {
      const e = err as Error & { code?: string };
      return failure(elapsed(), `network: ${e.code ?? e.message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes idle connections; requests in flight finish or time out. */
  close(): void {
    this.connections.close();
  }

  /** The request line and headers, or null when a header would break the framing. */
  private head(url: URL, request: SendRequest): string | null {
    let userAgent = this.options.userAgent;
    let lines = "";
    for (const name in request.headers) {
      const value = request.headers[name]!;
      if (LINE_BREAK.test(name) || LINE_BREAK.test(value)) return null;
      const lower = name.toLowerCase();
      if (lower === "user-agent") userAgent = value;
      else if (!FRAMING_HEADERS.has(lower)) lines += `${name}: ${value}\r\n`;
    }
    return (
      `POST ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\nuser-agent: ${userAgent}\r\n${lines}` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(request.body)}\r\n\r\n`
    );
  }
}
