import { describe, expect, it } from "bun:test";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { decodeProtectedHeader, importPKCS8, SignJWT } from "jose";
import { hs256KeyRing, type TokenAlgorithm, tokenKeyRing } from "./token-keys.ts";
import { type TokenConfig, Tokens } from "./tokens.ts";

const SECRET = "a-secret-of-at-least-thirty-two-characters";
const principal = { subject: "admin", customerId: "cus_1", scopes: ["events:write"] };
const claims = { customer_id: "cus_1", scopes: ["events:write"] };

function clockAt(ms: number) {
  const clock = { ms, now: () => clock.ms };
  return clock;
}

function hs256(overrides: Partial<TokenConfig> = {}, now?: () => number): Tokens {
  return new Tokens({ keys: hs256KeyRing(SECRET), issuer: "hookrelay", expirySeconds: 60, clockSkewSeconds: 30, ...overrides }, now);
}

/** A fresh key pair as PEM texts: RSA 2048 for RS256, Ed25519 for EdDSA. */
function pemPair(algorithm: Exclude<TokenAlgorithm, "HS256">, modulusLength = 2048): { privatePem: string; publicPem: string } {
  const { privateKey } = algorithm === "RS256" ? generateKeyPairSync("rsa", { modulusLength }) : generateKeyPairSync("ed25519");
  const privatePem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  return { privatePem, publicPem: createPublicKey(privatePem).export({ type: "spki", format: "pem" }) as string };
}

async function asymmetric(algorithm: Exclude<TokenAlgorithm, "HS256">, current: string, previous: string[] = []): Promise<Tokens> {
  return new Tokens({ keys: await tokenKeyRing({ algorithm, current, previous }), issuer: "hookrelay", expirySeconds: 60, clockSkewSeconds: 30 });
}

/** A token with the given header, signed with `key` by `alg`, carrying valid claims otherwise. */
async function forge(alg: string, key: Uint8Array | CryptoKey, header: Record<string, unknown> = {}, exp: string | number = "1m"): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg, ...header })
    .setSubject("a")
    .setIssuer("hookrelay")
    .setExpirationTime(exp)
    .sign(key);
}

