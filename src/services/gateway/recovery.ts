/** @module The gateway's routes of bulk replay: start a webhook's recovery, follow the job, cancel it. */
import { Elysia, t } from "elysia";
import { accessControl } from "../auth/access.ts";
import { cancelJob, getJob, startRecovery } from "../recovery/jobs.ts";
import { GATEWAY_MODELS, SMALL_BODY, TAGS, validatedByTheUseCase } from "./models.ts";
import { presentJob } from "./present.ts";
import type { GatewayDeps } from "./routes.ts";

const JobId = t.Object({ id: t.String({ description: "the job's id (`job_…`)" }) });

export function recoveryRoutes(deps: GatewayDeps) {
  return new Elysia({ name: "gateway-recovery", normalize: false })
    .use(accessControl(deps))
    .model(GATEWAY_MODELS)
    .post(
      "/api/v1/webhooks/:id/recover",
      async ({ principal, params, body, set }) => {
        set.status = 202;
        return presentJob(await startRecovery(deps, principal, params.id, body));
      },
      {
        bearer: { scope: "deliveries:write", body: SMALL_BODY },
        params: t.Object({ id: t.String({ description: "the webhook's id (`wh_…`)" }) }),
        response: { 202: "RecoveryJob" },
        detail: {
          operationId: "recoverWebhook",
          requestBody: validatedByTheUseCase("RecoverInput"),
          tags: [TAGS.deliveries],
          summary: "Send a webhook's dead (or failed, or succeeded) deliveries of a time range again, in the background, at a pace",
          description:
            "Starts a job (`GET /api/v1/jobs/{id}` follows it) that sends each matching delivery again as a new round, oldest event first, evenly spaced at `per_second` at most (default 10, or the webhook's own rate limit when lower); a failure goes on with the delivery's own retries. It survives a restart of the retry role (a job taken over goes on from where it was, nothing sent twice by the job) and ends with a `recovery.finished` operational event. A disabled or ordered webhook is refused.",
        },
      },
    )
    .get("/api/v1/jobs/:id", async ({ principal, params }) => presentJob(await getJob(deps, principal, params.id)), {
      bearer: { scope: "deliveries:read" },
      params: JobId,
      response: { 200: "RecoveryJob" },
      detail: { operationId: "getJob", tags: [TAGS.deliveries], summary: "Follow a recovery: matched, sent, succeeded and failed so far" },
    })
    .post("/api/v1/jobs/:id/cancel", async ({ principal, params }) => presentJob(await cancelJob(deps, principal, params.id)), {
      bearer: { scope: "deliveries:write" },
      params: JobId,
      response: { 200: "RecoveryJob" },
      detail: { operationId: "cancelJob", tags: [TAGS.deliveries], summary: "Cancel a recovery: it sends nothing more (the sends under way end as they will)" },
    });
}
