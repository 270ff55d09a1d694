/** @module The rules a webhook's fields must follow, shared by every API surface. */
import { ValidationError } from "./errors.ts";
import { WILDCARD } from "./match.ts";

export const MAX_URL_LENGTH = 2048;
export const MAX_EVENT_TYPES = 100;
export const MAX_HEADERS = 32;
const EVENT_TYPE = /^[A-Za-z0-9_.:\-/]{1,128}$/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]{0,1024}$/;
/** Headers hookrelay sets itself; a webhook may not override them. */
const RESERVED_HEADERS = new Set(["host", "content-length", "content-type", "transfer-encoding", "connection", "webhook-id", "webhook-timestamp", "webhook-signature"]);

/** Problems with a webhook URL, as messages naming the value; empty when it is fine. */
export function urlProblems(url: string): string[] {
  if (url.length > MAX_URL_LENGTH) return [`url: longer than ${MAX_URL_LENGTH} characters`];
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [`url: '${url}' is not an absolute URL`];
  }
  const problems: string[] = [];
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") problems.push(`url: scheme '${parsed.protocol.replace(":", "")}' is not http or https`);
  if (parsed.username || parsed.password) problems.push("url: credentials in the URL are not allowed; use headers");
  if (!parsed.hostname) problems.push(`url: '${url}' has no host`);
  return problems;
}

/** Whether a subscription names a type, or a pattern: `*`, or `prefix.*` with a valid type name as the prefix. */
const validSubscription = (type: string) => type === WILDCARD || EVENT_TYPE.test(type) || (type.endsWith(".*") && EVENT_TYPE.test(type.slice(0, -2)));

export function eventTypeProblems(types: string[], field = "event_types"): string[] {
  if (types.length === 0) return [`${field}: at least one event type is required (use "${WILDCARD}" for all)`];
  if (types.length > MAX_EVENT_TYPES) return [`${field}: at most ${MAX_EVENT_TYPES} event types`];
  return types
    .filter((type) => !validSubscription(type))
    .map((type) => `${field}: '${type}' is not a valid event type (letters, digits and _ . : - /, at most 128), nor a pattern ('user.*': every type under 'user.', or '*')`);
}

export function headerProblems(headers: Record<string, string>): string[] {
  const entries = Object.entries(headers);
  if (entries.length > MAX_HEADERS) return [`headers: at most ${MAX_HEADERS} headers`];
  const problems: string[] = [];
  for (const [name, value] of entries) {
    if (!HEADER_NAME.test(name)) problems.push(`headers: '${name}' is not a valid header name`);
    else if (RESERVED_HEADERS.has(name.toLowerCase())) problems.push(`headers: '${name}' is set by hookrelay and cannot be overridden`);
    if (typeof value !== "string" || !HEADER_VALUE.test(value)) problems.push(`headers: the value of '${name}' must be a string without control characters, at most 1024 long`);
  }
  return problems;
}

/** Throws one ValidationError listing every problem at once. */
export function assertNoProblems(problems: string[]): void {
  if (problems.length > 0) throw new ValidationError(problems.join("; "), problems);
}
