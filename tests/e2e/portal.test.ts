// Customer portal links over real sockets, in both deployments: who may mint one, what its token
// holds, and that it reaches nothing but its own customer's webhooks and deliveries. Every
// operation of every role's OpenAPI document is called with one customer's link token on another
// customer's resources: operator routes and scopes the link lacks answer 403, the rest 404, lists
// show none of the other's, and the other's resources are left as they were; every RPC of the gRPC
// registry likewise (NotFound). The link stops
// working when it says it does (the clock skew set to 0 here).
import { beforeAll, describe, expect, it } from "bun:test";
import { grpcurl } from "../helpers/grpcurl.ts";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type ChildInstance, fileScope } from "../helpers/process.ts";
import type { Receiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const scope = fileScope();
const METHODS = ["get", "post", "put", "patch", "delete"] as const;
const PORTAL_SCOPES = ["webhooks:read", "webhooks:write", "webhooks:secrets", "deliveries:read", "deliveries:write"];

type Api = ReturnType<typeof client>;
interface Operation {
  base: string;
  path: string;
  method: (typeof METHODS)[number];
  op: any;
  doc: any;
}

/** Every operation behind a bearer scope, in the documents each role serves. */
async function securedOperations(bases: string[]): Promise<Operation[]> {
  const found: Operation[] = [];
  for (const base of bases) {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, any> };
    for (const [path, item] of Object.entries<any>(doc.paths)) for (const method of METHODS) if (item[method]?.["x-scope"]) found.push({ base, path, method, op: item[method], doc });
  }
  return found;
}

/** A request body's documented example (its own, or its schema's). */
function exampleBody(doc: any, op: any): unknown {
  const media = op.requestBody?.content?.["application/json"];
  if (!media) return undefined;
  if (media.example !== undefined) return structuredClone(media.example);
  const ref: string | undefined = media.schema?.$ref;
  const schema = ref ? doc.components.schemas[ref.split("/").at(-1)!] : media.schema;
  return structuredClone(schema?.examples?.[0]);
}

