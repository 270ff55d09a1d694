/** @module Webhook secrets sealed at rest: AES-256-GCM bound to their webhook, keys rotated by id. */
import { describe, expect, it } from "bun:test";
import { randomBytes } from "node:crypto";
import { parseKeySpec, SecretBox, secretOwner } from "./secret-box.ts";

const key = (id: string) => `${id}:${randomBytes(32).toString("base64")}`;
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OWNER = secretOwner("acme", "wh_1");

describe("SecretBox", () => {
  it("seals a secret so that the stored form says nothing of it, and opens it again", () => {
    const box = new SecretBox([key("k1")]);
    const stored = box.seal(SECRET, OWNER);
    expect(stored).toMatch(/^enc:v1:k1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+$/);
    expect(stored).not.toContain(SECRET.slice(6));
    expect(box.seal(SECRET, OWNER)).not.toBe(stored); // a fresh IV each time
    expect(box.open(stored, OWNER)).toBe(SECRET);
    expect(box.isCurrent(stored)).toBe(true);
  });

  it("refuses a sealed secret moved to another webhook, or changed", () => {
    const box = new SecretBox([key("k1")]);
    const stored = box.seal(SECRET, OWNER);
    expect(() => box.open(stored, secretOwner("acme", "wh_2"))).toThrow("does not open (tampered, or moved from another webhook)");
    expect(() => box.open(stored, secretOwner("evil", "wh_1"))).toThrow("does not open");
    const flipped = stored.slice(0, -2) + (stored.at(-2) === "A" ? "B" : "A") + stored.at(-1);
    expect(() => box.open(flipped, OWNER)).toThrow("does not open");
  });

  it("rotates: a new first key seals, the old one still opens, and without it the old seal names its key", () => {
    const k1 = key("k1");
    const k2 = key("k2");
    const old = new SecretBox([k1]).seal(SECRET, OWNER);
    const rotating = new SecretBox([k2, k1]);
    expect(rotating.open(old, OWNER)).toBe(SECRET);
    expect(rotating.isCurrent(old)).toBe(false);
    const resealed = rotating.seal(rotating.open(old, OWNER), OWNER);
    expect(resealed).toStartWith("enc:v1:k2:");
    expect(new SecretBox([k2]).open(resealed, OWNER)).toBe(SECRET);
    expect(() => new SecretBox([k2]).open(old, OWNER)).toThrow("sealed with key 'k1', which is not in security.secret_keys");
  });

  it("keeps secrets as given without keys, and opens secrets stored before sealing was turned on", () => {
    const none = new SecretBox([]);
    expect(none.sealing).toBe(false);
    expect(none.seal(SECRET, OWNER)).toBe(SECRET);
    expect(none.isCurrent(SECRET)).toBe(true);
    const box = new SecretBox([key("k1")]);
    expect(box.open(SECRET, OWNER)).toBe(SECRET);
    expect(box.isCurrent(SECRET)).toBe(false);
  });

  it("refuses malformed keys, naming which", () => {
    expect(() => new SecretBox(["nocolon"])).toThrow("security.secret_keys[0]: must be '<key id>:<base64 of 32 random bytes>'");
    expect(() => new SecretBox([key("a"), `b:${randomBytes(16).toString("base64")}`])).toThrow("security.secret_keys[1]:");
    expect(() => new SecretBox([key("a"), key("a")])).toThrow("security.secret_keys[1]: key id 'a' appears twice");
    expect(parseKeySpec(`k:${randomBytes(32).toString("base64url")}`)).toMatchObject({ kid: "k" });
  });
});
