// The gRPC WebhookRegistry over real sockets, called by independent clients: grpcurl (Go)
// through reflection, and @grpc/grpc-js under Node 20. Same webhooks as REST, both ways.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { join } from "node:path";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { grpcurl, grpcurlPath } from "../../helpers/grpcurl.ts";
import { adminToken, client, type Instance, startInProcess, waitFor } from "../../helpers/hookrelay.ts";
import { endToEndModes } from "../../helpers/modes.ts";
import { type Receiver, startReceiver } from "../../helpers/receiver.ts";
import { hs256Tokens } from "../../helpers/tokens.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

const SERVICE = "hookrelay.webhook.v1.WebhookRegistry";
const JWT_SECRET = "registry-test-secret-at-least-32-characters";
const mint = hs256Tokens(JWT_SECRET, "hookrelay");

describe.each(MODES)("gRPC WebhookRegistry (%s)", (mode) => {
  let hr: Instance;
  let receiver: Receiver;
  let token: string;
  let api: ReturnType<typeof client>;
  /** Calls as admin, or with `as` (null: no authorization metadata). */
  const rpc = (method: string, data: unknown, as: string | null = token) => grpcurl(hr.registry, [`${SERVICE}/${method}`], { data, token: as ?? undefined });

  beforeAll(async () => {
    await grpcurlPath(); // installs it on a fresh machine
    // The Node client's 200-call burst measures the registry, not the API's rate limit (tests/e2e/rate-limits.test.ts does).
    hr = await startInProcess({ ...(await modeEnv(mode)), HOOKRELAY_SECURITY_JWT_SECRET: JWT_SECRET, HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_CUSTOMER: "0" });
    receiver = startReceiver();
    token = await adminToken(hr.gateway);
    api = client(hr.gateway, token);
  }, 240_000);

  afterAll(async () => {
    receiver.stop();
    await hr.stop();
  });

  it("lists WebhookRegistry and grpc.health.v1.Health by reflection and describes the RPCs", async () => {
    const list = await grpcurl(hr.registry, ["list"]);
    expect(list.code).toBe("OK");
    expect(list.stdout.split("\n").filter(Boolean).sort()).toEqual(["grpc.health.v1.Health", SERVICE]);
    const described = await grpcurl(hr.registry, ["describe", SERVICE]);
    for (const method of ["CreateWebhook", "GetWebhook", "GetWebhookSecret", "ListWebhooks", "UpdateWebhook", "DeleteWebhook", "RotateSecret"]) expect(described.stdout).toContain(`rpc ${method} (`);
    expect((await grpcurl(hr.registry, ["describe", "hookrelay.webhook.v1.Webhook"])).stdout).toContain("map<string, string> headers = 4;");
  });

  it("answers the standard health check SERVING for the server and the registry, NOT_FOUND for others", async () => {
    for (const service of ["", SERVICE]) {
      const health = await grpcurl(hr.registry, ["grpc.health.v1.Health/Check"], { data: { service } });
      expect({ service, ...health.body }).toEqual({ service, status: "SERVING" });
    }
    expect((await grpcurl(hr.registry, ["grpc.health.v1.Health/Check"], { data: { service: "nope" } })).code).toBe("NotFound");
  });

  it("calls every RPC with grpcurl: create, get, list, update with a field mask, rotate, delete", async () => {
    const created = await rpc("CreateWebhook", { webhook: { url: receiver.url("/grpcurl"), event_types: ["grpc.a", "grpc.b"], headers: { "x-team": "grpc" }, description: "via grpcurl" } });
    expect(created.code).toBe("OK");
    const hook = created.body.webhook;
    expect(hook).toMatchObject({ url: receiver.url("/grpcurl"), eventTypes: ["grpc.a", "grpc.b"], headers: { "x-team": "grpc" }, description: "via grpcurl", status: "WEBHOOK_STATUS_ACTIVE" });
    expect(hook.id).toMatch(/^wh_/);
    expect(hook.secret).toMatch(/^whsec_/);
    expect(Date.parse(hook.createTime)).toBeGreaterThan(Date.now() - 60_000);

    // Reads never show the secret (protojson omits the empty string); GetWebhookSecret does.
    const { secret: _secret, ...withoutSecret } = hook;
    expect((await rpc("GetWebhook", { id: hook.id })).body.webhook).toEqual(withoutSecret);
    expect((await rpc("GetWebhookSecret", { id: hook.id })).body).toEqual({ secret: hook.secret });
    const listed = await rpc("ListWebhooks", { page_size: 1000 });
    expect(listed.body.webhooks.map((w: { id: string }) => w.id)).toContain(hook.id);
    expect(listed.body.webhooks.filter((w: { secret?: string }) => w.secret !== undefined)).toEqual([]);

    const updated = await rpc("UpdateWebhook", {
      webhook: { id: hook.id, event_types: ["grpc.b"], url: "http://ignored.example/" },
      update_mask: { paths: ["event_types", "description"] },
    });
    expect(updated.code).toBe("OK");
    // Only the masked fields change: the url stays, the description (unset) is cleared.
    expect(updated.body.webhook).toMatchObject({ id: hook.id, url: hook.url, eventTypes: ["grpc.b"], headers: { "x-team": "grpc" } });
    expect(updated.body.webhook.description).toBeUndefined();
    expect(updated.body.webhook.secret).toBeUndefined();
    const replaced = await rpc("UpdateWebhook", { webhook: { id: hook.id, url: receiver.url("/grpcurl2"), event_types: ["grpc.c"] }, update_mask: { paths: ["*"] } });
    expect(replaced.body.webhook).toMatchObject({ url: receiver.url("/grpcurl2"), eventTypes: ["grpc.c"], status: "WEBHOOK_STATUS_ACTIVE" });
    expect(replaced.body.webhook.headers).toBeUndefined(); // replaced: no headers (protojson omits an empty map)

    const rotated = await rpc("RotateSecret", { id: hook.id });
    expect(rotated.body.webhook.secret).toMatch(/^whsec_/);
    expect(rotated.body.webhook.secret).not.toBe(hook.secret);
    // The old secret signs alongside for 24 h by default, or as long as asked (0: not at all).
    expect(Date.parse(rotated.body.webhook.previousSecretExpireTime) - Date.now()).toBeGreaterThan(23.9 * 3_600_000);
    const chosen = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const withGrace = await rpc("RotateSecret", { id: hook.id, secret: chosen, grace_period_seconds: 60 });
    expect(withGrace.body.webhook.secret).toBe(chosen);
    expect(Date.parse(withGrace.body.webhook.previousSecretExpireTime) - Date.now()).toBeLessThanOrEqual(60_000);
    expect(Date.parse(withGrace.body.webhook.previousSecretExpireTime) - Date.now()).toBeGreaterThan(50_000);
    const badGrace = await rpc("RotateSecret", { id: hook.id, grace_period_seconds: -5 });
    expect(badGrace.code).toBe("InvalidArgument");
    expect(badGrace.message).toContain("grace_period_seconds");
    const atOnce = await rpc("RotateSecret", { id: hook.id, secret: chosen, grace_period_seconds: 0 });
    expect(atOnce.body.webhook.previousSecretExpireTime).toBeUndefined();
    expect((await rpc("GetWebhookSecret", { id: hook.id })).body).toEqual({ secret: chosen });

    expect(await rpc("DeleteWebhook", { id: hook.id })).toMatchObject({ code: "OK", body: {} });
    expect((await rpc("GetWebhook", { id: hook.id })).code).toBe("NotFound");
    expect((await rpc("DeleteWebhook", { id: hook.id })).code).toBe("NotFound");
  });

  it("pages ListWebhooks with page_size and page_token", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await rpc("CreateWebhook", { webhook: { url: receiver.url(`/page${i}`), event_types: ["page"] } })).body.webhook.id);
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await rpc("ListWebhooks", { page_size: 2, page_token: pageToken });
      expect(page.code).toBe("OK");
      expect(page.body.webhooks.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.webhooks.map((w: { id: string }) => w.id));
      pageToken = page.body.nextPageToken ?? "";
    } while (pageToken);
    expect(seen).toEqual([...seen].sort());
    for (const id of ids) expect(seen).toContain(id);
    for (const id of ids) await rpc("DeleteWebhook", { id });
  });

  it("delivers to a webhook created over gRPC, and shows it over REST", async () => {
    const created = await rpc("CreateWebhook", { webhook: { url: receiver.url("/from-grpc"), event_types: ["cross.grpc"], headers: { "x-via": "grpc" } } });
    const hook = created.body.webhook;
    const rest = await api("GET", `/api/v1/webhooks/${hook.id}`);
    expect(rest.status).toBe(200);
    expect(rest.body).toMatchObject({ id: hook.id, url: hook.url, event_types: ["cross.grpc"], headers: { "x-via": "grpc" }, status: "active" });
    expect(rest.body.secret).toBeUndefined();
    expect((await api("GET", `/api/v1/webhooks/${hook.id}/secret`)).body).toEqual({ secret: hook.secret });
    expect((await api("POST", "/api/v1/events", { id: "evt_cross_grpc", type: "cross.grpc", source: "t", data: { n: 1 } })).status).toBe(202);
    await waitFor("the delivery", () => receiver.received.some((r) => r.path === "/from-grpc"));
    const got = receiver.received.find((r) => r.path === "/from-grpc")!;
    expect(got.headers["x-via"]).toBe("grpc");
    expect((new StandardWebhook(hook.secret).verify(got.body, got.headers) as { id: string }).id).toBe("evt_cross_grpc");
  });

  it("shows a webhook created over REST over gRPC, and a gRPC change over REST", async () => {
    const rest = await api("POST", "/api/v1/webhooks", { url: receiver.url("/from-rest"), event_types: ["cross.rest"], description: "made with REST" });
    expect(rest.status).toBe(201);
    const got = await rpc("GetWebhook", { id: rest.body.id });
    expect(got.body.webhook).toMatchObject({ id: rest.body.id, url: rest.body.url, eventTypes: ["cross.rest"], description: "made with REST", status: "WEBHOOK_STATUS_ACTIVE" });
    expect(got.body.webhook.secret).toBeUndefined();
    expect((await rpc("GetWebhookSecret", { id: rest.body.id })).body).toEqual({ secret: rest.body.secret });
    expect(got.body.webhook.createTime).toBe(rest.body.created_at);
    await rpc("UpdateWebhook", { webhook: { id: rest.body.id, status: "WEBHOOK_STATUS_DISABLED" }, update_mask: { paths: ["status"] } });
    expect((await api("GET", `/api/v1/webhooks/${rest.body.id}`)).body.status).toBe("disabled");
  });

  it("carries a webhook's ordering both ways: fifo with its key set over gRPC, read over REST, turned off with a mask", async () => {
    const created = await rpc("CreateWebhook", { webhook: { url: receiver.url("/ordered"), event_types: ["grpc.ordered"], ordering: "WEBHOOK_ORDERING_FIFO", ordering_key: "data.account" } });
    expect(created.code).toBe("OK");
    expect(created.body.webhook).toMatchObject({ ordering: "WEBHOOK_ORDERING_FIFO", orderingKey: "data.account" });
    expect((await api("GET", `/api/v1/webhooks/${created.body.webhook.id}`)).body).toMatchObject({ ordering: "fifo", ordering_key: "data.account" });
    const bad = await rpc("UpdateWebhook", { webhook: { id: created.body.webhook.id, ordering_key: "nope.x" }, update_mask: { paths: ["ordering_key"] } });
    expect(bad.code).toBe("InvalidArgument");
    expect(bad.message).toContain("ordering_key: 'nope.x' must start with one of");
    const off = await rpc("UpdateWebhook", { webhook: { id: created.body.webhook.id, ordering: "WEBHOOK_ORDERING_NONE" }, update_mask: { paths: ["ordering", "ordering_key"] } });
    expect(off.code).toBe("OK");
    expect(off.body.webhook.ordering).toBe("WEBHOOK_ORDERING_NONE");
    expect(off.body.webhook.orderingKey).toBeUndefined();
    expect((await api("GET", `/api/v1/webhooks/${created.body.webhook.id}`)).body).toMatchObject({ ordering: "none", ordering_key: null });
  });

  it("carries a webhook's filter both ways (a Struct), refuses a bad one naming the operator, delivers only what passes, and clears it with a mask", async () => {
    const filter = { "data.amount": { $gte: 100 }, $or: [{ "data.currency": "EUR" }, { "data.tags": { $in: ["vip"] } }] };
    const created = await rpc("CreateWebhook", { webhook: { url: receiver.url("/filtered"), event_types: ["grpc.filter.*"], filter } });
    expect(created.code).toBe("OK");
    const id = created.body.webhook.id;
    expect(created.body.webhook.filter).toEqual(filter);
    expect((await api("GET", `/api/v1/webhooks/${id}`)).body).toMatchObject({ event_types: ["grpc.filter.*"], filter });
    const bad = await rpc("UpdateWebhook", { webhook: { id, filter: { "data.amount": { $between: [1, 2] } } }, update_mask: { paths: ["filter"] } });
    expect(bad.code).toBe("InvalidArgument");
    expect(bad.message).toContain("filter.data.amount: unknown operator '$between'");
    // The two that fail the filter first: once the third is delivered, they were dispatched (the log's order).
    for (const [n, amount, currency] of [
      [2, 50, "EUR"],
      [3, 150, "USD"],
      [1, 150, "EUR"],
    ] as const)
      expect((await api("POST", "/api/v1/events", { id: `evt_grpc_filter_${n}`, type: "grpc.filter.paid", source: "t", data: { amount, currency } })).status).toBe(202);
    await waitFor("the passing event", () => receiver.received.some((r) => r.path === "/filtered"));
    const cleared = await rpc("UpdateWebhook", { webhook: { id }, update_mask: { paths: ["filter"] } });
    expect(cleared.code).toBe("OK");
    expect(cleared.body.webhook.filter).toBeUndefined();
    expect((await api("GET", `/api/v1/webhooks/${id}`)).body.filter).toBeNull();
    expect((await api("POST", "/api/v1/events", { id: "evt_grpc_filter_4", type: "grpc.filter.paid", source: "t", data: { amount: 1 } })).status).toBe(202);
    await waitFor("the unfiltered event", () => receiver.received.some((r) => r.path === "/filtered" && r.body.includes("evt_grpc_filter_4")));
    const ids = receiver.received.filter((r) => r.path === "/filtered").map((r) => JSON.parse(r.body).id);
    expect(ids.sort()).toEqual(["evt_grpc_filter_1", "evt_grpc_filter_4"]);
  });

  it("creates an Ed25519 webhook: its public key on every read, its secret key only where a secret is", async () => {
    const created = await rpc("CreateWebhook", { webhook: { url: receiver.url("/ed"), event_types: ["grpc.ed"], signature_scheme: "WEBHOOK_SIGNATURE_SCHEME_ED25519" } });
    expect(created.code).toBe("OK");
    const hook = created.body.webhook;
    expect({ scheme: hook.signatureScheme, secret: hook.secret, publicKey: hook.publicKey }).toEqual({
      scheme: "WEBHOOK_SIGNATURE_SCHEME_ED25519",
      secret: expect.stringMatching(/^whsk_/),
      publicKey: expect.stringMatching(/^whpk_/),
    });
    const got = (await rpc("GetWebhook", { id: hook.id })).body.webhook;
    expect({ publicKey: got.publicKey, secret: got.secret }).toEqual({ publicKey: hook.publicKey, secret: undefined });
    expect((await api("GET", `/api/v1/webhooks/${hook.id}`)).body.public_key).toBe(hook.publicKey);
    const rotated = (await rpc("RotateSecret", { id: hook.id, signature_scheme: "WEBHOOK_SIGNATURE_SCHEME_HMAC_SHA256", grace_period_seconds: 0 })).body.webhook;
    expect({ scheme: rotated.signatureScheme, publicKey: rotated.publicKey, secret: rotated.secret }).toEqual({
      scheme: "WEBHOOK_SIGNATURE_SCHEME_HMAC_SHA256",
      publicKey: undefined,
      secret: expect.stringMatching(/^whsec_/),
    });
  });

  it("runs the full CRUD cycle from a @grpc/grpc-js client under Node 20", async () => {
    const node = Bun.spawn(["node", join(import.meta.dir, "node-client.mjs"), hr.registry, token, receiver.url("/node"), "200"], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, exit] = await Promise.all([new Response(node.stdout).text(), new Response(node.stderr).text(), node.exited]);
    expect({ exit, stderr }).toEqual({ exit: 0, stderr: "" });
    const out = JSON.parse(stdout);
    expect(out.node).toMatch(/^v20\./);
    const id = out.created.webhook.id;
    expect(out.created.webhook).toMatchObject({ url: receiver.url("/node"), event_types: ["node.created"], headers: { "x-from": "node" }, description: "from node", status: "WEBHOOK_STATUS_ACTIVE" });
    expect(out.created.webhook.secret).toMatch(/^whsec_/);
    expect(out.got.webhook).toEqual({ ...out.created.webhook, secret: "" }); // reads never show the secret
    expect(out.secret).toEqual({ secret: out.created.webhook.secret });
    expect(out.listed.webhooks.map((w: { id: string }) => w.id)).toContain(id);
    expect(out.updated.webhook).toMatchObject({ id, url: receiver.url("/node"), event_types: ["node.updated"], description: "from node", status: "WEBHOOK_STATUS_DISABLED" });
    expect(out.rotated.webhook.secret).not.toBe(out.created.webhook.secret);
    expect(out.bench).toMatchObject({ calls: 200, ok: 200 });
    expect(out.deleted).toEqual({});
    expect(out.gotAfterDelete.error).toEqual({ code: "NOT_FOUND", details: `webhook '${id}' not found` });
    expect(out.noToken).toBe("UNAUTHENTICATED");
    expect((await api("GET", `/api/v1/webhooks/${id}`)).status).toBe(404);
  });

  it("answers bad requests with the right status codes and messages", async () => {
    const missingUrl = await rpc("CreateWebhook", { webhook: { event_types: ["x"] } });
    expect(missingUrl.code).toBe("InvalidArgument");
    expect(missingUrl.message).toContain("url");
    expect((await rpc("CreateWebhook", {})).code).toBe("InvalidArgument");
    const badUrl = await rpc("CreateWebhook", { webhook: { url: "ftp://example.com/x", event_types: ["x"] } });
    expect(badUrl).toMatchObject({ code: "InvalidArgument", message: "url: scheme 'ftp' is not http or https" });
    expect(await rpc("GetWebhook", { id: "wh_unknown" })).toMatchObject({ code: "NotFound", message: "webhook 'wh_unknown' not found" });
    expect((await rpc("GetWebhook", {})).code).toBe("InvalidArgument");
    expect((await rpc("ListWebhooks", { page_size: 5000 })).code).toBe("InvalidArgument");

    const hook = (await rpc("CreateWebhook", { webhook: { url: receiver.url("/bad"), event_types: ["x"] } })).body.webhook;
    expect((await rpc("UpdateWebhook", { webhook: { id: hook.id, url: "nope" } })).message).toContain("update_mask: required");
    expect((await rpc("UpdateWebhook", { webhook: { id: hook.id }, update_mask: { paths: ["id", "colour"] } })).message).toBe(
      "update_mask: 'id' is output only; update_mask: unknown field 'colour' (use url, event_types, filter, headers, description, status, secret, permanent_failure_codes, rate_limit, max_in_flight, ordering, ordering_key or '*')",
    );
    expect((await rpc("UpdateWebhook", { webhook: { id: hook.id }, update_mask: { paths: ["status"] } })).code).toBe("InvalidArgument");
    expect((await rpc("RotateSecret", { id: hook.id, secret: "short" })).code).toBe("InvalidArgument");

    // Authentication and scopes: the same JWT rules as REST.
    expect(await rpc("ListWebhooks", {}, null)).toMatchObject({ code: "Unauthenticated", message: "missing Authorization header (use 'Bearer <token>')" });
    expect((await rpc("ListWebhooks", {}, "not-a-jwt")).code).toBe("Unauthenticated");
    const otherIssuer = await hs256Tokens(JWT_SECRET, "someone-else").issue({ subject: "x", customerId: "default", scopes: ["admin"] });
    expect((await rpc("ListWebhooks", {}, otherIssuer)).code).toBe("Unauthenticated");
    const reader = await mint.issue({ subject: "reader", customerId: "default", scopes: ["webhooks:read"] });
    expect((await rpc("GetWebhook", { id: hook.id }, reader)).code).toBe("OK");
    expect(await rpc("GetWebhookSecret", { id: hook.id }, reader)).toMatchObject({ code: "PermissionDenied", message: "this call needs the 'webhooks:secrets' scope" });
    const secrets = await mint.issue({ subject: "verifier", customerId: "default", scopes: ["webhooks:secrets"] });
    expect((await rpc("GetWebhookSecret", { id: hook.id }, secrets)).body.secret).toMatch(/^whsec_/);
    expect((await rpc("GetWebhook", { id: hook.id }, secrets)).code).toBe("PermissionDenied");
    expect(await rpc("DeleteWebhook", { id: hook.id }, reader)).toMatchObject({ code: "PermissionDenied", message: "this call needs the 'webhooks:write' scope" });
    const eventsOnly = await mint.issue({ subject: "sender", customerId: "default", scopes: ["events:write"] });
    expect((await rpc("ListWebhooks", {}, eventsOnly)).code).toBe("PermissionDenied");
    // Another customer's webhook does not exist for them.
    const stranger = await mint.issue({ subject: "stranger", customerId: "cust_other", scopes: ["webhooks:read", "webhooks:write"] });
    expect((await rpc("GetWebhook", { id: hook.id }, stranger)).code).toBe("NotFound");
    const strangerSecrets = await mint.issue({ subject: "stranger", customerId: "cust_other", scopes: ["webhooks:secrets"] });
    expect((await rpc("GetWebhookSecret", { id: hook.id }, strangerSecrets)).code).toBe("NotFound");
    expect((await rpc("DeleteWebhook", { id: hook.id }, stranger)).code).toBe("NotFound");
    expect((await rpc("ListWebhooks", {}, stranger)).body).toEqual({});
    expect((await rpc("GetWebhook", { id: hook.id })).code).toBe("OK");
  });
});
