/** @module SSRF guard: a webhook may only reach public addresses unless private targets are allowed. */
import { lookup, Resolver } from "node:dns/promises";
import { type Cidr, cidrContains, isIpLiteral, nonPublicReason } from "../../domain/address.ts";
import type { TargetCheck, TargetResolver, TargetVerdict } from "../../domain/ports.ts";

/** How long a verdict is kept when the answer carries no TTL (names from /etc/hosts). */
const DEFAULT_TTL_MS = 5000;
/** Bounds on a DNS answer's TTL as a cache lifetime: a 0 TTL does not mean a lookup per send. */
const MIN_TTL_MS = 1000;
const MAX_TTL_MS = 5 * 60_000;

/**
 * A name's addresses and how long they may be used: the DNS answers' smallest TTL (A and AAAA),
 * or, for a name DNS does not know (one in /etc/hosts), the system resolver's answer for a
 * default time.
 */
async function addressesOf(resolver: Resolver, host: string): Promise<{ addresses: string[]; ttlMs: number }> {
  const answers = await Promise.allSettled([resolver.resolve4(host, { ttl: true }), resolver.resolve6(host, { ttl: true })]);
  const records = answers.flatMap((a) => (a.status === "fulfilled" ? a.value : []));
  if (records.length > 0) {
    const ttlMs = Math.min(...records.map((r) => r.ttl)) * 1000;
    return { addresses: records.map((r) => r.address), ttlMs: Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, ttlMs)) };
  }
  const found = await lookup(host, { all: true, verbatim: true });
  return { addresses: found.map((a) => a.address), ttlMs: DEFAULT_TTL_MS };
}

/**
 * Resolves the host (kept for its DNS TTL) and refuses it when any address is not public unicast
 * (a row of ADDRESS_RANGES in domain/address.ts refuses it, derived from IANA's special-purpose
 * registries; the refusal names the row); else names the vetted address to connect to, so a DNS
 * answer that changes after the check (rebinding) is never the one connected to. Addresses inside
 * an `allowed` range pass too (an internal network the operator chose to reach).
 */
export function publicTargetResolver(allowed: Cidr[] = [], dnsServers: string[] = []): TargetResolver {
  const cache = new Map<string, TargetVerdict & { until: number }>();
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  if (dnsServers.length > 0) resolver.setServers(dnsServers);
  /** Why the address may not be reached, or null when it may. */
  const unreachable = (address: string) => (allowed.some((range) => cidrContains(range, address)) ? null : nonPublicReason(address));
  return async (url) => {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (isIpLiteral(host)) {
      const why = unreachable(host);
      return why === null ? { refused: null, address: host } : { refused: `address ${host} is not public (${why})`, address: null };
    }
    const cached = cache.get(host);
    if (cached && cached.until > Date.now()) return cached;
    let verdict: TargetVerdict;
    let ttlMs: number;
    try {
      const found = await addressesOf(resolver, host);
      ttlMs = found.ttlMs;
      const refused = found.addresses.map((a) => ({ address: a, why: unreachable(a) })).find((a) => a.why !== null);
      if (found.addresses.length === 0) verdict = { refused: `${host} has no address`, address: null };
      else if (refused) verdict = { refused: `${host} resolves to ${refused.address}, which is not public (${refused.why})`, address: null };
      else verdict = { refused: null, address: found.addresses[0]! };
    } catch (err) {
      return { refused: `${host} did not resolve: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, address: null };
    }
    cache.set(host, { ...verdict, until: Date.now() + ttlMs });
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
