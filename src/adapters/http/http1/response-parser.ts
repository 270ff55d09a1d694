/**
 * @module An incremental HTTP/1.1 response parser: status, headers, and a body framed by
 * Content-Length, chunked encoding or the end of the connection, of which only the first
 * `maxBodyBytes` are kept. It says when the answer is complete and whether the connection
 * may carry another request.
 */

const CRLF = Buffer.from("\r\n");
const HEAD_END = Buffer.from("\r\n\r\n");
/** A status line and headers longer than this are refused (no endpoint needs more). */
const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 8 * 1024;

export class MalformedResponse extends Error {}

type State = "head" | "length" | "chunk-size" | "chunk-data" | "chunk-end" | "trailers" | "until-close" | "done";

export class ResponseParser {
  status = 0;
  /** Lower-cased header names; repeated headers joined with ", ". */
  readonly headers = new Map<string, string>();
  /** True once the answer is complete when the connection may be used again. */
  reusable = false;
  /** Bytes of the answer seen so far (head included): none means the peer never answered. */
  receivedBytes = 0;
  private state: State = "head";
  private pending: Buffer = Buffer.alloc(0);
  private remaining = 0;
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;

  constructor(private readonly maxBodyBytes: number) {}

  /** The kept start of the body as text; null when the body was empty. */
  body(): string | null {
    if (this.keptBytes === 0) return null;
    return Buffer.concat(this.kept, this.keptBytes).toString("utf8");
  }

  /** Takes the next bytes from the connection; true once the answer is complete. */
  push(chunk: Buffer): boolean {
    this.receivedBytes += chunk.byteLength;
    let data = this.pending.byteLength > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (data.byteLength > 0 && this.state !== "done") data = this.step(data);
    // Bytes after a complete answer (nothing was asked for): the connection is not trusted again.
    if (this.state === "done" && data.byteLength > 0) this.reusable = false;
    return this.state === "done";
  }

  /** The peer closed the connection: true when that completes the answer (a body read until close). */
  end(): boolean {
    if (this.state === "until-close") {
      this.state = "done";
      this.reusable = false;
    }
    return this.state === "done";
  }

  /** Consumes what it can of `data` in the current state; returns the rest. */
  private step(data: Buffer): Buffer {
    switch (this.state) {
      case "head":
        return this.readHead(data);
      case "length": {
        const rest = this.takeBody(data);
        if (this.remaining === 0) this.state = "done";
        return rest;
      }
      case "until-close":
        this.keep(data);
        return data.subarray(data.byteLength);
      case "chunk-size":
      case "trailers":
        return this.readLine(data);
      case "chunk-data": {
        const rest = this.takeBody(data);
        if (this.remaining === 0) {
          this.state = "chunk-end";
          this.remaining = 2;
        }
        return rest;
      }
      case "chunk-end": {
        const take = Math.min(this.remaining, data.byteLength);
        this.remaining -= take;
        if (this.remaining === 0) this.state = "chunk-size";
        return data.subarray(take);
      }
      default:
        return data;
    }
  }

  private readHead(data: Buffer): Buffer {
    const end = data.indexOf(HEAD_END);
    if (end < 0) {
      if (data.byteLength > MAX_HEAD_BYTES) throw new MalformedResponse(`response head longer than ${MAX_HEAD_BYTES} bytes`);
      this.pending = data;
      return data.subarray(data.byteLength);
    }
    const lines = data.subarray(0, end).toString("latin1").split("\r\n");
    const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0]!);
    if (!statusLine) throw new MalformedResponse(`not an HTTP/1.x status line: ${JSON.stringify(lines[0]!.slice(0, 80))}`);
    const status = Number(statusLine[2]);
    const rest = data.subarray(end + HEAD_END.byteLength);
    // 1xx (100 Continue, 103 Early Hints): an interim answer; the real one follows.
    if (status >= 100 && status < 200) return rest;
    this.status = status;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(":");
      if (colon <= 0) throw new MalformedResponse(`malformed header line: ${JSON.stringify(line.slice(0, 80))}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const before = this.headers.get(name);
      this.headers.set(name, before === undefined ? value : `${before}, ${value}`);
    }
    const keepAlive = statusLine[1] === "1" ? !/\bclose\b/i.test(this.headers.get("connection") ?? "") : /\bkeep-alive\b/i.test(this.headers.get("connection") ?? "");
    this.reusable = keepAlive;
    const transferEncoding = this.headers.get("transfer-encoding");
    const contentLength = this.headers.get("content-length");
    if (status === 204 || status === 304) {
      this.state = "done";
    } else if (transferEncoding !== undefined) {
      if (!/(^|,)\s*chunked\s*$/i.test(transferEncoding)) {
        this.state = "until-close";
      } else {
        this.state = "chunk-size";
      }
    } else if (contentLength !== undefined) {
      if (!/^\d+$/.test(contentLength)) throw new MalformedResponse(`invalid content-length: ${JSON.stringify(contentLength)}`);
      this.remaining = Number(contentLength);
      this.state = this.remaining === 0 ? "done" : "length";
    } else {
      this.state = "until-close";
    }
    if (this.state === "until-close") this.reusable = false;
    return rest;
  }

  /** One CRLF-terminated line of chunked framing (a chunk size, or a trailer). */
  private readLine(data: Buffer): Buffer {
    const end = data.indexOf(CRLF);
    if (end < 0) {
      if (data.byteLength > MAX_LINE_BYTES) throw new MalformedResponse("chunked framing line too long");
      this.pending = data;
      return data.subarray(data.byteLength);
    }
    const line = data.subarray(0, end).toString("latin1");
    const rest = data.subarray(end + CRLF.byteLength);
    if (this.state === "trailers") {
      if (line === "") this.state = "done";
      return rest;
    }
    const size = /^([0-9a-fA-F]{1,8})\s*(?:;.*)?$/.exec(line);
    if (!size) throw new MalformedResponse(`invalid chunk size line: ${JSON.stringify(line.slice(0, 40))}`);
    this.remaining = Number.parseInt(size[1]!, 16);
    this.state = this.remaining === 0 ? "trailers" : "chunk-data";
    return rest;
  }

  /** The next `remaining` bytes at most are body; returns what follows them. */
  private takeBody(data: Buffer): Buffer {
    const take = Math.min(this.remaining, data.byteLength);
    this.keep(data.subarray(0, take));
    this.remaining -= take;
    return data.subarray(take);
  }

  private keep(part: Buffer): void {
    const room = this.maxBodyBytes - this.keptBytes;
    if (room <= 0 || part.byteLength === 0) return;
    const slice = part.byteLength <= room ? part : part.subarray(0, room);
    // A copy: the connection may reuse the buffer it handed over.
    this.kept.push(Buffer.from(slice));
    this.keptBytes += slice.byteLength;
  }
}
