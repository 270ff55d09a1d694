/** @module The shape of an event a producer sends, one or in a batch. */
import { FormatRegistry, Type } from "@sinclair/typebox";
import { compile } from "../../platform/validate.ts";

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;
if (!FormatRegistry.Has("date-time")) FormatRegistry.Set("date-time", (value) => RFC3339.test(value) && !Number.isNaN(Date.parse(value)));

const Text = (max: number, description: string, errorMessage: string, pattern?: string) => Type.String({ minLength: 1, maxLength: max, description, errorMessage, ...(pattern ? { pattern } : {}) });

export const EventInputSchema = Type.Object(
  {
    id: Text(256, "unique per event (per customer): the same id again is a duplicate", "must be a non-empty string of at most 256 printable characters", "^[\\x21-\\x7e]+$"),
    type: Text(128, "what happened; webhooks subscribe to types", "must be 1-128 of letters, digits and _ . : - /", "^[A-Za-z0-9_.:\\-/]+$"),
    // No NUL: PostgreSQL's text cannot hold it, and one such event failed the whole group commit it shared with other callers' events.
    source: Text(256, "who sent it (no NUL character)", "must be a non-empty string of at most 256 characters, without NUL (U+0000)", "^[^\\x00]+$"),
    data: Type.Unknown({ description: "any JSON value (required), delivered as sent", errorMessage: "is required (any JSON value)" }),
    timestamp: Type.Optional(Type.String({ format: "date-time", description: "RFC 3339; when omitted, the time it is accepted", errorMessage: "must be an RFC 3339 date-time" })),
  },
  { additionalProperties: false, errorMessage: "must be an object with id, type, source and data" },
);

export const eventInput = compile(EventInputSchema);

const BATCH_ITEMS = { minItems: 1, errorMessage: "must be a non-empty array of events" };
const BATCH_OPTIONS = { additionalProperties: false, errorMessage: 'must be an object {"events": [...]}' };

/** The batch's outer shape; each item is then checked with EventInputSchema, so an error names its index. */
export const BatchSchema = Type.Object({ events: Type.Array(Type.Unknown(), BATCH_ITEMS) }, BATCH_OPTIONS);

export const batchInput = compile(BatchSchema);

/** The two checks together, as the API documents a batch: at most `maxEvents` events, each an event. */
export function documentedBatchSchema(maxEvents: number) {
  return Type.Object({ events: Type.Array(EventInputSchema, { ...BATCH_ITEMS, maxItems: maxEvents, description: "refused whole when one event is invalid" }) }, BATCH_OPTIONS);
}

// ---- answers ----

export const EventAcceptedSchema = Type.Object(
  {
    id: Type.String(),
    status: Type.Union([Type.Literal("accepted"), Type.Literal("duplicate")], { description: "duplicate: this id was accepted before; not delivered again" }),
    matched_webhooks: Type.Integer({
      minimum: 0,
      description:
        "the active webhooks of the event's customer subscribed to its type (or to `*`) when the event was accepted: each receives it; 0: none does. A webhook created later is not counted. For a duplicate, those subscribed now",
    }),
  },
  { additionalProperties: false },
);

export const BatchAcceptedSchema = Type.Object(
  {
    accepted: Type.Integer({ minimum: 0, description: "events stored for delivery" }),
    duplicates: Type.Integer({ minimum: 0, description: "events whose id was accepted before (or earlier in this batch); not delivered again" }),
    duplicate_ids: Type.Array(Type.String(), {
      description: "the duplicates' ids, in the batch's order, one per duplicate event (`duplicates` of them)",
    }),
    matched_webhooks: Type.Integer({
      minimum: 0,
      description: "the (event, webhook) pairs of the new events: for each, the active webhooks subscribed to its type when it was accepted (a webhook created later is not counted)",
    }),
    unmatched_ids: Type.Array(Type.String(), {
      description: "the ids of the new events no webhook subscribed to when they were accepted, in the batch's order",
    }),
  },
  { additionalProperties: false },
);
