/**
 * @module A role's description of itself: `GET /openapi.json` (the document of every route the app
 * serves, made on the first request, once every route is registered) and `GET /docs`, the API
 * reference people read it on: Scalar's standalone bundle (`@scalar/api-reference`), embedded in
 * the binary and served from `/docs/scalar.js`. Nothing is loaded from elsewhere (no fonts, no
 * telemetry, no CDN), and the page's Content-Security-Policy says so.
 */
import { createHash } from "node:crypto";
import { Elysia } from "elysia";
// Not in the package's exports: the file itself, so `bun build --compile` embeds it.
import scalarBundle from "../../node_modules/@scalar/api-reference/dist/browser/standalone.js" with { type: "file" };
import { type DocumentOptions, describeApp } from "./openapi-document.ts";

const sha256 = (text: string | Uint8Array, encoding: "hex" | "base64") => createHash("sha256").update(text).digest(encoding);

/** Scalar's settings: offline (no fonts from its CDN, no AI agent, no MCP), no developer tools. */
const CONFIGURATION = {
  url: "/openapi.json",
  withDefaultFonts: false,
  showDeveloperTools: "never",
  hideClientButton: true,
  agent: { disabled: true },
  mcp: { disabled: true },
  telemetry: false,
  defaultOpenAllTags: true,
};
const START = `Scalar.createApiReference("#reference", ${JSON.stringify(CONFIGURATION)});`;

const page = (title: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="data:,">
</head>
<body>
<div id="reference"></div>
<script src="/docs/scalar.js"></script>
<script>${START}</script>
</body>
</html>
`;

/**
 * Scalar's script, and the one inline script that starts it (by hash). Scalar puts its styles in
 * `<style>` elements it makes at run time, so styles need 'unsafe-inline' (hashes would change with
 * every Scalar version); no script does, and nothing may come from another origin.
 */
const POLICY = [
  "default-src 'none'",
  `script-src 'self' 'sha256-${sha256(START, "base64")}'`,
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

interface Cached {
  body: string | Uint8Array;
  /** The body gzipped once, for clients that accept it: Scalar's 4.9 MB script is 1.4 MB so. */
  gzipped: Uint8Array;
  etag: string;
  type: string;
}

/**
 * The answer (gzipped where the client accepts it), or 304 when the client holds this very version.
 * Each encoding has its own ETag: they are different bytes.
 */
function cached(request: Request, answer: Cached, headers: Record<string, string> = {}): Response {
  const gzip = /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "");
  const etag = gzip ? `${answer.etag.slice(0, -1)}-gzip"` : answer.etag;
  const common = { etag, "cache-control": "public, max-age=60, must-revalidate", vary: "accept-encoding", ...headers };
  if (request.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers: common });
  if (gzip) return new Response(answer.gzipped, { headers: { "content-type": answer.type, "content-encoding": "gzip", ...common } });
  return new Response(answer.body, { headers: { "content-type": answer.type, ...common } });
}

function cache(body: string | Uint8Array<ArrayBuffer>, type: string): Cached {
  return { body, type, gzipped: Bun.gzipSync(body), etag: `"${sha256(body, "hex").slice(0, 32)}"` };
}

/** `/openapi.json`, `/docs` and Scalar's script, for the app this plugin is used in. */
export function apiReference(options: DocumentOptions) {
  let document: Cached | undefined;
  let script: Cached | undefined;
  const html = cache(page(options.info.title), "text/html; charset=utf-8");
  const plugin = new Elysia({ name: `api-reference-${options.info.title}` })
    .get(
      "/openapi.json",
      ({ request }) => {
        document ??= cache(JSON.stringify(describeApp(plugin, options)), "application/json");
        return cached(request, document);
      },
      {
        detail: { operationId: "openapi", summary: "This document (OpenAPI 3.1)", tags: ["Service"], responses: { 200: { description: "The OpenAPI document", content: { "application/json": {} } } } },
      },
    )
    .get("/docs", ({ request }) => cached(request, html, { "content-security-policy": POLICY }), {
      detail: {
        operationId: "docs",
        summary: "The API reference for people, rendered from /openapi.json",
        tags: ["Service"],
        responses: { 200: { description: "An HTML page that loads /docs/scalar.js and nothing from elsewhere", content: { "text/html": {} } } },
      },
    })
    .get(
      "/docs/scalar.js",
      async ({ request }) => {
        script ??= cache(new Uint8Array(await Bun.file(scalarBundle).arrayBuffer()), "text/javascript; charset=utf-8");
        return cached(request, script);
      },
      {
        detail: {
          operationId: "docsScript",
          summary: "The reference page's script (Scalar's standalone bundle)",
          tags: ["Service"],
          responses: { 200: { description: "JavaScript", content: { "text/javascript": {} } } },
        },
      },
    );
  return plugin;
}
