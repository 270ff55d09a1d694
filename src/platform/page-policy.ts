/** @module The Content-Security-Policy of a self-contained page: its own inline script and style, by hash, and nothing else. */
import { createHash } from "node:crypto";

const sha256 = (text: string) => createHash("sha256").update(text).digest("base64");

function inline(html: string, tag: "script" | "style"): string[] {
  return [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))].map((match) => `'sha256-${sha256(match[1]!)}'`);
}

/**
 * A policy that lets the page run only the `<script>` and `<style>` blocks it carries (no inline
 * attributes, nothing from elsewhere), fetch its own origin, and be framed by `frameAncestors`
 * alone (CSP source expressions, checked where they are configured; none by default).
 */
export function inlinePagePolicy(html: string, frameAncestors: readonly string[] = []): string {
  return [
    "default-src 'none'",
    `script-src ${inline(html, "script").join(" ")}`,
    `style-src ${inline(html, "style").join(" ")}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${frameAncestors.length > 0 ? frameAncestors.join(" ") : "'none'"}`,
  ].join("; ");
}

/** The headers a self-contained page is served with: its policy, checked by browsers on every load, kept from caches, referrers and sniffing. */
export function inlinePageHeaders(policy: string): Record<string, string> {
  return {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-cache",
    "content-security-policy": policy,
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
  };
}
