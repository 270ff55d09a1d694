/**
 * @module Access tokens: HS256 JWTs with the algorithm pinned, `exp` and `iss` required,
 * carrying subject, customer and scopes.
 */
import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import { UnauthorizedError } from "../../domain/errors.ts";

/** Who is calling, for which customer, allowed to do what. */
export interface Principal {
  subject: string;
  customerId: string;
  scopes: string[];
}

export interface TokenConfig {
  secret: string;
  issuer: string;
  expirySeconds: number;
}

const ALGORITHM = "HS256";
/** Tolerated difference between our clock and the token's `exp`/`nbf`. */
const CLOCK_SKEW_SECONDS = 30;
/** Verified tokens remembered (a producer sends thousands of requests with one token). */
const VERIFIED_CACHE_SIZE = 10_000;

interface Verified {
  principal: Principal;
  /** `exp` plus the tolerated skew, in ms since the epoch. */
  expiresAtMs: number;
}

export class Tokens {
  private readonly key: Uint8Array;
  /** Tokens that passed full verification, oldest first; a hit still re-checks `exp`. */
  private readonly verified = new Map<string, Verified>();

  constructor(
    private readonly config: TokenConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.key = new TextEncoder().encode(config.secret);
  }

  get expirySeconds(): number {
    return this.config.expirySeconds;
  }

  async issue(principal: Principal): Promise<string> {
    return new SignJWT({ customer_id: principal.customerId, scopes: principal.scopes })
      .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
      .setSubject(principal.subject)
      .setIssuer(this.config.issuer)
      .setIssuedAt(Math.floor(this.now() / 1000))
      .setExpirationTime(Math.floor(this.now() / 1000) + this.config.expirySeconds)
      .sign(this.key);
  }

  /**
   * The principal in a valid token; UnauthorizedError naming why otherwise. A token is fully
   * verified (signature, algorithm, claims) once; later uses within its lifetime are a lookup.
   */
  async verify(token: string): Promise<Principal> {
    const known = this.verified.get(token);
    if (known) {
      if (this.now() < known.expiresAtMs) return known.principal;
      this.verified.delete(token);
      throw new UnauthorizedError("token expired");
    }
    const verified = await this.verifyFully(token);
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, verified);
    return verified.principal;
  }

  private async verifyFully(token: string): Promise<Verified> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        issuer: this.config.issuer,
        requiredClaims: ["exp", "sub"],
        clockTolerance: CLOCK_SKEW_SECONDS,
        currentDate: new Date(this.now()),
      });
      const customerId = payload.customer_id;
      const scopes = payload.scopes;
      if (typeof customerId !== "string" || !Array.isArray(scopes) || !scopes.every((s) => typeof s === "string"))
        throw new UnauthorizedError("token lacks customer_id or scopes");
      const principal = Object.freeze({ subject: payload.sub!, customerId, scopes: Object.freeze([...scopes]) as string[] });
      return { principal, expiresAtMs: (payload.exp! + CLOCK_SKEW_SECONDS) * 1000 };
    } catch (err) {
      if (err instanceof UnauthorizedError) throw err;
      if (err instanceof joseErrors.JWTExpired) throw new UnauthorizedError("token expired");
      if (err instanceof joseErrors.JOSEAlgNotAllowed) throw new UnauthorizedError(`token algorithm not allowed (only ${ALGORITHM})`);
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

/** Verifies the request's bearer token. */
export function authenticate(tokens: Tokens, request: Request): Promise<Principal> {
  return tokens.verify(bearerToken(request.headers.get("authorization")));
}
