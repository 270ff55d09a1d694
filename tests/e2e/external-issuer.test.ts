// An external OAuth issuer's access tokens, verified against its JWKS served by a local server:
// fetched once and cached, fetched again for a key it does not know (not more often than the
// cooldown), algorithms pinned, audience required, customer and scopes from claims (never admin).
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { JWKS_COOLDOWN_MS } from "../../src/services/auth/external-issuer.ts";
import { client, type Instance, startInProcess } from "../helpers/hookrelay.ts";

const ISSUER = "https://idp.example.test/";
const run = Math.random().toString(36).slice(2, 8);

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

let hr: Instance;
let jwks: ReturnType<typeof Bun.serve>;
let published: JWK[] = [];
let fetches = 0;
let a: SigningKey;

/** An access token of the issuer, signed with `key`; `claims` replace the defaults. */
function accessToken(key: SigningKey, claims: Record<string, unknown> = {}, exp: string | number = "5m") {
  return new SignJWT({ customer_id: `ext-${run}`, scope: "events:write webhooks:read", ...claims })
    .setProtectedHeader({ alg: "RS256", kid: key.kid })
    .setIssuer(ISSUER)
    .setAudience("hookrelay-api")
    .setSubject("service-account-42")
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(key.privateKey);
}

beforeAll(async () => {
  a = await signingKey("key-a");
  published = [a.jwk];
  jwks = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => (fetches++, Response.json({ keys: published })) });
  hr = await startInProcess({
    HOOKRELAY_SECURITY_OAUTH2_ISSUER: ISSUER,
    HOOKRELAY_SECURITY_OAUTH2_JWKS_URL: `http://127.0.0.1:${jwks.port}/jwks.json`,
    HOOKRELAY_SECURITY_OAUTH2_AUDIENCE: "hookrelay-api",
  });
});
afterAll(async () => {
  await hr.stop();
  jwks.stop(true);
});

const event = (n: number) => ({ id: `evt_ext_${run}_${n}`, type: "ext.test", source: "idp", data: {} });

describe("an external issuer's access tokens", () => {
  it("are accepted with the customer and scopes of their claims, the JWKS fetched once", async () => {
    const token = await accessToken(a);
    expect((await client(hr.ingest, token)("POST", "/events", event(1))).status).toBe(202);
    const listed = await client(hr.gateway, token)("GET", "/api/v1/webhooks");
    expect(listed).toMatchObject({ status: 200, body: { data: [] } }); // the customer's own (none yet)
    expect((await client(hr.ingest, await accessToken(a, { scope: "events:write" }))("POST", "/events", event(7))).status).toBe(202);
    expect(fetches).toBe(1);
    const narrow = await accessToken(a, { scope: "events:write" });
    expect((await client(hr.gateway, narrow)("GET", "/api/v1/webhooks")).status).toBe(403);
    // An outside issuer never grants admin, whatever its token says.
    const greedy = await accessToken(a, { scope: ["admin", "webhooks:read"] });
    expect((await client(hr.gateway, greedy)("GET", "/api/v1/customers")).status).toBe(403);
    expect((await client(hr.gateway, greedy)("GET", "/api/v1/webhooks")).status).toBe(200);
    expect(fetches).toBe(1);
  });

  it("are refused for another audience, no customer, another algorithm, or when expired", async () => {
    const wrongAud = await new SignJWT({ customer_id: "x", scope: "events:write" })
      .setProtectedHeader({ alg: "RS256", kid: a.kid })
      .setIssuer(ISSUER)
      .setAudience("someone-else")
      .setSubject("s")
      .setExpirationTime("5m")
      .sign(a.privateKey);
    const hs256 = await new SignJWT({ customer_id: "x", scope: "events:write" })
      .setProtectedHeader({ alg: "HS256", kid: a.kid })
      .setIssuer(ISSUER)
      .setAudience("hookrelay-api")
      .setSubject("s")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(JSON.stringify(a.jwk)));
    const cases: [string, string][] = [
      [wrongAud, "token claim 'aud' is invalid"],
      [await accessToken(a, { customer_id: undefined }), "token lacks the 'customer_id' claim naming its customer"],
      [hs256, "token algorithm not allowed (only RS256)"],
      [await accessToken(a, {}, Math.floor(Date.now() / 1000) - 120), "token expired"],
    ];
    for (const [token, message] of cases) {
      const res = await client(hr.ingest, token)("POST", "/events", event(2));
      expect({ status: res.status, message: res.body.error.message.slice(0, message.length) }).toEqual({ status: 401, message });
    }
  });

  it("follow the issuer's key rotation: a new kid fetches the JWKS again, at most once per cooldown", async () => {
    const b = await signingKey("key-b");
    published = [a.jwk, b.jwk];
    await Bun.sleep(JWKS_COOLDOWN_MS + 100);
    const before = fetches;
    expect((await client(hr.ingest, await accessToken(b))("POST", "/events", event(3))).status).toBe(202);
    expect(fetches).toBe(before + 1);
    // Unknown kids right after: refused, and no new fetch within the cooldown.
    const stranger = await signingKey("key-unknown");
    for (let i = 0; i < 5; i++) {
      const res = await client(hr.ingest, await accessToken(stranger))("POST", "/events", event(4));
      expect(res.status).toBe(401);
      expect(res.body.error.message).toBe("token key id is unknown to the issuer's JWKS");
    }
    expect(fetches).toBe(before + 1);
  });

  it("answer 503 while the issuer's JWKS cannot be fetched, and hookrelay's own tokens still work", async () => {
    jwks.stop(true);
    await Bun.sleep(JWKS_COOLDOWN_MS + 100);
    const c = await signingKey("key-c");
    const res = await client(hr.ingest, await accessToken(c))("POST", "/events", event(5));
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("unavailable");
    const login = await client(hr.gateway)("POST", "/auth/login", { username: "admin", password: "test-admin-password" });
    expect((await client(hr.ingest, login.body.access_token)("POST", "/events", event(6))).status).toBe(202);
  });
});
