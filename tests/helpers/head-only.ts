/** @module A request's head alone over a raw socket: what a server answers before any of its body is sent. */
import { connect } from "node:net";

export interface HeadOnlyAnswer {
  status: number;
  /** Lower-cased names. */
  headers: Record<string, string>;
  /** Parsed JSON, or the text when it is not JSON. */
  body: any;
}

/**
 * Sends `method path` with `headers` (a Content-Length among them, typically) and none of the body,
 * and reads the answer until the server closes the connection: an answer at all proves the body
 * was refused from the head alone. Fails after `timeoutMs` without one.
 */
export function headOnly(base: string, method: string, path: string, headers: Record<string, string>, timeoutMs = 10_000): Promise<HeadOnlyAnswer> {
  const { hostname, port } = new URL(base);
  const head = [`${method} ${path} HTTP/1.1`, `host: ${hostname}:${port}`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)].join("\r\n");
  return new Promise((resolve, reject) => {
    let raw = "";
    const socket = connect(Number(port), hostname, () => socket.write(`${head}\r\n\r\n`));
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer to ${method} ${path} within ${timeoutMs} ms (so far: ${JSON.stringify(raw)})`)));
    socket.on("data", (chunk) => (raw += chunk.toString()));
    socket.on("error", reject);
    socket.on("close", (hadError) => {
      if (hadError) return;
      const split = raw.indexOf("\r\n\r\n");
      const [statusLine = "", ...lines] = raw.slice(0, split < 0 ? raw.length : split).split("\r\n");
      const text = split < 0 ? "" : raw.slice(split + 4);
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {}
      const named = lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]);
      resolve({ status: Number(statusLine.split(" ")[1]), headers: Object.fromEntries(named), body });
    });
  });
}
