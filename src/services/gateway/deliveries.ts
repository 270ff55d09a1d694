/** @module Looking at deliveries and their attempts, and retrying them by hand. */
import { Type } from "@sinclair/typebox";
import { NotFoundError } from "../../domain/errors.ts";
import type { Delivery, Page } from "../../domain/model.ts";
import type { Clock, RetrySchedule, Store } from "../../domain/ports.ts";
import { compile } from "../../platform/validate.ts";
import type { Principal } from "../auth/tokens.ts";

export interface DeliveryDeps {
  store: Store;
  schedule: RetrySchedule;
  clock: Clock;
}

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

const Limit = Type.Optional(
  Type.Integer({ minimum: 1, maximum: MAX_PAGE, errorMessage: `must be an integer from 1 to ${MAX_PAGE}` }),
);
const Cursor = Type.Optional(Type.String({ maxLength: 64, errorMessage: "must be the next_cursor of a previous page" }));

export const pageQuery = compile(Type.Object({ limit: Limit, cursor: Cursor }, { additionalProperties: false }));

const deliveryQuery = compile(
  Type.Object(
    {
      webhook_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, errorMessage: "must be a webhook id" })),
      event_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256, errorMessage: "must be an event id" })),
      status: Type.Optional(
        Type.Union(["pending", "succeeded", "failed", "dead"].map((s) => Type.Literal(s)), {
          errorMessage: "must be one of pending, succeeded, failed, dead",
        }),
      ),
      limit: Limit,
      cursor: Cursor,
    },
    { additionalProperties: false, errorMessage: "unknown filter" },
  ),
);

/** Query strings arrive as text: numbers are turned into numbers before validation. */
export function numericLimit(query: Record<string, string | undefined>): Record<string, unknown> {
  const limit = query.limit;
  return limit !== undefined && /^\d+$/.test(limit) ? { ...query, limit: Number(limit) } : query;
}

export function listDeliveries(deps: DeliveryDeps, principal: Principal, rawQuery: Record<string, string | undefined>): Promise<Page<Delivery>> {
  const q = deliveryQuery.parse(numericLimit(rawQuery), "query");
  return deps.store.listDeliveries(principal.customerId, {
    webhookId: q.webhook_id,
    eventId: q.event_id,
    status: q.status as Delivery["status"] | undefined,
    limit: q.limit ?? DEFAULT_PAGE,
    cursor: q.cursor,
  });
}

export async function getDelivery(deps: Pick<DeliveryDeps, "store">, principal: Principal, id: string): Promise<Delivery> {
  const delivery = await deps.store.getDelivery(principal.customerId, id);
  if (!delivery) throw new NotFoundError("delivery", id);
  return delivery;
}

/** Starts a new round of tries now, whatever the delivery's status (a succeeded one is sent again). */
export async function retryDelivery(deps: DeliveryDeps, principal: Principal, id: string): Promise<Delivery> {
  const delivery = await getDelivery(deps, principal, id);
  const now = deps.clock.now();
  const requeued = await deps.store.requeueDelivery(delivery, now);
  await deps.schedule.schedule([{ deliveryId: delivery.id, dueAt: now }]);
  return requeued;
}
