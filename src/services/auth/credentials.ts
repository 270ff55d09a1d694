/**
 * @module Bearer values of every kind: API keys (`hrk_…`) checked against the store, JWTs of
 * a configured external issuer against its JWKS, and any other JWT as one of hookrelay's own.
 */
import { API_KEY_PREFIX, type ApiKeys } from "./api-keys.ts";
import type { ExternalIssuer } from "./external-issuer.ts";
import type { Credentials, Tokens } from "./tokens.ts";

export function bearerCredentials(tokens: Tokens, keys: ApiKeys, external?: ExternalIssuer): Credentials {
  return {
    verify: (bearer) => {
      if (bearer.startsWith(API_KEY_PREFIX)) return keys.verify(bearer);
      if (external?.claims(bearer)) return external.verify(bearer);
      return tokens.verify(bearer);
    },
  };
}
