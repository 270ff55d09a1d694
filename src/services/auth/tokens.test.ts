import { describe, expect, it } from "bun:test";
import { SignJWT } from "jose";
import { Tokens } from "./tokens.ts";

const SECRET = "a-secret-of-at-least-thirty-two-characters";
const principal = { subject: "admin", customerId: "cus_1", scopes: ["events:write"] };

function clockAt(ms: number) {
  const clock = { ms, now: () => clock.ms };
  return clock;
}

describe("Tokens", () => {
  it("accepts its own token again and again, and rejects it once expired even after it was cached", async () => {
    const clock = clockAt(Date.UTC(2026, 0, 1));
    const tokens = new Tokens({ secret: SECRET, issuer: "hookrelay", expirySeconds: 60 }, clock.now);
    const token = await tokens.issue(principal);
    expect(await tokens.verify(token)).toEqual(principal);
    expect(await tokens.verify(token)).toEqual(principal);
    clock.ms += 60_000 + 29_000; // within the 30 s skew
    expect(await tokens.verify(token)).toEqual(principal);
    clock.ms += 2_000;
    await expect(tokens.verify(token)).rejects.toThrow("token expired");
    await expect(tokens.verify(token)).rejects.toThrow("token expired");
  });

  it("never caches a token that failed: a bad signature fails every time", async () => {
    const other = new Tokens({ secret: `${SECRET}-other`, issuer: "hookrelay", expirySeconds: 60 });
    const tokens = new Tokens({ secret: SECRET, issuer: "hookrelay", expirySeconds: 60 });
    const forged = await other.issue(principal);
    await expect(tokens.verify(forged)).rejects.toThrow("token is invalid");
    await expect(tokens.verify(forged)).rejects.toThrow("token is invalid");
  });

  it("rejects another algorithm, a missing exp and a wrong issuer", async () => {
    const tokens = new Tokens({ secret: SECRET, issuer: "hookrelay", expirySeconds: 60 });
    const key = new TextEncoder().encode(SECRET);
    const claims = { customer_id: "cus_1", scopes: ["events:write"] };
    const hs512 = await new SignJWT(claims).setProtectedHeader({ alg: "HS512" }).setSubject("a").setIssuer("hookrelay").setExpirationTime("1m").sign(key);
    await expect(tokens.verify(hs512)).rejects.toThrow("token algorithm not allowed (only HS256)");
    const noExp = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject("a").setIssuer("hookrelay").sign(key);
    await expect(tokens.verify(noExp)).rejects.toThrow("token claim 'exp' is invalid");
    const otherIssuer = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject("a").setIssuer("evil").setExpirationTime("1m").sign(key);
    await expect(tokens.verify(otherIssuer)).rejects.toThrow("token claim 'iss' is invalid");
    const none = `${btoa(JSON.stringify({ alg: "none" }))}.${btoa(JSON.stringify({ ...claims, sub: "a", iss: "hookrelay", exp: 9e9 }))}.`;
    await expect(tokens.verify(none)).rejects.toThrow();
  });

  it("hands out a principal nobody can change for the next request", async () => {
    const tokens = new Tokens({ secret: SECRET, issuer: "hookrelay", expirySeconds: 60 });
    const token = await tokens.issue(principal);
    const first = await tokens.verify(token);
    expect(() => (first.scopes as string[]).push("webhooks:write")).toThrow();
    expect((await tokens.verify(token)).scopes).toEqual(["events:write"]);
  });
});
