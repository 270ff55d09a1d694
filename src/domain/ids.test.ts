/** @module Unit tests of derived ids: the Standard Webhooks message id of an event. */

import { describe, expect, it } from "bun:test";
import { createHash } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { messageIdFor } from "./ids.ts";
import { newSecret, signatureHeaders, signingKey } from "./signature.ts";

describe("messageIdFor", () => {
  it("is msg_ and 26 base32 characters, the same for the same customer and event", () => {
    const id = messageIdFor("acme", "evt_1");
    expect(id).toMatch(/^msg_[0-9a-hjkmnp-tv-z]{26}$/);
    expect(messageIdFor("acme", "evt_1")).toBe(id);
  });

  it("differs between customers sending the same event id, and between events of one customer", () => {
    const ids = new Set([messageIdFor("acme", "evt_same"), messageIdFor("globex", "evt_same"), messageIdFor("acme", "evt_other")]);
    expect(ids.size).toBe(3);
    // No ambiguity at the seam between customer and event id.
    expect(messageIdFor("ab", "c")).not.toBe(messageIdFor("a", "bc"));
  });

  it("encodes the first 130 bits of SHA-256(customer NUL event id), most significant first", () => {
    const digest = createHash("sha256").update("acme\u0000evt_1").digest();
    const bits = [...digest]
      .map((b) => b.toString(2).padStart(8, "0"))
      .join("")
      .slice(0, 130);
    const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
    const expected = Array.from({ length: 26 }, (_, i) => alphabet[Number.parseInt(bits.slice(i * 5, i * 5 + 5), 2)]).join("");
    expect(messageIdFor("acme", "evt_1")).toBe(`msg_${expected}`);
  });

  it("is a webhook-id the standardwebhooks library verifies", () => {
    const secret = newSecret();
    const body = JSON.stringify({ id: "evt_1", type: "t", source: "s", data: {} });
    const headers = signatureHeaders(signingKey(secret), messageIdFor("acme", "evt_1"), Math.floor(Date.now() / 1000), body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });
});
