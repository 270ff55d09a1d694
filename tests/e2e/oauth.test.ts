// OAuth 2.0 client credentials (RFC 6749 §4.4) over real sockets: a customer's API key id and
// secret buy a short-lived JWT with the key's scopes (or fewer), that token works on every role,
// and every refusal is the RFC's error answer.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { decodeJwt } from "jose";
import { headOnly } from "../helpers/head-only.ts";
import { adminToken, client, type Instance, startInProcess } from "../helpers/hookrelay.ts";

let hr: Instance;
let key: { id: string; key: string };
const run = Math.random().toString(36).slice(2, 8);

beforeAll(async () => {
  hr = await startInProcess({ HOOKRELAY_SECURITY_OAUTH2_ENABLED: "true", HOOKRELAY_SECURITY_OAUTH2_TOKEN_TTL: "2m" });
  const admin = client(hr.gateway, await adminToken(hr.gateway));
  expect((await admin("POST", "/api/v1/customers", { id: `oauth-${run}`, name: "OAuth Inc." })).status).toBe(201);
  key = (await admin("POST", `/api/v1/customers/oauth-${run}/api-keys`, { name: "m2m", scopes: ["events:write", "webhooks:read"] })).body;
});
afterAll(() => hr.stop());

/** POST /oauth/token with a form body, optionally with HTTP Basic client credentials. */
async function token(form: Record<string, string>, basic?: [string, string]) {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (basic) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic[0])}:${encodeURIComponent(basic[1])}`).toString("base64")}`;
  const res = await fetch(`${hr.gateway}/oauth/token`, { method: "POST", headers, body: new URLSearchParams(form) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

describe("POST /oauth/token", () => {
  it("exchanges a key's id and secret (in the body or as HTTP Basic) for a short-lived JWT with its scopes", async () => {
    for (const answer of [await token({ grant_type: "client_credentials", client_id: key.id, client_secret: key.key }), await token({ grant_type: "client_credentials" }, [key.id, key.key])]) {
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ token_type: "Bearer", expires_in: 120, scope: "events:write webhooks:read" });
      expect(answer.headers.get("cache-control")).toBe("no-store");
      const claims = decodeJwt(answer.body.access_token);
      expect(claims).toMatchObject({ sub: `client:${key.id}`, customer_id: `oauth-${run}`, scopes: ["events:write", "webhooks:read"], iss: "hookrelay" });
      expect(claims.exp! - claims.iat!).toBe(120);
    }
  });

  it("gives a token that works where the key's scopes allow, and no further", async () => {
    const { body } = await token({ grant_type: "client_credentials", client_id: key.id, client_secret: key.key, scope: "events:write" });
    expect(body.scope).toBe("events:write");
    expect((await client(hr.ingest, body.access_token)("POST", "/events", { id: `evt_oauth_${run}`, type: "t", source: "s", data: {} })).status).toBe(202);
    expect((await client(hr.gateway, body.access_token)("GET", "/api/v1/webhooks")).status).toBe(403);
  });

  it("answers every refusal the RFC's way", async () => {
    const cases: [Record<string, string>, [string, string] | undefined, number, string][] = [
      [{ client_id: key.id, client_secret: key.key }, undefined, 400, "invalid_request"],
      [{ grant_type: "password", username: "admin", password: "x" }, undefined, 400, "unsupported_grant_type"],
      [{ grant_type: "client_credentials" }, undefined, 401, "invalid_client"],
      [{ grant_type: "client_credentials", client_id: key.id, client_secret: `hrk_${"x".repeat(32)}` }, undefined, 401, "invalid_client"],
      [{ grant_type: "client_credentials", client_id: "key_someone_else", client_secret: key.key }, undefined, 401, "invalid_client"],
      [{ grant_type: "client_credentials" }, [key.id, "wrong"], 401, "invalid_client"],
      [{ grant_type: "client_credentials", client_id: key.id, client_secret: key.key, scope: "events:write admin" }, undefined, 400, "invalid_scope"],
      [{ grant_type: "client_credentials", client_id: key.id, client_secret: key.key, scope: "everything" }, undefined, 400, "invalid_scope"],
      [{ grant_type: "client_credentials", client_id: key.id }, [key.id, key.key], 400, "invalid_request"],
    ];
    for (const [form, basic, status, error] of cases) {
      const answer = await token(form, basic);
      expect({ form, status: answer.status, error: answer.body.error }).toEqual({ form, status, error });
      expect(typeof answer.body.error_description).toBe("string");
    }
    expect((await token({ grant_type: "client_credentials" }, [key.id, "wrong"])).headers.get("www-authenticate")).toBe('Basic realm="hookrelay"');
  });

  it("refuses a form body over 8 KiB from its declared length, without waiting for it", async () => {
    const answer = await headOnly(hr.gateway, "POST", "/oauth/token", { "content-type": "application/x-www-form-urlencoded", "content-length": "20000000" }, 5_000);
    expect(answer).toMatchObject({ status: 400, body: { error: "invalid_request" }, headers: { connection: "close" } });
  });

  it("stops issuing for a revoked key", async () => {
    const admin = client(hr.gateway, await adminToken(hr.gateway));
    const doomed = (await admin("POST", `/api/v1/customers/oauth-${run}/api-keys`, { name: "doomed", scopes: ["events:write"] })).body;
    expect((await token({ grant_type: "client_credentials", client_id: doomed.id, client_secret: doomed.key })).status).toBe(200);
    expect((await admin("DELETE", `/api/v1/customers/oauth-${run}/api-keys/${doomed.id}`)).status).toBe(204);
    const refused = await token({ grant_type: "client_credentials", client_id: doomed.id, client_secret: doomed.key });
    expect(refused).toMatchObject({ status: 401, body: { error: "invalid_client", error_description: "client authentication failed: API key revoked" } });
  });
});

describe("without security.oauth2_enabled", () => {
  it("has no token endpoint", async () => {
    const plain = await startInProcess();
    try {
      expect((await fetch(`${plain.gateway}/oauth/token`, { method: "POST" })).status).toBe(404);
    } finally {
      await plain.stop();
    }
  });
});
