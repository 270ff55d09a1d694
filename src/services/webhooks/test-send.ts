/**
 * @module Test sends: a sample event of a given type (its data the catalog's first example of the
 * type, when there is one), signed as a delivery is, sent to a webhook now,
 * with the endpoint's answer returned at once. Nothing is stored: it is not a delivery (no attempt,
 * no retry, no metrics), and the event is not in the log.
 */
import { Type } from "@sinclair/typebox";
import { newId } from "../../domain/ids.ts";
import type { Event } from "../../domain/model.ts";
import type { Clock, Sender } from "../../domain/ports.ts";
import type { SigningKeys } from "../../domain/signature.ts";
import { assertNoProblems, eventTypeProblems } from "../../domain/webhook-rules.ts";
import { compile } from "../../platform/validate.ts";
import type { Principal } from "../auth/tokens.ts";
import { signedHeaders } from "../delivery/attempt.ts";
import { getWebhook, type WebhookDeps } from "./manage.ts";

/** A test send waits this long for the endpoint at most (less when `dispatcher.http_timeout` is): the caller waits with it. */
const MAX_WAIT_MS = 10_000;
/** Characters of the endpoint's answer returned at most. */
const EXCERPT_CHARS = 1024;
/** The `source` of a sample event. */
const SOURCE = "hookrelay.test";

export interface TestSendDeps extends Pick<WebhookDeps, "store"> {
  clock: Clock;
  sender: Sender;
  keys: SigningKeys;
  httpTimeoutMs: number;
}

export const TestSendSchema = Type.Object(
  { event_type: Type.String({ description: "the type of the sample event (an exact type name)", errorMessage: "must be an event type name" }) },
  { additionalProperties: false, errorMessage: "must be an object with event_type" },
);
const input = compile(TestSendSchema);

export interface TestSendResult {
  event: { id: string; type: string; source: string; timestamp: string; data: unknown };
  /** What was sent besides the body: the signature headers. */
  request_headers: Record<string, string>;
  succeeded: boolean;
  status_code: number | null;
  duration_ms: number;
  /** The endpoint's answer, its first EXCERPT_CHARS characters. */
  response_excerpt: string | null;
  /** What went wrong, as an attempt records it (`HTTP 500`, a timeout, a refusal, a blocked target); null on a 2xx. */
  error: string | null;
}

export async function testSend(deps: TestSendDeps, principal: Principal, id: string, raw: unknown): Promise<TestSendResult> {
  const { event_type: type } = input.parse(raw);
  assertNoProblems(type === "*" ? ["event_type: '*' is not a type; name one (e.g. order.created)"] : eventTypeProblems([type], "event_type"));
  const webhook = await getWebhook(deps, principal, id);
  const now = deps.clock.now();
  const eventId = newId("test", now);
  const timestamp = new Date(now).toISOString();
  // The catalog's first example of the type when it has one; else a generic sample.
  const catalogued = await deps.store.eventTypes.get(webhook.customerId, type);
  const data = catalogued && catalogued.examples.length > 0 ? catalogued.examples[0] : { test: true, note: "a test send from hookrelay: not a real event" };
  const event: Event = {
    customerId: webhook.customerId,
    id: eventId,
    type,
    source: SOURCE,
    timestamp,
    payload: JSON.stringify({ id: eventId, type, source: SOURCE, data, timestamp }),
    acceptedAt: now,
  };
  const headers = signedHeaders(deps, webhook, event);
  const result = await deps.sender.send({ url: webhook.url, headers, body: event.payload, timeoutMs: Math.min(deps.httpTimeoutMs, MAX_WAIT_MS), customerId: webhook.customerId });
  return {
    event: { id: eventId, type, source: SOURCE, timestamp, data },
    request_headers: { "webhook-id": headers["webhook-id"]!, "webhook-timestamp": headers["webhook-timestamp"]!, "webhook-signature": headers["webhook-signature"]! },
    succeeded: result.status !== null && result.status >= 200 && result.status < 300,
    status_code: result.status,
    duration_ms: Math.round(result.durationMs * 10) / 10,
    response_excerpt: result.responseBody === null ? null : result.responseBody.slice(0, EXCERPT_CHARS),
    error: result.error,
  };
}
