/** @module SSRF guard: a webhook may only reach public addresses unless private targets are allowed. */
import { lookup } from "node:dns/promises";
import { type Cidr, cidrContains, isIpLiteral, isPublicAddress } from "../../domain/address.ts";
import type { TargetCheck, TargetResolver, TargetVerdict } from "../../domain/ports.ts";

const CACHE_TTL_MS = 5000;

/**
 * Resolves the host and refuses it when any address is not public unicast (loopback,
 * private, link-local, CGNAT, multicast, documentation, or v6 forms that embed one); else
 * names the vetted address to connect to, so a DNS answer that changes after the check
 * (rebinding) is never the one connected to. Addresses inside an `allowed` range pass too
 * (an internal network the operator chose to reach).
 */
export function publicTargetResolver(allowed: Cidr[] = []): TargetResolver {
  const cache = new Map<string, TargetVerdict & { until: number }>();
  const reachable = (address: string) => isPublicAddress(address) || allowed.some((range) => cidrContains(range, address));
  return async (url) => {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (isIpLiteral(host)) return reachable(host) ? { refused: null, address: host } : { refused: `address ${host} is not public`, address: null };
    const cached = cache.get(host);
    if (cached && cached.until > Date.now()) return cached;
    let verdict: TargetVerdict;
    try {
      const addresses = await lookup(host, { all: true, verbatim: true });
      const refused = addresses.find((a) => !reachable(a.address));
      if (addresses.length === 0) verdict = { refused: `${host} has no address`, address: null };
      else if (refused) verdict = { refused: `${host} resolves to ${refused.address}, which is not public`, address: null };
      else verdict = { refused: null, address: addresses[0]!.address };
    } catch (err) {
      return { refused: `${host} did not resolve: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, address: null };
    }
    cache.set(host, { ...verdict, until: Date.now() + CACHE_TTL_MS });
    return verdict;
  };
}

/** For local use (`HOOKRELAY_ALLOW_PRIVATE_TARGETS=true`): every target may be reached, resolved by the client. */
export const anyTargetResolver: TargetResolver = async () => ({ refused: null, address: null });

/** The refusal alone, for checks that do not connect (webhook validation, fetch). */
export function refusalOf(resolve: TargetResolver): TargetCheck {
  return async (url) => (await resolve(url)).refused;
}

export function publicTargetsOnly(): TargetCheck {
  return refusalOf(publicTargetResolver());
}

export const anyTarget: TargetCheck = refusalOf(anyTargetResolver);