describe("Tokens", () => {
  it("accepts its own token again and again, and rejects it once expired even after it was cached", async () => {
    const clock = clockAt(Date.UTC(2026, 0, 1));
    const tokens = hs256({}, clock.now);
    const token = await tokens.issue(principal);
    expect(await tokens.verify(token)).toEqual(principal);
    expect(await tokens.verify(token)).toEqual(principal);
    clock.ms += 60_000 + 29_000; // within the 30 s skew
    expect(await tokens.verify(token)).toEqual(principal);
    clock.ms += 2_000;
    await expect(tokens.verify(token)).rejects.toThrow("token expired");
    await expect(tokens.verify(token)).rejects.toThrow("token expired");
  });

  it("bounds the clock skew by its configuration", async () => {
    const clock = clockAt(Date.UTC(2026, 0, 1));
    const tokens = hs256({ clockSkewSeconds: 5 }, clock.now);
    const token = await tokens.issue(principal);
    clock.ms += 60_000 + 4_000;
    expect(await tokens.verify(token)).toEqual(principal);
    clock.ms += 2_000;
    await expect(tokens.verify(token)).rejects.toThrow("token expired");
    // Never verified before, expired 6 s ago: refused by the full check too.
    await expect(hs256({ clockSkewSeconds: 5 }, clock.now).verify(token)).rejects.toThrow("token expired");
  });

  it("never caches a token that failed: a bad signature fails every time", async () => {
    const other = new Tokens({ keys: hs256KeyRing(`${SECRET}-other`), issuer: "hookrelay", expirySeconds: 60, clockSkewSeconds: 30 });
    const tokens = hs256();
    const forged = await other.issue(principal);
    // The other key's kid is unknown here; without a kid the signature fails.
    await expect(tokens.verify(forged)).rejects.toThrow("token key id");
    const noKid = await forge("HS256", new TextEncoder().encode(`${SECRET}-other`));
    await expect(tokens.verify(noKid)).rejects.toThrow("token is invalid");
    await expect(tokens.verify(noKid)).rejects.toThrow("token is invalid");
  });

  it("rejects alg none, HS512 when HS256 is pinned, a missing exp, an expired token and a wrong issuer", async () => {
    const tokens = hs256();
    const key = new TextEncoder().encode(SECRET);
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const none = `${b64({ alg: "none", typ: "JWT" })}.${b64({ ...claims, sub: "a", iss: "hookrelay", exp: 9e9 })}.`;
    await expect(tokens.verify(none)).rejects.toThrow("token algorithm not allowed (only HS256)");
    await expect(tokens.verify(await forge("HS512", key))).rejects.toThrow("token algorithm not allowed (only HS256)");
    const noExp = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject("a").setIssuer("hookrelay").sign(key);
    await expect(tokens.verify(noExp)).rejects.toThrow("token claim 'exp' is invalid");
    await expect(tokens.verify(await forge("HS256", key, {}, Math.floor(Date.now() / 1000) - 120))).rejects.toThrow("token expired");
    const otherIssuer = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject("a").setIssuer("evil").setExpirationTime("1m").sign(key);
    await expect(tokens.verify(otherIssuer)).rejects.toThrow("token claim 'iss' is invalid");
    // The same claims, signed right: accepted (what the cases above change is what fails them).
    expect((await tokens.verify(await forge("HS256", key))).customerId).toBe("cus_1");
  });

  it("puts the configured audience in its tokens and refuses tokens for another audience or none", async () => {
    const tokens = hs256({ audience: "https://api.example.com" });
    const token = await tokens.issue(principal);
    expect(await tokens.verify(token)).toEqual(principal);
    const key = new TextEncoder().encode(SECRET);
    const wrongAud = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject("a").setIssuer("hookrelay").setAudience("https://other.example.com").setExpirationTime("1m").sign(key);
    await expect(tokens.verify(wrongAud)).rejects.toThrow("token claim 'aud' is invalid");
    await expect(tokens.verify(await forge("HS256", key))).rejects.toThrow("token claim 'aud' is invalid");
    // Without an audience configured, tokens carry none and any is accepted.
    expect(await hs256().verify(wrongAud)).toMatchObject({ customerId: "cus_1" });
  });

  it("hands out a principal nobody can change for the next request", async () => {
    const tokens = hs256();
    const token = await tokens.issue(principal);
    const first = await tokens.verify(token);
    expect(() => (first.scopes as string[]).push("webhooks:write")).toThrow();
    expect((await tokens.verify(token)).scopes).toEqual(["events:write"]);
  });

  it.each(["RS256", "EdDSA"] as const)("issues and verifies %s tokens, named by the key's thumbprint", async (algorithm) => {
    const { privatePem } = pemPair(algorithm);
    const tokens = await asymmetric(algorithm, privatePem);
    const token = await tokens.issue(principal);
    const header = decodeProtectedHeader(token);
    expect(header.alg).toBe(algorithm);
    expect(header.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await tokens.verify(token)).toEqual(principal);
    // Another deployment's key of the same kind does not verify here.
    const stranger = await asymmetric(algorithm, pemPair(algorithm).privatePem);
    await expect(tokens.verify(await stranger.issue(principal))).rejects.toThrow("token key id");
  });

  it("refuses an HS256 token whose secret is the RS256 public key (algorithm confusion)", async () => {
    const { privatePem, publicPem } = pemPair("RS256");
    const tokens = await asymmetric("RS256", privatePem);
    const kid = decodeProtectedHeader(await tokens.issue(principal)).kid;
    const confused = await forge("HS256", new TextEncoder().encode(publicPem), { kid });
    await expect(tokens.verify(confused)).rejects.toThrow("token algorithm not allowed (only RS256)");
    // And the other way: an HS256 deployment refuses an RS256 token, whatever key signed it.
    const rsa = await importPKCS8(privatePem, "RS256");
    await expect(hs256().verify(await forge("RS256", rsa))).rejects.toThrow("token algorithm not allowed (only HS256)");
  });

  it("rotates keys by kid: tokens of a previous key still verify, only the current key signs", async () => {
    const oldSecret = "the-previous-secret-of-thirty-two-chars!";
    const before = new Tokens({ keys: hs256KeyRing(oldSecret), issuer: "hookrelay", expirySeconds: 60, clockSkewSeconds: 30 });
    const during = new Tokens({ keys: hs256KeyRing(SECRET, [oldSecret]), issuer: "hookrelay", expirySeconds: 60, clockSkewSeconds: 30 });
    const oldToken = await before.issue(principal);
    expect(await during.verify(oldToken)).toEqual(principal);
    const newToken = await during.issue(principal);
    expect(decodeProtectedHeader(newToken).kid).toBe(hs256KeyRing(SECRET).signing.kid);
    expect(await hs256().verify(newToken)).toEqual(principal);
    // Once the old secret is dropped from the ring, its tokens stop working.
    await expect(hs256().verify(oldToken)).rejects.toThrow("token key id");

    const { privatePem: oldPem, publicPem: oldPublic } = pemPair("EdDSA");
    const { privatePem: newPem } = pemPair("EdDSA");
    const oldEd = await (await asymmetric("EdDSA", oldPem)).issue(principal);
    expect(await (await asymmetric("EdDSA", newPem, [oldPublic])).verify(oldEd)).toEqual(principal);
    await expect((await asymmetric("EdDSA", newPem)).verify(oldEd)).rejects.toThrow("token key id");
  });

  it("gives a token without kid the current key only", async () => {
    const oldSecret = "the-previous-secret-of-thirty-two-chars!";
    const during = new Tokens({ keys: hs256KeyRing(SECRET, [oldSecret]), issuer: "hookrelay", expirySeconds: 60, clockSkewSeconds: 30 });
    expect((await during.verify(await forge("HS256", new TextEncoder().encode(SECRET)))).customerId).toBe("cus_1");
    await expect(during.verify(await forge("HS256", new TextEncoder().encode(oldSecret)))).rejects.toThrow("token is invalid");
  });
});

