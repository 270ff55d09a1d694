/**
 * @module Tokens that passed full verification, remembered until they expire: a producer sends
 * thousands of requests with one token, and each is then a lookup (its `exp` still checked).
 * Oldest first out when full; a token that failed is never remembered.
 */
import { UnauthorizedError } from "../../domain/errors.ts";
import type { Principal } from "./tokens.ts";

export class VerifiedTokens {
  private readonly entries = new Map<string, { principal: Principal; expiresAtMs: number }>();

  constructor(
    private readonly now: () => number,
    private readonly size = 10_000,
  ) {}

  /** The principal of a token verified before; UnauthorizedError once it expired; undefined when not known. */
  get(token: string): Principal | undefined {
    const known = this.entries.get(token);
    if (!known) return undefined;
    if (this.now() < known.expiresAtMs) return known.principal;
    this.entries.delete(token);
    throw new UnauthorizedError("token expired");
  }

  /** Remembers a verified token until `expiresAtMs` (its `exp` plus the tolerated skew). */
  set(token: string, principal: Principal, expiresAtMs: number): void {
    if (this.entries.size >= this.size) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, { principal, expiresAtMs });
  }
}
