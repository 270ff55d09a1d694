/** @module The WebhookRegistry RPCs: authenticate, then the same webhook rules as REST. */

import { create } from "@bufbuild/protobuf";
import type { ServerUnaryCall, sendUnaryData, UntypedServiceImplementation } from "@grpc/grpc-js";
import { ValidationError } from "../../domain/errors.ts";
import {
  type CreateWebhookRequest,
  CreateWebhookResponseSchema,
  type DeleteWebhookRequest,
  DeleteWebhookResponseSchema,
  type GetWebhookRequest,
  GetWebhookResponseSchema,
  type GetWebhookSecretRequest,
  GetWebhookSecretResponseSchema,
  type ListWebhooksRequest,
  ListWebhooksResponseSchema,
  type RotateSecretRequest,
  RotateSecretResponseSchema,
  type UpdateWebhookRequest,
  UpdateWebhookResponseSchema,
} from "../../gen/hookrelay/webhook/v1/registry_pb.ts";
import type { Logger } from "../../platform/logger.ts";
import { authenticateAndLimit, type GuardDeps } from "../auth/guard.ts";
import type { Scope } from "../auth/scopes.ts";
import type { Principal } from "../auth/tokens.ts";
import { DEFAULT_PAGE, MAX_PAGE } from "../gateway/deliveries.ts";
import * as webhooks from "../webhooks/manage.ts";
import { createInput, requiredId, schemeName, updateInput, webhookMessage } from "./convert.ts";
import { grpcStatus } from "./errors.ts";

/** The guard's credentials and rate limits (per client IP, per customer): the same as REST's. */
export interface RegistryDeps extends webhooks.WebhookDeps, Omit<GuardDeps, "trustForwardedFor"> {
  log: Logger;
}

/** Longest page token we hand out: a webhook id. */
const MAX_PAGE_TOKEN = 64;

/** The address in a grpc-js peer (`ipv4:127.0.0.1:5000`, `[::1]:5000`, `127.0.0.1:5000`), or null. */
export function peerAddress(peer: string): string | null {
  const text = peer.replace(/^ipv[46]:/, "");
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(text);
  if (bracketed) return bracketed[1]!;
  const plain = /^([^:]+):\d+$/.exec(text);
  return plain ? plain[1]! : null;
}

/** The caller named by `authorization: Bearer <token>` metadata, holding `scope`, within the rate limits. */
async function caller(deps: RegistryDeps, call: ServerUnaryCall<unknown, unknown>, scope: Scope): Promise<Principal> {
  const [value] = call.metadata.get("authorization");
  // gRPC has no proxy header: the peer is the client.
  const { principal } = await authenticateAndLimit({ ...deps, trustForwardedFor: false }, "api", peerAddress(call.getPeer()), typeof value === "string" ? value : null, scope);
  return principal;
}

function pageSize(size: number): number {
  if (size === 0) return DEFAULT_PAGE;
  if (size < 1 || size > MAX_PAGE) throw new ValidationError(`page_size: must be from 1 to ${MAX_PAGE} (0 means ${DEFAULT_PAGE}), got ${size}`);
  return size;
}

function pageToken(token: string): string | undefined {
  if (token.length > MAX_PAGE_TOKEN) throw new ValidationError("page_token: must be the next_page_token of a previous page");
  return token || undefined;
}

/** The seven RPCs, keyed by the names `grpcDefinition(WebhookRegistry)` gives them. */
export function registryHandlers(deps: RegistryDeps): UntypedServiceImplementation {
  const unary =
    <Req, Res>(method: string, scope: Scope, run: (principal: Principal, request: Req) => Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      caller(deps, call as ServerUnaryCall<unknown, unknown>, scope)
        .then((principal) => run(principal, call.request))
        .then(
          (response) => callback(null, response),
          (err) => callback(grpcStatus(err, deps.log, method)),
        );
    };

  return {
    createWebhook: unary("CreateWebhook", "webhooks:write", async (principal, req: CreateWebhookRequest) => {
      const webhook = await webhooks.createWebhook(deps, principal, createInput(req.webhook));
      return create(CreateWebhookResponseSchema, { webhook: webhookMessage(webhook, true) });
    }),
    getWebhook: unary("GetWebhook", "webhooks:read", async (principal, req: GetWebhookRequest) => {
      const webhook = await webhooks.getWebhook(deps, principal, requiredId(req.id));
      return create(GetWebhookResponseSchema, { webhook: webhookMessage(webhook) });
    }),
    getWebhookSecret: unary("GetWebhookSecret", "webhooks:secrets", async (principal, req: GetWebhookSecretRequest) => {
      const webhook = await webhooks.getWebhook(deps, principal, requiredId(req.id));
      return create(GetWebhookSecretResponseSchema, { secret: webhook.secret });
    }),
    listWebhooks: unary("ListWebhooks", "webhooks:read", async (principal, req: ListWebhooksRequest) => {
      const page = await webhooks.listWebhooks(deps, principal, pageSize(req.pageSize), pageToken(req.pageToken));
      return create(ListWebhooksResponseSchema, { webhooks: page.data.map((w) => webhookMessage(w)), nextPageToken: page.nextCursor ?? "" });
    }),
    updateWebhook: unary("UpdateWebhook", "webhooks:write", async (principal, req: UpdateWebhookRequest) => {
      const id = requiredId(req.webhook?.id ?? "", "webhook.id");
      const { raw, mode } = updateInput(req.webhook!, req.updateMask);
      const webhook = await webhooks.updateWebhook(deps, principal, id, raw, mode);
      return create(UpdateWebhookResponseSchema, { webhook: webhookMessage(webhook) });
    }),
    deleteWebhook: unary("DeleteWebhook", "webhooks:write", async (principal, req: DeleteWebhookRequest) => {
      await webhooks.deleteWebhook(deps, principal, requiredId(req.id));
      return create(DeleteWebhookResponseSchema);
    }),
    rotateSecret: unary("RotateSecret", "webhooks:write", async (principal, req: RotateSecretRequest) => {
      const webhook = await webhooks.rotateSecret(deps, principal, requiredId(req.id), {
        ...(req.secret ? { secret: req.secret } : {}),
        ...(req.gracePeriodSeconds !== undefined ? { grace_period_seconds: req.gracePeriodSeconds } : {}),
        ...(schemeName(req.signatureScheme) ? { signature_scheme: schemeName(req.signatureScheme) } : {}),
      });
      return create(RotateSecretResponseSchema, { webhook: webhookMessage(webhook, true) });
    }),
  };
}