describe("tokenKeyRing", () => {
  it("refuses keys that cannot do the configured algorithm, naming the key", async () => {
    await expect(tokenKeyRing({ algorithm: "RS256", current: pemPair("RS256", 1024).privatePem, previous: [] })).rejects.toThrow(
      "the current key cannot verify RS256 tokens: RSA keys must have at least 2048 bits",
    );
    await expect(tokenKeyRing({ algorithm: "RS256", current: pemPair("EdDSA").privatePem, previous: [] })).rejects.toThrow("not a PEM PKCS#8 private key for RS256");
    await expect(tokenKeyRing({ algorithm: "EdDSA", current: pemPair("EdDSA").privatePem, previous: [pemPair("RS256").publicPem] })).rejects.toThrow(
      "previous key 1 cannot verify EdDSA tokens: it is a rsa key, not Ed25519",
    );
    await expect(tokenKeyRing({ algorithm: "EdDSA", current: "not a key", previous: [] })).rejects.toThrow("not a PEM PKCS#8 private key");
    await expect(tokenKeyRing({ algorithm: "HS256", current: SECRET, previous: ["short"] })).rejects.toThrow("at least 32 characters");
  });

  it("verifies with a previous key given as a private key too (only its public half is kept)", async () => {
    const { privatePem } = pemPair("RS256");
    const ring = await tokenKeyRing({ algorithm: "RS256", current: pemPair("RS256").privatePem, previous: [privatePem] });
    expect(ring.verifying.size).toBe(2);
    for (const key of ring.verifying.values()) expect((key as CryptoKey).type).toBe("public");
    expect((ring.signing.key as CryptoKey).type).toBe("private");
  });
});
