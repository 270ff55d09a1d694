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

export class Tokens {
  private readonly key: Uint8Array;

  constructor(private readonly config: TokenConfig) {
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
      .setIssuedAt()
      .setExpirationTime(`${this.config.expirySeconds}s`)
      .sign(this.key);
  }

  /** The principal in a valid token; UnauthorizedError naming why otherwise. */
  async verify(token: string): Promise<Principal> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        issuer: this.config.issuer,
        requiredClaims: ["exp", "sub"],
        clockTolerance: CLOCK_SKEW_SECONDS,
      });
      const customerId = payload.customer_id;
      const scopes = payload.scopes;
      if (typeof customerId !== "string" || !Array.isArray(scopes) || !scopes.every((s) => typeof s === "string"))
        throw new UnauthorizedError("token lacks customer_id or scopes");
      return { subject: payload.sub!, customerId, scopes };
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
