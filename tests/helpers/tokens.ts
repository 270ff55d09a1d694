/** @module Tokens the way a default deployment makes them (HS256, 30 s skew), for tests that mint their own. */
import { hs256KeyRing } from "../../src/services/auth/token-keys.ts";
import { Tokens } from "../../src/services/auth/tokens.ts";

export function hs256Tokens(secret: string, issuer = "hookrelay", expirySeconds = 600): Tokens {
  return new Tokens({ keys: hs256KeyRing(secret), issuer, expirySeconds, clockSkewSeconds: 30 });
}
