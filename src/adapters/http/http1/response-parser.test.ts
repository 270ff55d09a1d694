// The HTTP/1.1 response parser fed whole and byte by byte: framing, the kept body, reusability.
import { describe, expect, it } from "bun:test";
import { MalformedResponse, ResponseParser } from "./response-parser.ts";

/** Feeds `raw` in pieces of `size` bytes; returns the parser and whether it completed. */
function feed(raw: string, size: number, maxBodyBytes = 1024) {
  const parser = new ResponseParser(maxBodyBytes);
  const bytes = Buffer.from(raw, "utf8");
  let complete = false;
  for (let at = 0; at < bytes.byteLength && !complete; at += size) complete = parser.push(bytes.subarray(at, at + size));
  return { parser, complete };
}

const CHUNKED = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nRetry-After: 3\r\n\r\n4\r\nWiki\r\n6;x=y\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n";

describe("ResponseParser", () => {
  it("reads a chunked answer the same whole or one byte at a time", () => {
    for (const size of [1, 2, 7, 1000]) {
      const { parser, complete } = feed(CHUNKED, size);
      expect(complete).toBe(true);
      expect(parser.status).toBe(200);
      expect(parser.body()).toBe("Wikipedia in \r\n\r\nchunks.");
      expect(parser.headers.get("retry-after")).toBe("3");
      expect(parser.reusable).toBe(true);
    }
  });

  it("keeps only maxBodyBytes of the body but reads it to its end", () => {
    const body = "é".repeat(100);
    const { parser, complete } = feed(`HTTP/1.1 500 Oops\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, 3, 10);
    expect(complete).toBe(true);
    expect(parser.body()).toBe("ééééé");
    expect(parser.reusable).toBe(true);
  });

  it("is complete at once for 204 and an empty Content-Length, and not before the head ends", () => {
    expect(feed("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", 1000).complete).toBe(true);
    expect(feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1000).parser.body()).toBeNull();
    expect(feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", 1000).complete).toBe(false);
  });

  it("reads to the end of the connection without framing, and then the connection is not reused", () => {
    const { parser, complete } = feed("HTTP/1.1 200 OK\r\n\r\npartial", 1000);
    expect(complete).toBe(false);
    expect(parser.end()).toBe(true);
    expect(parser.body()).toBe("partial");
    expect(parser.reusable).toBe(false);
    // A body cut short by the close is not complete.
    const cut = feed("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\npartial", 1000).parser;
    expect(cut.end()).toBe(false);
  });

  it("does not reuse a connection the server asked to close, an HTTP/1.0 one, or one with bytes after the answer", () => {
    expect(feed("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 1000).parser.reusable).toBe(false);
    expect(feed("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 1000).parser.reusable).toBe(false);
    expect(feed("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 1000).parser.reusable).toBe(true);
    expect(feed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 1000).parser.reusable).toBe(false);
  });

  it("refuses what is not an HTTP/1.x answer", () => {
    expect(() => feed("hello\r\n\r\n", 1000)).toThrow(MalformedResponse);
    expect(() => feed("HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", 1000)).toThrow("invalid content-length");
    expect(() => feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 1000)).toThrow("invalid chunk size");
    expect(() => feed(`HTTP/1.1 200 OK\r\nX: ${"a".repeat(70_000)}`, 1000)).toThrow("longer than");
  });
});
