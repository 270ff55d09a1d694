/**
 * @module Serves the OpenAPI document (`/openapi.json`) and the page people read it on (`/docs`):
 * one self-contained HTML file whose inline script fetches /openapi.json and renders every
 * operation. Nothing is loaded from elsewhere, and its Content-Security-Policy says so.
 */
import { createHash } from "node:crypto";
import { inlinePagePolicy } from "../../platform/page-policy.ts";

const STYLE = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #5b6475; --line: #d8dde6; --bg: #ffffff; --panel: #f5f7fa; --accent: #2458c6;
  --get: #1d7f4e; --post: #2458c6; --put: #8a5a00; --patch: #6b4bb8; --delete: #b3261e; }
@media (prefers-color-scheme: dark) { :root { --fg: #e4e8ef; --muted: #9aa4b5; --line: #343b48; --bg: #15181e; --panel: #1d2129; --accent: #7ea6ff;
  --get: #4cc38a; --post: #7ea6ff; --put: #e0b04a; --patch: #b39cff; --delete: #ff8a80; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 1.5rem 2rem 1rem; border-bottom: 1px solid var(--line); display: flex; flex-wrap: wrap; gap: 1rem; align-items: baseline; }
header h1 { margin: 0; font-size: 1.6rem; }
header .version { color: var(--muted); }
header input { margin-left: auto; min-width: 16rem; padding: .4rem .6rem; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); color: var(--fg); font: inherit; }
.layout { display: grid; grid-template-columns: 19rem minmax(0, 1fr); }
nav { position: sticky; top: 0; align-self: start; max-height: 100vh; overflow: auto; padding: 1rem; border-right: 1px solid var(--line); font-size: .85rem; }
nav h3 { margin: 1rem 0 .3rem; font-size: .8rem; text-transform: uppercase; color: var(--muted); }
nav a { display: block; color: var(--fg); text-decoration: none; padding: .1rem 0 .1rem 4.6rem; text-indent: -4.6rem; overflow-wrap: anywhere; }
nav a:hover { color: var(--accent); }
main { padding: 1rem 2rem 4rem; min-width: 0; }
h2 { margin-top: 2.5rem; border-bottom: 1px solid var(--line); padding-bottom: .3rem; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88em; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; overflow: auto; }
p code, td code, li code { background: var(--panel); padding: 0 .25em; border-radius: 4px; }
.operation { border: 1px solid var(--line); border-radius: 8px; margin: 1rem 0; padding: .8rem 1rem; }
.operation[hidden] { display: none; }
.operation > .line { display: flex; flex-wrap: wrap; gap: .6rem; align-items: baseline; }
.method { font-weight: 700; text-transform: uppercase; font-family: ui-monospace, monospace; min-width: 4.2rem; }
.method.get { color: var(--get); } .method.post { color: var(--post); } .method.put { color: var(--put); } .method.patch { color: var(--patch); } .method.delete { color: var(--delete); }
.path { font-weight: 600; }
.summary { color: var(--muted); }
.scope { font-size: .85rem; margin: .4rem 0; }
.scope .badge { display: inline-block; border: 1px solid var(--line); border-radius: 999px; padding: 0 .5rem; background: var(--panel); }
h4 { margin: 1rem 0 .3rem; font-size: .8rem; text-transform: uppercase; color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-size: .88rem; }
th, td { text-align: left; vertical-align: top; padding: .3rem .5rem; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; }
.required { color: var(--delete); font-size: .75rem; margin-left: .3rem; }
.type { font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
td, th { overflow-wrap: anywhere; }
.constraints { color: var(--muted); font-size: .8rem; }
.nested { margin: .2rem 0 .2rem 1rem; }
.response { margin: .4rem 0; }
.response > .status { font-family: ui-monospace, monospace; font-weight: 700; margin-right: .5rem; }
.response.ok > .status { color: var(--get); } .response.error > .status { color: var(--delete); }
details > summary { cursor: pointer; color: var(--accent); }
a { color: var(--accent); }
#status.failed { color: var(--delete); }
@media (max-width: 800px) { .layout { grid-template-columns: 1fr; } nav { position: static; max-height: none; border-right: 0; border-bottom: 1px solid var(--line); } }
`;

const SCRIPT = String.raw`
(function () {
  "use strict";
  var SPEC = "/openapi.json";
  var METHODS = ["get", "post", "put", "patch", "delete"];

  function el(tag, props, children) {
    var node = document.createElement(tag);
    props = props || {};
    Object.keys(props).forEach(function (key) {
      var value = props[key];
      if (value === undefined || value === null) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else if (key === "data") Object.keys(value).forEach(function (d) { node.setAttribute("data-" + d, value[d]); });
      else node.setAttribute(key, value);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  // Text with backtick-quoted code spans, as the document's descriptions use them.
  function rich(tag, text, className) {
    var node = el(tag, { className: className });
    String(text || "").split("\u0060").forEach(function (part, i) {
      node.appendChild(i % 2 === 1 ? el("code", { text: part }) : document.createTextNode(part));
    });
    return node;
  }
  function paragraphs(text) {
    var box = el("div", { className: "description" });
    String(text || "").split("\n\n").forEach(function (p) { if (p.trim()) box.appendChild(rich("p", p)); });
    return box;
  }

  function refName(ref) { return ref.split("/").pop(); }
  function resolve(doc, schema) {
    var seen = 0;
    while (schema && schema.$ref && seen++ < 20) {
      var node = doc;
      schema.$ref.replace(/^#\//, "").split("/").forEach(function (part) { node = node && node[part.replace(/~1/g, "/").replace(/~0/g, "~")]; });
      schema = node;
    }
    return schema || {};
  }

  function typeLabel(doc, schema) {
    if (!schema) return "any";
    if (schema.$ref) return refName(schema.$ref);
    if (schema.const !== undefined) return JSON.stringify(schema.const);
    if (schema.enum) return schema.enum.map(function (v) { return JSON.stringify(v); }).join(" | ");
    if (schema.anyOf) return schema.anyOf.map(function (s) { return typeLabel(doc, s); }).join(" | ");
    if (schema.type === "array") return "array of " + typeLabel(doc, schema.items);
    if (schema.type === "object" && schema.patternProperties && !schema.properties) {
      var values = Object.keys(schema.patternProperties).map(function (k) { return typeLabel(doc, schema.patternProperties[k]); });
      return "map of " + values.join(" | ");
    }
    if (schema.type) return schema.format ? schema.type + " (" + schema.format + ")" : schema.type;
    return "any JSON";
  }

  function constraints(schema) {
    var out = [];
    var names = { minLength: "min length", maxLength: "max length", minimum: "min", maximum: "max", minItems: "min items", maxItems: "max items", pattern: "pattern" };
    Object.keys(names).forEach(function (key) { if (schema[key] !== undefined) out.push(names[key] + " " + schema[key]); });
    if (schema.uniqueItems) out.push("distinct items");
    return out.join(", ");
  }

  // Objects one level down (a property that is an object, an array of objects, a named schema).
  function expandable(doc, schema) {
    var target = schema && schema.type === "array" ? schema.items : schema;
    if (!target) return null;
    var resolved = resolve(doc, target);
    if (resolved.anyOf) return null;
    return resolved.properties ? { schema: resolved, name: target.$ref ? refName(target.$ref) : null } : null;
  }

  function schemaView(doc, schema, depth) {
    var resolved = resolve(doc, schema);
    var box = el("div", { className: "schema" });
    if (schema && schema.$ref) {
      box.appendChild(el("p", {}, [el("a", { href: "#schema-" + refName(schema.$ref), className: "type", text: refName(schema.$ref) })]));
    }
    if (resolved.description && !(schema && schema.$ref)) box.appendChild(rich("p", resolved.description, "constraints"));
    if (!resolved.properties) {
      if (!(schema && schema.$ref)) {
        var line = el("p", {}, [el("span", { className: "type", text: typeLabel(doc, resolved) })]);
        var c = constraints(resolved);
        if (c) line.appendChild(el("span", { className: "constraints", text: " (" + c + ")" }));
        box.appendChild(line);
      }
      var inner = expandable(doc, resolved);
      if (inner && depth < 4) box.appendChild(el("div", { className: "nested" }, [schemaView(doc, inner.name ? { $ref: "#/components/schemas/" + inner.name } : inner.schema, depth + 1)]));
      return box;
    }
    var required = resolved.required || [];
    var rows = Object.keys(resolved.properties).map(function (name) {
      var prop = resolved.properties[name];
      var target = resolve(doc, prop);
      var cell = el("td", {}, [target.description ? rich("span", target.description) : null]);
      var c = constraints(target);
      if (c) cell.appendChild(el("div", { className: "constraints", text: c }));
      var inner = expandable(doc, prop);
      if (inner && depth < 3) {
        var details = el("details", depth === 0 ? { open: "" } : {}, [el("summary", { text: inner.name || "fields" })]);
        details.appendChild(el("div", { className: "nested" }, [schemaView(doc, inner.name ? { $ref: "#/components/schemas/" + inner.name } : inner.schema, depth + 1)]));
        cell.appendChild(details);
      }
      return el("tr", { data: { field: name } }, [
        el("td", {}, [el("code", { text: name }), required.indexOf(name) >= 0 ? el("span", { className: "required", text: "required" }) : null]),
        el("td", { className: "type", text: typeLabel(doc, prop) }),
        cell,
      ]);
    });
    var foot = resolved.additionalProperties === false ? el("p", { className: "constraints", text: "No other fields." }) : null;
    box.appendChild(el("table", { className: "schema-properties" }, [el("thead", {}, [el("tr", {}, [el("th", { text: "field" }), el("th", { text: "type" }), el("th", { text: "about" })])]), el("tbody", {}, rows)]));
    if (foot) box.appendChild(foot);
    return box;
  }

  function scopeOf(op) {
    if (op["x-scope"]) return el("p", { className: "scope", data: { scope: op["x-scope"] } }, ["Scope: ", el("span", { className: "badge", text: op["x-scope"] }), " (Authorization: Bearer JWT or hrk_ API key)"]);
    if (op.security && op.security.length) return el("p", { className: "scope", data: { scope: "client" } }, [el("span", { className: "badge", text: "client credentials" })]);
    return el("p", { className: "scope", data: { scope: "none" } }, [el("span", { className: "badge", text: "no credentials" })]);
  }

  function parametersView(op) {
    if (!op.parameters || !op.parameters.length) return null;
    var rows = op.parameters.map(function (p) {
      var c = constraints(p.schema || {});
      return el("tr", { data: { param: p.name, in: p.in } }, [
        el("td", {}, [el("code", { text: p.name }), p.required ? el("span", { className: "required", text: "required" }) : null]),
        el("td", { text: p.in }),
        el("td", { className: "type", text: typeLabel(null, p.schema) }),
        el("td", {}, [p.description ? rich("span", p.description) : null, c ? el("div", { className: "constraints", text: c }) : null]),
      ]);
    });
    return el("div", { className: "parameters" }, [el("h4", { text: "Parameters" }),
      el("table", {}, [el("thead", {}, [el("tr", {}, ["name", "in", "type", "about"].map(function (h) { return el("th", { text: h }); }))]), el("tbody", {}, rows)])]);
  }

  function requestBodyView(doc, op) {
    if (!op.requestBody) return null;
    var box = el("div", { className: "request-body" }, [el("h4", { text: "Request body" })]);
    Object.keys(op.requestBody.content).forEach(function (type) {
      var media = op.requestBody.content[type];
      box.appendChild(el("p", {}, [el("code", { text: type })]));
      box.appendChild(schemaView(doc, media.schema, 0));
      if (media.example !== undefined) box.appendChild(el("details", {}, [el("summary", { text: "Example" }), el("pre", { text: JSON.stringify(media.example, null, 2) })]));
    });
    return box;
  }

  function responsesView(doc, op) {
    var box = el("div", { className: "responses" }, [el("h4", { text: "Responses" })]);
    Object.keys(op.responses).forEach(function (status) {
      var r = resolve(doc, op.responses[status]);
      var kind = status.charAt(0) === "2" || status.charAt(0) === "3" ? "ok" : "error";
      var item = el("div", { className: "response " + kind, data: { status: status } }, [el("span", { className: "status", text: status }), rich("span", r.description)]);
      if (r.headers) item.appendChild(el("div", { className: "constraints", text: "Headers: " + Object.keys(r.headers).join(", ") }));
      Object.keys(r.content || {}).forEach(function (type) {
        var media = r.content[type];
        if (media.schema && media.schema.$ref === "#/components/schemas/Error") {
          item.appendChild(el("div", { className: "error-body" }, [el("code", { text: type }), " ", el("a", { href: "#errors", className: "type", text: "Error" })]));
          return;
        }
        var body = el("details", {}, [el("summary", {}, [el("code", { text: type }), media.schema ? " " + typeLabel(doc, media.schema) : ""])]);
        if (media.schema) body.appendChild(schemaView(doc, media.schema, 1));
        item.appendChild(body);
      });
      box.appendChild(item);
    });
    return box;
  }

  function anchor(method, path) { return "op-" + method + "-" + path.replace(/[^A-Za-z0-9]+/g, "-"); }

  function operationView(doc, path, method, op) {
    var section = el("section", { className: "operation", id: anchor(method, path), "data-method": method.toUpperCase(), "data-path": path, "data-operation-id": op.operationId }, [
      el("div", { className: "line" }, [el("span", { className: "method " + method, text: method.toUpperCase() }), el("code", { className: "path", text: path }), el("span", { className: "summary", text: op.summary || "" })]),
      scopeOf(op),
      paragraphs(op.description),
      parametersView(op),
      requestBodyView(doc, op),
      responsesView(doc, op),
    ]);
    section.setAttribute("data-search", (method + " " + path + " " + (op.summary || "") + " " + (op["x-scope"] || "")).toLowerCase());
    return section;
  }

  function render(doc) {
    var main = document.getElementById("content");
    var nav = document.getElementById("toc");
    main.textContent = "";
    document.title = doc.info.title;
    document.getElementById("title").textContent = doc.info.title;
    document.getElementById("version").textContent = "version " + doc.info.version + " · OpenAPI " + doc.openapi;

    var intro = el("section", { id: "introduction" }, [el("h2", { text: "Overview" }), paragraphs(doc.info.description),
      el("p", {}, ["The machine-readable document: ", el("a", { href: SPEC, text: SPEC }), "."])]);
    main.appendChild(intro);

    var schemes = (doc.components && doc.components.securitySchemes) || {};
    var auth = el("section", { id: "security" }, [el("h2", { text: "Security" })]);
    Object.keys(schemes).forEach(function (name) {
      var s = schemes[name];
      auth.appendChild(el("p", {}, [el("code", { text: name }), " " + s.type + (s.scheme ? " " + s.scheme : "") + (s.bearerFormat ? " (" + s.bearerFormat + ")" : "") + ": ", rich("span", s.description || "")]));
    });
    main.appendChild(auth);

    var errors = el("section", { id: "errors" }, [el("h2", { text: "Errors" }),
      el("p", { text: "Every error answer has this shape (except /oauth/token, which answers RFC 6749's):" }),
      el("pre", { className: "error-shape", text: JSON.stringify({ error: { code: "validation_failed", message: "url: must be an absolute http or https URL" } }, null, 2) })]);
    if (doc.components && doc.components.schemas && doc.components.schemas.Error) errors.appendChild(schemaView(doc, { $ref: "#/components/schemas/Error" }, 0));
    main.appendChild(errors);

    var byTag = {};
    var order = (doc.tags || []).map(function (t) { return t.name; });
    Object.keys(doc.paths).forEach(function (path) {
      METHODS.forEach(function (method) {
        var op = doc.paths[path][method];
        if (!op) return;
        var tag = (op.tags && op.tags[0]) || "Other";
        if (order.indexOf(tag) < 0) order.push(tag);
        (byTag[tag] = byTag[tag] || []).push([path, method, op]);
      });
    });
    var count = 0;
    order.forEach(function (tag) {
      var ops = byTag[tag];
      if (!ops) return;
      var id = "tag-" + tag.replace(/[^A-Za-z0-9]+/g, "-");
      var section = el("section", { className: "tag", id: id, data: { tag: tag } }, [el("h2", { text: tag })]);
      nav.appendChild(el("h3", {}, [el("a", { href: "#" + id, text: tag })]));
      ops.forEach(function (entry) {
        section.appendChild(operationView(doc, entry[0], entry[1], entry[2]));
        nav.appendChild(el("a", { href: "#" + anchor(entry[1], entry[0]), title: entry[2].summary || "" }, [el("span", { className: "method " + entry[1], text: entry[1].toUpperCase() + " " }), entry[0]]));
        count++;
      });
      main.appendChild(section);
    });

    var schemas = (doc.components && doc.components.schemas) || {};
    var list = el("section", { id: "schemas" }, [el("h2", { text: "Schemas" })]);
    nav.appendChild(el("h3", {}, [el("a", { href: "#schemas", text: "Schemas" })]));
    Object.keys(schemas).forEach(function (name) {
      list.appendChild(el("section", { className: "schema-definition", id: "schema-" + name, data: { schema: name } }, [el("h3", {}, [el("code", { text: name })]), schemaView(doc, schemas[name], 0)]));
    });
    main.appendChild(list);

    document.body.setAttribute("data-operations", String(count));
    document.body.setAttribute("data-ready", "true");
  }

  document.getElementById("filter").addEventListener("input", function (event) {
    var words = event.target.value.toLowerCase().split(/\s+/).filter(Boolean);
    Array.prototype.forEach.call(document.querySelectorAll(".operation"), function (op) {
      var text = op.getAttribute("data-search") || "";
      op.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
    });
  });

  fetch(SPEC, { headers: { accept: "application/json" } })
    .then(function (res) { if (!res.ok) throw new Error(SPEC + " answered " + res.status); return res.json(); })
    .then(render)
    .catch(function (err) {
      var status = document.getElementById("status") || document.getElementById("content").appendChild(el("p", { id: "status" }));
      status.className = "failed";
      status.textContent = "Could not load " + SPEC + ": " + err.message;
      document.body.setAttribute("data-ready", "failed");
    });
})();
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hookrelay API</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header><h1 id="title">hookrelay API</h1><span class="version" id="version"></span><input id="filter" type="search" placeholder="Filter: method, path, scope…" aria-label="Filter operations"></header>
<div class="layout">
<nav id="toc" aria-label="Operations"></nav>
<main id="content"><p id="status">Loading <a href="/openapi.json">/openapi.json</a>…</p></main>
</div>
<noscript><p>This page renders <a href="/openapi.json">/openapi.json</a> with JavaScript.</p></noscript>
<script>${SCRIPT}</script>
</body>
</html>
`;

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** Nothing but this page's own script and style, and fetches of its own origin. */
const CSP = inlinePagePolicy(PAGE);

const CACHE = "public, max-age=300";

function cached(request: Request, body: string, contentType: string, extra: Record<string, string> = {}): Response {
  const etag = `"${sha256(body).slice(0, 32)}"`;
  const headers = { "cache-control": CACHE, etag, "x-content-type-options": "nosniff", ...extra };
  const asked = request.headers.get("if-none-match");
  if (asked?.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag)) return new Response(null, { status: 304, headers });
  return new Response(body, { status: 200, headers: { "content-type": contentType, ...headers } });
}

/** The two answers for a document: the JSON (any origin may read it) and the page. */
export function describedBy(document: unknown) {
  const json = JSON.stringify(document);
  return {
    document: (request: Request) => cached(request, json, "application/json", { "access-control-allow-origin": "*" }),
    page: (request: Request) => cached(request, PAGE, "text/html; charset=utf-8", { "content-security-policy": CSP, "referrer-policy": "no-referrer" }),
  };
}

/** The page's HTML, for tests. */
export const DOCS_PAGE = PAGE;
