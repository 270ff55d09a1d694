/**
 * @module Access tokens: JWTs with the algorithm pinned (HS256, RS256 or EdDSA), `exp`, `sub`
 * and `iss` required, `aud` when configured, keys chosen by `kid`, carrying subject, customer
 * and scopes.
 */
import { type JWTHeaderParameters, errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { UnauthorizedError } from "../../domain/errors.ts";
import type { TokenKeyRing } from "./token-keys.ts";
import { VerifiedTokens } from "./verified-tokens.ts";

/** Who is calling, for which customer, allowed to do what. */
export interface Principal {
  subject: string;
  customerId: string;
  scopes: string[];
}

export interface TokenConfig {
  keys: TokenKeyRing;
  issuer: string;
  /** Put in issued tokens and required of every token; undefined = neither. */
  audience?: string;
  expirySeconds: number;
  /** Tolerated difference between our clock and a token's `exp`/`nbf`/`iat`. */
  clockSkewSeconds: number;
}

interface Verified {
  principal: Principal;
  /** `exp` plus the tolerated skew, in ms since the epoch. */
  expiresAtMs: number;
}

export class Tokens {
  private readonly verified: VerifiedTokens;

  constructor(
    private readonly config: TokenConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.verified = new VerifiedTokens(now);
  }

  get expirySeconds(): number {
    return this.config.expirySeconds;
  }

  async issue(principal: Principal): Promise<string> {
    return (await this.mint(principal, this.config.expirySeconds)).token;
  }

  /** A token for `principal` that expires `lifetimeSeconds` from now, and when that is (its `exp`, in ms). */
  async mint(principal: Principal, lifetimeSeconds: number): Promise<{ token: string; expiresAtMs: number }> {
    const { algorithm, signing } = this.config.keys;
    const issuedAt = Math.floor(this.now() / 1000);
    const expiresAt = issuedAt + lifetimeSeconds;
    const jwt = new SignJWT({ customer_id: principal.customerId, scopes: principal.scopes })
      .setProtectedHeader({ alg: algorithm, typ: "JWT", kid: signing.kid })
      .setSubject(principal.subject)
      .setIssuer(this.config.issuer)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt);
    if (this.config.audience !== undefined) jwt.setAudience(this.config.audience);
    return { token: await jwt.sign(signing.key), expiresAtMs: expiresAt * 1000 };
  }

  /**
   * The principal in a valid token; UnauthorizedError naming why otherwise. A token is fully
   * verified (signature, algorithm, claims) once; later uses within its lifetime are a lookup.
   */
  async verify(token: string): Promise<Principal> {
    const known = this.verified.get(token);
    if (known) return known;
    const verified = await this.verifyFully(token);
    this.verified.set(token, verified.principal, verified.expiresAtMs);
    return verified.principal;
  }

  /** The verifying key a token names; one without `kid` (issued before kids) gets the current key. */
  private keyFor(header: JWTHeaderParameters) {
    const { verifying, signing } = this.config.keys;
    const key = verifying.get(header.kid ?? signing.kid);
    if (key === undefined) throw new UnauthorizedError(`token key id '${String(header.kid).slice(0, 64)}' is unknown (a key rotated out, or another issuer's)`);
    return key;
  }

  private async verifyFully(token: string): Promise<Verified> {
    const algorithm = this.config.keys.algorithm;
    const skew = this.config.clockSkewSeconds;
    try {
      const { payload } = await jwtVerify(token, (header) => this.keyFor(header), {
        algorithms: [algorithm],
        issuer: this.config.issuer,
        ...(this.config.audience !== undefined ? { audience: this.config.audience } : {}),
        requiredClaims: ["exp", "sub"],
        clockTolerance: skew,
        currentDate: new Date(this.now()),
      });
      const customerId = payload.customer_id;
      const scopes = payload.scopes;
      if (typeof customerId !== "string" || !Array.isArray(scopes) || !scopes.every((s) => typeof s === "string")) throw new UnauthorizedError("token lacks customer_id or scopes");
      const principal = Object.freeze({ subject: payload.sub!, customerId, scopes: Object.freeze([...scopes]) as string[] });
      return { principal, expiresAtMs: (payload.exp! + skew) * 1000 };
    } catch (err) {
      if (err instanceof UnauthorizedError) throw err;
      if (err instanceof joseErrors.JWTExpired) throw new UnauthorizedError("token expired");
      if (err instanceof joseErrors.JOSEAlgNotAllowed) throw new UnauthorizedError(`token algorithm not allowed (only ${algorithm})`);
      if (err instanceof joseErrors.JWTClaimValidationFailed) throw new UnauthorizedError(`token claim '${err.claim}' is invalid: ${err.reason}`);
      throw new UnauthorizedError("token is invalid");
    }
  }
}

/** The token in `Authorization: Bearer <token>`; UnauthorizedError when absent or malformed. */
export function bearerToken(header: string | null): string {
  if (!header) throw new UnauthorizedError("missing Authorization header (use 'Bearer <token>')");
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!match) throw new UnauthorizedError("Authorization header must be 'Bearer <token>'");
  return match[1]!;
}

/** What turns a bearer value (a JWT, or an API key) into who is calling. */
export interface Credentials {
  verify(bearer: string): Promise<Principal>;
}

/** Verifies the request's bearer token. */
export function authenticate(credentials: Credentials, request: Request): Promise<Principal> {
  return credentials.verify(bearerToken(request.headers.get("authorization")));
}
