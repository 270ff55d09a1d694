/** @module The shape of an event a producer sends, one or in a batch. */
import { FormatRegistry, Type } from "@sinclair/typebox";
import { compile } from "../../platform/validate.ts";

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;
if (!FormatRegistry.Has("date-time"))
  FormatRegistry.Set("date-time", (value) => RFC3339.test(value) && !Number.isNaN(Date.parse(value)));

const Text = (max: number, errorMessage: string, pattern?: string) =>
  Type.String({ minLength: 1, maxLength: max, errorMessage, ...(pattern ? { pattern } : {}) });

export const EventInputSchema = Type.Object(
  {
    id: Text(256, "must be a non-empty string of at most 256 printable characters", "^[\\x21-\\x7e]+$"),
    type: Text(128, "must be 1-128 of letters, digits and _ . : - /", "^[A-Za-z0-9_.:\\-/]+$"),
    source: Text(256, "must be a non-empty string of at most 256 characters"),
    data: Type.Unknown({ errorMessage: "is required (any JSON value)" }),
    timestamp: Type.Optional(Type.String({ format: "date-time", errorMessage: "must be an RFC 3339 date-time" })),
  },
  { additionalProperties: false, errorMessage: "must be an object with id, type, source and data" },
);

export const eventInput = compile(EventInputSchema);

export const BatchSchema = Type.Object(
  { events: Type.Array(Type.Unknown(), { minItems: 1, errorMessage: "must be a non-empty array of events" }) },
  { additionalProperties: false, errorMessage: "must be an object {\"events\": [...]}" },
);

export const batchInput = compile(BatchSchema);
