/**
 * @module Bulk replay (recovery): `POST /api/v1/webhooks/{id}/recover` starts a job that sends a
 * webhook's deliveries of one status (dead by default) whose events were accepted since a time
 * (until another) again, evenly spaced at a pace (runner.ts); `GET /api/v1/jobs/{id}` shows its
 * progress, and it can be cancelled.
 */
import { Type } from "@sinclair/typebox";
import { NotFoundError, ValidationError } from "../../domain/errors.ts";
import { newId } from "../../domain/ids.ts";
import type { RecoveryJob } from "../../domain/model.ts";
import type { Clock, Store } from "../../domain/ports.ts";
import { compile, timeOf } from "../../platform/validate.ts";
import type { Principal } from "../auth/tokens.ts";
import { getWebhook } from "../webhooks/manage.ts";

/** The pace of a recovery unless the call says otherwise (deliveries a second), and the most it may ask. */
export const DEFAULT_RECOVERY_PER_SECOND = 10;
const MAX_RECOVERY_PER_SECOND = 1000;

export const RecoverSchema = Type.Object(
  {
    since: Type.String({ format: "date-time", description: "the deliveries of events accepted at or after this time (RFC 3339)", errorMessage: "must be an RFC 3339 date-time" }),
    until: Type.Optional(Type.String({ format: "date-time", description: "and before this time; default: now", errorMessage: "must be an RFC 3339 date-time" })),
    status: Type.Optional(
      Type.Union([Type.Literal("dead"), Type.Literal("failed"), Type.Literal("succeeded")], {
        description: "which deliveries: dead (the default), failed (being retried), or succeeded (sent again all the same)",
        errorMessage: "must be dead, failed or succeeded",
      }),
    ),
    per_second: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: MAX_RECOVERY_PER_SECOND,
        description: `deliveries sent a second at most, evenly spaced; default ${DEFAULT_RECOVERY_PER_SECOND}, or the webhook's own rate_limit when lower`,
        errorMessage: `must be a number above 0 and at most ${MAX_RECOVERY_PER_SECOND}`,
      }),
    ),
  },
  { additionalProperties: false, errorMessage: "must be an object with since, and optionally until, status and per_second" },
);
const input = compile(RecoverSchema);

export async function startRecovery(deps: { store: Store; clock: Clock }, principal: Principal, webhookId: string, raw: unknown): Promise<RecoveryJob> {
  const body = input.parse(raw);
  const since = timeOf(body.since, "since");
  const until = body.until === undefined ? null : timeOf(body.until, "until");
  if (until !== null && until <= since) throw new ValidationError("since: must be before until");
  const webhook = await getWebhook(deps, principal, webhookId);
  if (webhook.status !== "active") throw new ValidationError(`webhook '${webhook.id}' is disabled: enable it first (PATCH … {"status":"active"}), then recover`);
  if (webhook.ordering) throw new ValidationError(`webhook '${webhook.id}' delivers in order (ordering fifo): retry its deliveries one by one instead`);
  const status = body.status ?? "dead";
  const perSecond = body.per_second ?? Math.min(DEFAULT_RECOVERY_PER_SECOND, webhook.rateLimit?.perSecond ?? DEFAULT_RECOVERY_PER_SECOND);
  const now = deps.clock.now();
  const job: RecoveryJob = {
    id: newId("job", now),
    customerId: principal.customerId,
    webhookId,
    params: { since, until: until ?? now, status, perSecond },
    state: "running",
    cursor: null,
    inFlight: null,
    progress: { matched: await deps.store.recoveryJobs.count(principal.customerId, webhookId, status, since, until ?? now), sent: 0, succeeded: 0, failed: 0 },
    leaseUntil: 0,
    createdAt: now,
    updatedAt: now,
    finishedAt: null,
  };
  await deps.store.recoveryJobs.create(job);
  return job;
}

export async function getJob(deps: { store: Store }, principal: Principal, id: string): Promise<RecoveryJob> {
  const job = await deps.store.recoveryJobs.get(principal.customerId, id);
  if (!job) throw new NotFoundError("job", id);
  return job;
}

/** Stops a running job: it sends nothing more (the sends under way end as they will). A finished or cancelled job is answered as it is. */
export async function cancelJob(deps: { store: Store; clock: Clock }, principal: Principal, id: string): Promise<RecoveryJob> {
  const job = await deps.store.recoveryJobs.cancel(principal.customerId, id, deps.clock.now());
  if (!job) throw new NotFoundError("job", id);
  return job;
}
