// Who sees a webhook's signing secret, in both deployments, with customers' API keys over REST and
// gRPC: the answers of create and rotate-secret, and the `webhooks:secrets` scope's own read; never
// a `webhooks:read` (or `webhooks:write`) key's get, list or update, and never the logs.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { grpcurl, grpcurlPath } from "../helpers/grpcurl.ts";
import { adminToken, client, type Instance, startInProcess, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type Receiver, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const SERVICE = "hookrelay.webhook.v1.WebhookRegistry";

describe.each(MODES)("webhook signing secrets (%s)", (mode) => {
  let hr: Instance;
  let receiver: Receiver;
  let admin: ReturnType<typeof client>;
  const run = Math.random().toString(36).slice(2, 8);
  /** Every secret the API handed out in this file: none may reach the logs. */
  const handedOut: string[] = [];

  beforeAll(async () => {
    await grpcurlPath();
    // Debug logs: the most a process ever writes, so a secret in any of it is found.
    hr = await startInProcess({ ...(await modeEnv(mode)), HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "debug" });
    receiver = startReceiver();
    admin = client(hr.gateway, await adminToken(hr.gateway));
  }, 240_000);

  afterAll(async () => {
    await hr.stop();
    receiver.stop();
  });

  /** A key of `customer` with `scopes`: REST clients on gateway and ingest, and a gRPC caller. */
  async function keyOf(customer: string, scopes: string[]) {
    const issued = await admin("POST", `/api/v1/customers/${customer}/api-keys`, { name: scopes.join(" "), scopes });
    expect(issued.status).toBe(201);
    const key = issued.body.key as string;
    return {
      api: client(hr.gateway, key),
      ingest: client(hr.ingest, key),
      rpc: (method: string, data: unknown) => grpcurl(hr.registry, [`${SERVICE}/${method}`], { data, token: key }),
    };
  }

  async function customer(name: string): Promise<string> {
    const created = await admin("POST", "/api/v1/customers", { id: `${name}-${run}`, name });
    expect(created.status).toBe(201);
    return created.body.id;
  }

  it("answers the secret on create and rotate-secret only, never to a webhooks:read key's REST get/list or gRPC Get/List", async () => {
    const acme = await customer("secrets-acme");
    const writer = await keyOf(acme, ["webhooks:write"]);
    const reader = await keyOf(acme, ["webhooks:read"]);
    const verifier = await keyOf(acme, ["webhooks:secrets"]);

    // REST create: the answer holds the secret, and is not to be cached.
    const created = await writer.api("POST", "/api/v1/webhooks", { url: receiver.url(`/rest-${run}`), event_types: ["secret.test"] });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(created.headers.get("cache-control")).toBe("no-store");
    const id = created.body.id as string;
    // gRPC create: the same.
    const grpcCreated = await writer.rpc("CreateWebhook", { webhook: { url: receiver.url(`/grpc-${run}`), event_types: ["secret.test"] } });
    expect(grpcCreated.code).toBe("OK");
    expect(grpcCreated.body.webhook.secret).toMatch(/^whsec_/);
    const grpcId = grpcCreated.body.webhook.id as string;
    handedOut.push(created.body.secret, grpcCreated.body.webhook.secret);

    // A webhooks:read key reads both webhooks, over both surfaces, without a secret.
    const got = await reader.api("GET", `/api/v1/webhooks/${id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id, url: receiver.url(`/rest-${run}`), status: "active" });
    expect("secret" in got.body).toBe(false);
    const listed = await reader.api("GET", "/api/v1/webhooks");
    expect(listed.body.data.map((w: { id: string }) => w.id).sort()).toEqual([id, grpcId].sort());
    expect(listed.body.data.filter((w: object) => "secret" in w)).toEqual([]);
    const grpcGot = await reader.rpc("GetWebhook", { id: grpcId });
    expect(grpcGot.code).toBe("OK");
    expect(grpcGot.body.webhook.id).toBe(grpcId);
    expect(grpcGot.body.webhook.secret).toBeUndefined(); // the empty string, which protojson leaves out
    const grpcListed = await reader.rpc("ListWebhooks", { page_size: 100 });
    expect(grpcListed.body.webhooks.map((w: { id: string }) => w.id).sort()).toEqual([id, grpcId].sort());
    expect(grpcListed.body.webhooks.filter((w: { secret?: string }) => w.secret !== undefined)).toEqual([]);
    // Nor does a change show it, on either surface.
    const patched = await writer.api("PATCH", `/api/v1/webhooks/${id}`, { description: "changed" });
    expect(patched.status).toBe(200);
    expect("secret" in patched.body).toBe(false);
    const grpcUpdated = await writer.rpc("UpdateWebhook", { webhook: { id: grpcId, description: "changed" }, update_mask: { paths: ["description"] } });
    expect(grpcUpdated.code).toBe("OK");
    expect(grpcUpdated.body.webhook.secret).toBeUndefined();

    // Rotation answers the new secret, over both surfaces.
    const rotated = await writer.api("POST", `/api/v1/webhooks/${id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(created.body.secret);
    expect(rotated.headers.get("cache-control")).toBe("no-store");
    const grpcRotated = await writer.rpc("RotateSecret", { id: grpcId });
    expect(grpcRotated.body.webhook.secret).toMatch(/^whsec_/);
    expect(grpcRotated.body.webhook.secret).not.toBe(grpcCreated.body.webhook.secret);
    handedOut.push(rotated.body.secret, grpcRotated.body.webhook.secret);

    // The secrets scope reads the current one, which is what deliveries are signed with.
    const secret = await verifier.api("GET", `/api/v1/webhooks/${id}/secret`);
    expect(secret).toMatchObject({ status: 200, body: { secret: rotated.body.secret } });
    expect(secret.headers.get("cache-control")).toBe("no-store");
    expect((await verifier.rpc("GetWebhookSecret", { id: grpcId })).body).toEqual({ secret: grpcRotated.body.webhook.secret });
    const producer = await keyOf(acme, ["events:write"]);
    expect((await producer.ingest("POST", "/events", { id: `evt_secret_${run}`, type: "secret.test", source: "t", data: {} })).status).toBe(202);
    await waitFor("both deliveries", () => receiver.received.filter((r) => r.path.endsWith(`-${run}`)).length >= 2);
    const at = (path: string) => receiver.received.find((r) => r.path === path)!;
    expect(() => new StandardWebhook(secret.body.secret).verify(at(`/rest-${run}`).body, at(`/rest-${run}`).headers)).not.toThrow();
    expect(() => new StandardWebhook(grpcRotated.body.webhook.secret).verify(at(`/grpc-${run}`).body, at(`/grpc-${run}`).headers)).not.toThrow();
  });

  it("refuses the secret's own read without webhooks:secrets (403, PERMISSION_DENIED), and hides another customer's (404)", async () => {
    const acme = await customer("secrets-owner");
    const other = await customer("secrets-other");
    const everyOtherScope = await keyOf(acme, ["webhooks:read", "webhooks:write", "events:write", "deliveries:read", "deliveries:write"]);
    const created = await everyOtherScope.api("POST", "/api/v1/webhooks", { url: receiver.url(`/owner-${run}`), event_types: ["secret.scope"] });
    handedOut.push(created.body.secret);
    const id = created.body.id as string;

    const denied = await everyOtherScope.api("GET", `/api/v1/webhooks/${id}/secret`);
    expect(denied).toMatchObject({ status: 403, body: { error: { code: "forbidden", message: "this call needs the 'webhooks:secrets' scope" } } });
    expect(JSON.stringify(denied.body)).not.toContain(created.body.secret);
    expect(await everyOtherScope.rpc("GetWebhookSecret", { id })).toMatchObject({ code: "PermissionDenied", message: "this call needs the 'webhooks:secrets' scope" });

    // Another customer's key with the scope: no such webhook for it.
    const stranger = await keyOf(other, ["webhooks:secrets"]);
    expect((await stranger.api("GET", `/api/v1/webhooks/${id}/secret`)).status).toBe(404);
    expect((await stranger.rpc("GetWebhookSecret", { id })).code).toBe("NotFound");
    // The owner's secrets key, and the operator's admin login, may read it.
    expect((await (await keyOf(acme, ["webhooks:secrets"])).api("GET", `/api/v1/webhooks/${id}/secret`)).body).toEqual({ secret: created.body.secret });
    expect((await admin("GET", `/api/v1/webhooks/${id}/secret`)).status).toBe(404); // admin works in `default`, not acme's
    const own = await admin("POST", "/api/v1/webhooks", { url: receiver.url(`/admin-${run}`), event_types: ["secret.scope"] });
    handedOut.push(own.body.secret);
    expect((await admin("GET", `/api/v1/webhooks/${own.body.id}/secret`)).body).toEqual({ secret: own.body.secret });
  });

  it("never writes a secret it handed out to the logs", () => {
    expect(handedOut).toHaveLength(6);
    const logs = hr.logs.join("\n");
    expect(hr.logs.length).toBeGreaterThan(0);
    for (const secret of handedOut) {
      expect(logs).not.toContain(secret);
      expect(logs).not.toContain(secret.slice("whsec_".length));
    }
  });
});
