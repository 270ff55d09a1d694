/** @module SSRF guard: a webhook may only reach public addresses unless private targets are allowed. */
import { lookup } from "node:dns/promises";
import { isIpLiteral, isPublicAddress } from "../../domain/address.ts";
import type { TargetCheck } from "../../domain/ports.ts";

const CACHE_TTL_MS = 5000;

/**
 * Resolves the host and refuses it when any address is not public unicast (loopback,
 * private, link-local, CGNAT, multicast, documentation, or v6 forms that embed one).
 */
export function publicTargetsOnly(): TargetCheck {
  const cache = new Map<string, { verdict: string | null; until: number }>();
  return async (url) => {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (isIpLiteral(host)) return isPublicAddress(host) ? null : `address ${host} is not public`;
    const cached = cache.get(host);
    if (cached && cached.until > Date.now()) return cached.verdict;
    let verdict: string | null;
    try {
      const addresses = await lookup(host, { all: true, verbatim: true });
      const refused = addresses.find((a) => !isPublicAddress(a.address));
      verdict = addresses.length === 0 ? `${host} has no address` : refused ? `${host} resolves to ${refused.address}, which is not public` : null;
    } catch (err) {
      return `${host} did not resolve: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    }
    cache.set(host, { verdict, until: Date.now() + CACHE_TTL_MS });
    return verdict;
  };
}

/** For local use (`HOOKRELAY_ALLOW_PRIVATE_TARGETS=true`): every target may be reached. */
export const anyTarget: TargetCheck = async () => null;
