/** @module Ingest's named schemas, as Elysia models with their examples (see gateway/models.ts). */
import { withExamples } from "../../platform/openapi-document.ts";
import { BatchAcceptedSchema, EventAcceptedSchema, EventInputSchema } from "./schema.ts";

export const EVENT_EXAMPLE = { id: "evt_0001", type: "order.created", source: "shop", data: { order_id: 42, total: "19.90" } };

export const INGEST_MODELS = {
  EventInput: withExamples(EventInputSchema, EVENT_EXAMPLE),
  EventAccepted: withExamples(EventAcceptedSchema, { id: "evt_0001", status: "accepted", matched_webhooks: 2 }, { id: "evt_0001", status: "duplicate", matched_webhooks: 2 }),
  BatchAccepted: withExamples(BatchAcceptedSchema, { accepted: 2, duplicates: 1, duplicate_ids: ["evt_0001"], matched_webhooks: 3, unmatched_ids: ["evt_0003"] }),
};
