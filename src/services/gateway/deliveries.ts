/** @module Looking at deliveries and their attempts, and retrying them by hand. */
import type { Static } from "@sinclair/typebox";
import { NotFoundError } from "../../domain/errors.ts";
import type { Delivery, Page } from "../../domain/model.ts";
import type { Clock, RetrySchedule, Store } from "../../domain/ports.ts";
import type { Logger } from "../../platform/logger.ts";
import type { Principal } from "../auth/tokens.ts";
import { requeue } from "../delivery/transitions.ts";
import type { DeliveryQuerySchema } from "./schemas.ts";

export interface DeliveryDeps {
  store: Store;
  schedule: RetrySchedule;
  clock: Clock;
  log: Logger;
}

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

/** Deliveries of the caller's customer, filtered as the (validated) query says. */
export function listDeliveries(deps: DeliveryDeps, principal: Principal, q: Static<typeof DeliveryQuerySchema>): Promise<Page<Delivery>> {
  return deps.store.listDeliveries(principal.customerId, {
    webhookId: q.webhook_id,
    eventId: q.event_id,
    status: q.status,
    limit: q.limit ?? DEFAULT_PAGE,
    cursor: q.cursor,
  });
}

export async function getDelivery(deps: Pick<DeliveryDeps, "store">, principal: Principal, id: string): Promise<Delivery> {
  const delivery = await deps.store.getDelivery(principal.customerId, id);
  if (!delivery) throw new NotFoundError("delivery", id);
  return delivery;
}

/**
 * Starts a new round of tries now, whatever the delivery's status (a succeeded one is sent again).
 * Answered once the new round is stored: from there the retry manager will try it (transitions.ts).
 */
export async function retryDelivery(deps: DeliveryDeps, principal: Principal, id: string): Promise<Delivery> {
  return requeue(deps, await getDelivery(deps, principal, id), deps.clock.now());
}
