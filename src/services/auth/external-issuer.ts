/**
 * @module Access tokens of an external OAuth issuer (an identity provider the operator trusts):
 * verified against the issuer's JWKS (fetched once, cached, fetched again when a token names a
 * key it does not have, at most every JWKS_COOLDOWN_MS), with the algorithms pinned, `exp`, `sub`
 * and `iss` required, `aud` when configured; customer and scopes read from configured claims.
 */
import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify } from "jose";
import { UnauthorizedError, UnavailableError } from "../../domain/errors.ts";
import type { Principal } from "./tokens.ts";
import { VerifiedTokens } from "./verified-tokens.ts";

export interface ExternalIssuerConfig {
  issuer: string;
  jwksUrl: string;
  audience?: string;
  algorithms: string[];
  /** Claim holding the scopes: a space-separated string (RFC 8693 `scope`) or an array. */
  scopeClaim: string;
  /** Claim naming the hookrelay customer the token acts for. */
  customerClaim: string;
  clockSkewSeconds: number;
}

/** After a JWKS fetch, no other for this long: a stream of unknown kids cannot hammer the issuer. */
export const JWKS_COOLDOWN_MS = 2000;
/** A fetched JWKS is used at most this long before it is fetched again. */
const JWKS_MAX_AGE_MS = 10 * 60_000;
const JWKS_TIMEOUT_MS = 5000;

export class ExternalIssuer {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  private readonly verified: VerifiedTokens;

  constructor(
    private readonly config: ExternalIssuerConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.verified = new VerifiedTokens(now);
    this.jwks = createRemoteJWKSet(new URL(config.jwksUrl), { cooldownDuration: JWKS_COOLDOWN_MS, cacheMaxAge: JWKS_MAX_AGE_MS, timeoutDuration: JWKS_TIMEOUT_MS });
  }

  /** True when the token says it comes from this issuer (its signature is not checked yet). */
  claims(token: string): boolean {
    try {
      return decodeJwt(token).iss === this.config.issuer;
    } catch {
      return false;
    }
  }

  async verify(token: string): Promise<Principal> {
    const known = this.verified.get(token);
    if (known) return known;
    const c = this.config;
    try {
      const { payload } = await jwtVerify(token, this.jwks, {
        algorithms: c.algorithms,
        issuer: c.issuer,
        ...(c.audience ? { audience: c.audience } : {}),
        requiredClaims: ["exp", "sub"],
        clockTolerance: c.clockSkewSeconds,
        currentDate: new Date(this.now()),
      });
      const customerId = payload[c.customerClaim];
      if (typeof customerId !== "string" || customerId === "") throw new UnauthorizedError(`token lacks the '${c.customerClaim}' claim naming its customer`);
      const raw = payload[c.scopeClaim];
      const scopes = typeof raw === "string" ? raw.split(" ").filter(Boolean) : Array.isArray(raw) && raw.every((s) => typeof s === "string") ? raw : null;
      if (scopes === null) throw new UnauthorizedError(`token's '${c.scopeClaim}' claim is not a list of scopes`);
      // `admin` reaches every customer: an outside issuer never grants it.
      const principal = Object.freeze({ subject: payload.sub!, customerId, scopes: Object.freeze(scopes.filter((s) => s !== "admin")) as string[] });
      this.verified.set(token, principal, (payload.exp! + c.clockSkewSeconds) * 1000);
      return principal;
    } catch (err) {
      if (err instanceof UnauthorizedError) throw err;
      if (err instanceof joseErrors.JWTExpired) throw new UnauthorizedError("token expired");
      if (err instanceof joseErrors.JOSEAlgNotAllowed) throw new UnauthorizedError(`token algorithm not allowed (only ${c.algorithms.join(", ")})`);
      if (err instanceof joseErrors.JWTClaimValidationFailed) throw new UnauthorizedError(`token claim '${err.claim}' is invalid: ${err.reason}`);
      if (err instanceof joseErrors.JWKSNoMatchingKey) throw new UnauthorizedError("token key id is unknown to the issuer's JWKS");
      if (err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError))
        throw new UnavailableError(`the token issuer's keys could not be fetched (${(err as Error).message}); try again`);
      throw new UnauthorizedError("token is invalid");
    }
  }
}