describe.each(MODES)("customer portal links (%s)", (mode) => {
  const run = Math.random().toString(36).slice(2, 8);
  const [A, B] = [`portal-a-${run}`, `portal-b-${run}`];
  let hr: ChildInstance;
  let rx: Receiver;
  let admin: Api;
  let asB: Api;
  let observability: string;
  /** B's resources, by what a path names. */
  const theirs = { webhook: "", delivery: "", event: `evt_b_${run}`, job: "", eventType: `b.thing.${run}`, secret: "" };

  beforeAll(async () => {
    rx = scope.receiver();
    hr = scope.child({ ...(await modeEnv(mode)), HOOKRELAY_SECURITY_JWT_CLOCK_SKEW: "0s", HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "error" });
    await hr.start();
    observability = `http://127.0.0.1:${hr.env.HOOKRELAY_SERVER_OBSERVABILITY_PORT}`;
    admin = client(hr.gateway, await adminToken(hr.gateway));
    for (const id of [A, B]) expect((await admin("POST", "/api/v1/customers", { id, name: id })).status).toBe(201);
    const key = await admin("POST", `/api/v1/customers/${B}/api-keys`, {
      name: "b everything",
      scopes: ["webhooks:read", "webhooks:write", "webhooks:secrets", "events:write", "deliveries:read", "deliveries:write"],
    });
    asB = client(hr.gateway, key.body.key);
    const hook = await asB("POST", "/api/v1/webhooks", { url: rx.url("/b"), event_types: ["b.*"] });
    theirs.webhook = hook.body.id;
    theirs.secret = hook.body.secret;
    expect((await asB("POST", "/api/v1/events", { id: theirs.event, type: "b.created", source: "b", data: { n: 1 } })).status).toBe(202);
    await waitFor("B's delivery", async () => (await asB("GET", `/api/v1/deliveries?event_id=${theirs.event}`)).body.data?.[0]?.status === "succeeded", 20_000, 50);
    theirs.delivery = (await asB("GET", `/api/v1/deliveries?event_id=${theirs.event}`)).body.data[0].id;
    expect((await asB("POST", "/api/v1/event-types", { name: theirs.eventType })).status).toBe(201);
    const job = await asB("POST", `/api/v1/webhooks/${theirs.webhook}/recover`, { since: "2026-01-01T00:00:00Z", status: "succeeded", per_second: 0.1 });
    expect(job.status).toBe(202);
    theirs.job = job.body.id;
  }, 60_000);

  const mint = (customer: string, body?: unknown, as: Api = admin) => as("POST", `/api/v1/customers/${customer}/portal`, body);
  const tokenOf = (url: string) => new URLSearchParams(new URL(url).hash.slice(1)).get("token")!;

  it("mints a link to the gateway's /portal for the operator, bound to the customer, with the portal's scopes and its expiry", async () => {
    const before = Date.now();
    const link = await mint(A, { expires_in: 600 });
    expect(link.status).toBe(200);
    expect(link.headers.get("cache-control")).toBe("no-store");
    expect(link.body.url).toStartWith(`${hr.gateway}/portal#token=`);
    expect(link.body.scopes).toEqual(PORTAL_SCOPES);
    const expiresAt = Date.parse(link.body.expires_at);
    expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 600_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);
    // No body at all: the default lifetime (an hour).
    const plain = await mint(A);
    expect(plain.status).toBe(200);
    expect(Math.abs(Date.parse(plain.body.expires_at) - Date.now() - 3_600_000)).toBeLessThan(5_000);
    // What it opens: the page, under a strict policy, unframed by default.
    const page = await fetch(`${hr.gateway}/portal`);
    expect(page.headers.get("content-type")).toStartWith("text/html");
    const policy = page.headers.get("content-security-policy")!;
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("connect-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toMatch(/script-src 'sha256-[^']+'(;|$)/);
    expect(policy).not.toContain("unsafe");
    expect(await page.text()).toContain("<title>Webhooks</title>");
  });

  it("refuses bad requests with a clear error: no credentials, a body out of bounds, an unknown customer", async () => {
    expect((await client(hr.gateway)("POST", `/api/v1/customers/${A}/portal`, {})).status).toBe(401);
    for (const body of [{ expires_in: 0 }, { expires_in: 86_401 }, { expires_in: "1h" }, { read_only: 1 }, { customer: B }]) {
      const res = await mint(A, body);
      expect({ body, status: res.status }).toEqual({ body, status: 422 });
      expect(res.body.error).toMatchObject({ code: "validation_failed", message: expect.stringContaining(Object.keys(body)[0]!) });
    }
    const huge = await mint(A, { expires_in: 60, pad: "x".repeat(70_000) });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe("payload_too_large");
    const unknown = await mint("no-such-customer");
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toEqual({ code: "not_found", message: "customer 'no-such-customer' not found" });
  });

  it("lets a customer's key mint links for its own customer only, holding no scope the key lacks; a key without portal:create cannot", async () => {
    const minter = client(hr.gateway, (await admin("POST", `/api/v1/customers/${A}/api-keys`, { name: "portal minter", scopes: ["portal:create", "webhooks:read"] })).body.key);
    const own = await mint(A, {}, minter);
    expect(own.status).toBe(200);
    expect(own.body.scopes).toEqual(["webhooks:read"]);
    const link = client(hr.gateway, tokenOf(own.body.url));
    expect((await link("GET", "/api/v1/webhooks")).status).toBe(200);
    expect((await link("POST", "/api/v1/webhooks", { url: rx.url("/a"), event_types: ["*"] })).status).toBe(403);
    expect((await mint(B, {}, minter)).body.error).toEqual({ code: "not_found", message: `customer '${B}' not found` });
    expect((await mint(A, {}, asB)).status).toBe(403); // B's key lacks portal:create
    const readOnly = await mint(A, { read_only: true });
    expect(readOnly.body.scopes).toEqual(["webhooks:read", "deliveries:read"]);
    expect((await client(hr.gateway, tokenOf(readOnly.body.url))("POST", `/api/v1/customers/${A}/portal`, {})).status).toBe(403);
  });

  it("reaches A's own webhooks and deliveries: what it creates is A's, and B cannot see it", async () => {
    const link = client(hr.gateway, tokenOf((await mint(A)).body.url));
    const made = await link("POST", "/api/v1/webhooks", { url: rx.url("/a"), event_types: ["a.*"] });
    expect(made.status).toBe(201);
    expect((await link("GET", "/api/v1/webhooks")).body.data.map((w: any) => w.id)).toEqual([made.body.id]);
    expect((await link("GET", `/api/v1/webhooks/${made.body.id}/secret`)).body.secret).toBe(made.body.secret);
    expect((await asB("GET", `/api/v1/webhooks/${made.body.id}`)).status).toBe(404);
    expect((await admin("GET", `/api/v1/customers/${A}/api-keys`)).status).toBe(200);
  });

  it("is refused on every operator route (403) and on every one of B's resources (404), and lists none of B's", async () => {
    const token = tokenOf((await mint(A)).body.url);
    const link = client(hr.gateway, token);
    const operations = await securedOperations([hr.gateway, hr.ingest, observability]);
    expect(operations.length).toBeGreaterThan(40);
    const idFor = (path: string, name: string): string => {
      if (path.startsWith("/api/v1/customers/")) return B;
      if (path.startsWith("/api/v1/webhooks/")) return theirs.webhook;
      if (path.startsWith("/api/v1/deliveries/")) return theirs.delivery;
      if (path.startsWith("/api/v1/events/")) return theirs.event;
      if (path.startsWith("/api/v1/jobs/")) return theirs.job;
      if (path.startsWith("/api/v1/event-types/")) return theirs.eventType;
      return name === "customer" ? B : `${name}-of-b`;
    };
    const seen = { forbidden: 0, notFound: 0, listed: 0 };
    for (const { base, path, method, op, doc } of operations) {
      const url = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(idFor(path, name)));
      let body = exampleBody(doc, op);
      if (body && typeof body === "object" && "url" in body) body = { ...body, url: rx.url("/a") };
      const answer = await client(base, token)(method.toUpperCase(), url, body);
      const where = { operation: op.operationId, scope: op["x-scope"] };
      if (!PORTAL_SCOPES.includes(op["x-scope"])) {
        expect({ ...where, status: answer.status }).toEqual({ ...where, status: 403 });
        seen.forbidden++;
      } else if (path.includes("{")) {
        expect({ ...where, status: answer.status, code: answer.body?.error?.code }).toEqual({ ...where, status: 404, code: "not_found" });
        seen.notFound++;
      } else if (method === "get") {
        expect({ ...where, status: answer.status }).toEqual({ ...where, status: 200 });
        const text = JSON.stringify(answer.body);
        for (const id of [theirs.webhook, theirs.delivery, theirs.event, theirs.job, theirs.eventType]) expect({ ...where, holds: text.includes(id) ? id : null }).toEqual({ ...where, holds: null });
        seen.listed++;
      }
    }
    expect(seen.forbidden).toBeGreaterThan(15); // customers, keys, operational webhooks, events, the dashboard's API
    expect(seen.notFound).toBeGreaterThan(15);
    expect(seen.listed).toBeGreaterThanOrEqual(5);
    // Filters naming B's things find nothing of A's, and show nothing of B's.
    for (const query of [`webhook_id=${theirs.webhook}`, `event_id=${theirs.event}`]) expect((await link("GET", `/api/v1/deliveries?${query}`)).body.data).toEqual([]);
    // B's resources are as they were.
    const hook = await asB("GET", `/api/v1/webhooks/${theirs.webhook}`);
    expect(hook.body).toMatchObject({ status: "active", url: rx.url("/b"), event_types: ["b.*"] });
    expect((await asB("GET", `/api/v1/webhooks/${theirs.webhook}/secret`)).body.secret).toBe(theirs.secret);
    expect((await asB("GET", `/api/v1/jobs/${theirs.job}`)).body.state).not.toBe("cancelled");
    expect((await asB("GET", `/api/v1/event-types/${theirs.eventType}`)).status).toBe(200);
  }, 60_000);

  it("on the gRPC registry too: another customer's webhook is not found by any RPC, and lists hold only A's", async () => {
    const token = tokenOf((await mint(A)).body.url);
    const registry = `127.0.0.1:${hr.env.HOOKRELAY_SERVER_REGISTRY_PORT}`;
    const service = "hookrelay.webhook.v1.WebhookRegistry";
    const methods = (await grpcurl(registry, ["list", service])).stdout
      .trim()
      .split("\n")
      .map((m) => m.slice(service.length + 1));
    const onTheirs: Record<string, unknown> = {
      GetWebhook: { id: theirs.webhook },
      GetWebhookSecret: { id: theirs.webhook },
      UpdateWebhook: { webhook: { id: theirs.webhook, description: "taken" }, update_mask: { paths: ["description"] } },
      RotateSecret: { id: theirs.webhook },
      DeleteWebhook: { id: theirs.webhook },
    };
    expect(methods.sort()).toEqual([...Object.keys(onTheirs), "CreateWebhook", "ListWebhooks"].sort());
    for (const [method, data] of Object.entries(onTheirs)) {
      const answer = await grpcurl(registry, [`${service}/${method}`], { data, token });
      expect({ method, code: answer.code }).toEqual({ method, code: "NotFound" });
    }
    const made = await grpcurl(registry, [`${service}/CreateWebhook`], { data: { webhook: { url: rx.url("/a-grpc"), event_types: ["a.grpc"] } }, token });
    expect(made.code).toBe("OK");
    const listed = await grpcurl(registry, [`${service}/ListWebhooks`], { data: { page_size: 1000 }, token });
    expect(listed.body.webhooks.map((w: { id: string }) => w.id)).toContain(made.body.webhook.id);
    expect(listed.stdout).not.toContain(theirs.webhook);
    expect((await asB("GET", `/api/v1/webhooks/${theirs.webhook}`)).body).toMatchObject({ description: null, status: "active" });
    expect((await asB("GET", `/api/v1/webhooks/${theirs.webhook}/secret`)).body.secret).toBe(theirs.secret);
  }, 30_000);

  it("stops working when it says it expires", async () => {
    const link = await mint(A, { expires_in: 2 });
    const expiresAt = Date.parse(link.body.expires_at);
    const api = client(hr.gateway, tokenOf(link.body.url));
    expect((await api("GET", "/api/v1/webhooks")).status).toBe(200);
    await Bun.sleep(Math.max(0, expiresAt - Date.now()) + 50);
    const late = await api("GET", "/api/v1/webhooks");
    expect(late.status).toBe(401);
    expect(late.body.error).toEqual({ code: "unauthorized", message: "token expired" });
  }, 10_000);
});
