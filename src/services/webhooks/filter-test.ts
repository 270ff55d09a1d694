/**
 * @module Trying a webhook's filter: would it receive a sample event? Its event types and its
 * payload filter (or a filter given to try before saving it) decide, as the dispatcher's would.
 * Nothing is sent or stored.
 */
import { Type } from "@sinclair/typebox";
import { compileFilter, type Filter, filterProblems } from "../../domain/filter.ts";
import { isTypePattern, takesType } from "../../domain/match.ts";
import type { Clock, Store } from "../../domain/ports.ts";
import { assertNoProblems, eventTypeProblems } from "../../domain/webhook-rules.ts";
import { compile } from "../../platform/validate.ts";
import type { Principal } from "../auth/tokens.ts";
import { getWebhook } from "./manage.ts";

export const FilterTestSchema = Type.Object(
  {
    event: Type.Object(
      {
        type: Type.String({ maxLength: 128, description: "the event's type" }),
        data: Type.Unknown({ description: "its data, any JSON value" }),
        id: Type.Optional(Type.String({ maxLength: 256, description: "default: evt_filter_test" })),
        source: Type.Optional(Type.String({ maxLength: 256, description: "default: hookrelay.test" })),
        timestamp: Type.Optional(Type.String({ maxLength: 64, description: "default: now" })),
      },
      { additionalProperties: false, errorMessage: "must be an event: {type, data, and optionally id, source, timestamp}" },
    ),
    filter: Type.Optional(
      Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], {
        description: "a filter to try instead of the webhook's own (it is not saved); null: as if the webhook had none",
        errorMessage: "must be a filter object or null",
      }),
    ),
  },
  { additionalProperties: false, errorMessage: "must be an object with event, and optionally filter" },
);
const input = compile(FilterTestSchema);

export interface FilterTestResult {
  /** The webhook would receive the event: both of the below. */
  matches: boolean;
  /** The event's type is one the webhook subscribes to. */
  type_matches: boolean;
  /** The event passes the filter (true when there is none). */
  filter_matches: boolean;
  /** The filter that was tried: the one given, else the webhook's. */
  filter: Filter | null;
}

export async function testFilter(deps: { store: Store; clock: Clock }, principal: Principal, id: string, raw: unknown): Promise<FilterTestResult> {
  const { event, filter: given } = input.parse(raw);
  const typeProblems = isTypePattern(event.type) ? [`event.type: '${event.type}' is a pattern; name one type (e.g. invoice.paid)`] : eventTypeProblems([event.type], "event.type");
  assertNoProblems([...typeProblems, ...(given ? filterProblems(given) : [])]);
  const webhook = await getWebhook(deps, principal, id);
  const filter = given !== undefined ? given : webhook.filter;
  const doc = {
    id: event.id ?? "evt_filter_test",
    type: event.type,
    source: event.source ?? "hookrelay.test",
    data: event.data,
    timestamp: event.timestamp ?? new Date(deps.clock.now()).toISOString(),
  };
  const typeMatches = takesType(webhook.eventTypes, event.type);
  const filterMatches = filter ? compileFilter(filter)(doc) : true;
  return { matches: typeMatches && filterMatches, type_matches: typeMatches, filter_matches: filterMatches, filter };
}
