/** @module Bearer values of both kinds: API keys (`hrk_…`) checked against the store, anything else as a JWT. */
import { API_KEY_PREFIX, type ApiKeys } from "./api-keys.ts";
import type { Credentials, Tokens } from "./tokens.ts";

export function bearerCredentials(tokens: Tokens, keys: ApiKeys): Credentials {
  return { verify: (bearer) => (bearer.startsWith(API_KEY_PREFIX) ? keys.verify(bearer) : tokens.verify(bearer)) };
}
