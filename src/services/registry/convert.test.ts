import { describe, expect, it } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema, timestampDate } from "@bufbuild/protobuf/wkt";
import { ValidationError } from "../../domain/errors.ts";
import { NEW_WEBHOOK_STATE, type Webhook } from "../../domain/model.ts";
import { WebhookSchema, WebhookStatus } from "../../gen/hookrelay/webhook/v1/registry_pb.ts";
import { createInput, updateInput, webhookMessage } from "./convert.ts";

const mask = (...paths: string[]) => create(FieldMaskSchema, { paths });
const message = create(WebhookSchema, { id: "wh_1", url: "https://a.example/", eventTypes: ["a"], headers: { x: "1" }, status: WebhookStatus.DISABLED, secret: "" });

describe("registry conversions", () => {
  it("turns a stored webhook into its message, times as Timestamps and a null description unset", () => {
    const w: Webhook = {
      id: "wh_1",
      customerId: "c",
      url: "https://a.example/",
      eventTypes: ["a"],
      headers: {},
      description: null,
      secret: "whsec_x",
      status: "active",
      ...NEW_WEBHOOK_STATE,
      createdAt: "2026-01-02T03:04:05.678Z",
      updatedAt: "2026-01-02T03:04:06.000Z",
    };
    const m = webhookMessage(w);
    expect(m.status).toBe(WebhookStatus.ACTIVE);
    expect(m.description).toBeUndefined();
    expect(timestampDate(m.createTime!).toISOString()).toBe(w.createdAt);
    // The secret only where asked for (CreateWebhook's and RotateSecret's answers).
    expect(m.secret).toBe("");
    expect(webhookMessage(w, true).secret).toBe("whsec_x");
  });

  it("leaves empty fields out of a create so the rules report them or defaults apply", () => {
    expect(createInput(undefined)).toEqual({ event_types: [], headers: {} });
    expect(createInput(message)).toEqual({ url: "https://a.example/", event_types: ["a"], headers: { x: "1" }, status: "disabled" });
  });

  it("merges only the masked fields, and replaces with '*'", () => {
    expect(updateInput(message, mask("event_types", "description"))).toEqual({ raw: { event_types: ["a"], description: null }, mode: "merge" });
    expect(updateInput(message, mask("*")).mode).toBe("replace");
  });

  it("names every bad mask path at once", () => {
    expect(() => updateInput(message, undefined)).toThrow(/update_mask: required/);
    expect(() => updateInput(message, mask("*", "url"))).toThrow("update_mask: '*' must be the only path");
    expect(() => updateInput(message, mask("id", "create_time", "nope"))).toThrow(ValidationError);
    try {
      updateInput(message, mask("id", "nope"));
    } catch (err) {
      expect((err as ValidationError).details).toEqual([
        "update_mask: 'id' is output only",
        "update_mask: unknown field 'nope' (use url, event_types, filter, headers, description, status, secret, permanent_failure_codes, rate_limit, max_in_flight, ordering, ordering_key or '*')",
      ]);
    }
    expect(() => updateInput(create(WebhookSchema), mask("status"))).toThrow("status: must be WEBHOOK_STATUS_ACTIVE or WEBHOOK_STATUS_DISABLED");
  });
});
