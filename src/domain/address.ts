/** @module Which IP addresses a webhook may reach: only public unicast ones (SSRF guard). */

function ipv4ToInt(address: string): number | null {
  const parts = address.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

/** Eight 16-bit groups, or null when the text is not an IPv6 address. */
function parseV6(address: string): number[] | null {
  let text = address.replace(/^\[|\]$/g, "").split("%")[0]!;
  const tail: number[] = [];
  const dotted = text.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    const v4 = ipv4ToInt(dotted[2]!);
    if (v4 === null) return null;
    tail.push(Math.floor(v4 / 65536), v4 % 65536);
    text = dotted[1]!.endsWith("::") ? dotted[1]! : dotted[1]!.slice(0, -1);
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string) => (part === "" ? [] : part.split(":"));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const groups = [...head, ...rest].map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN));
  if (groups.some(Number.isNaN)) return null;
  const missing = 8 - groups.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const zeros = new Array<number>(Math.max(0, missing)).fill(0);
  return [...groups.slice(0, head.length), ...zeros, ...groups.slice(head.length), ...tail];
}

/**
 * What may be reached, derived from IANA's IPv4 and IPv6 Special-Purpose Address Registries
 * (iana-ipv4-special-registry, iana-ipv6-special-registry, as of 2025: every entry, by its
 * "Globally Reachable" column) and the address-space registries (multicast; IPv6 outside
 * 2000::/3, site-local fec0::/10). One row per registry entry; the first row that holds an address
 * decides, so more specific rows come first and each version ends with a row that holds the rest.
 *
 * - `refuse`: never reached. Every entry the registry marks not globally reachable, and those it
 *   marks N/A (Teredo, the deprecated 6to4 relay anycast). A few marked globally reachable sit
 *   inside a block that is not (PCP/TURN/DNS-SD anycast, AMT, AS112-v6, ORCHIDv2, DETs in
 *   2001::/23; PCP/TURN anycast in 192.0.0.0/24; the 6a44 relay in 192.88.99.0/24): anycast
 *   service addresses and identifier prefixes, never a webhook endpoint, so the block is
 *   refused whole (their `note` says so).
 * - `ipv4`: an IPv6 form that carries an IPv4 address the packet ends up at (IPv4-mapped, SIIT,
 *   NAT64 64:ff9b::/96, 6to4): judged by that IPv4 address, starting at bit `ipv4At`.
 * - `allow`: globally reachable.
 */
export interface AddressRange {
  /** The block as the registry writes it. */
  cidr: string;
  /** The registry entry's name. */
  name: string;
  /** The RFC the registry names. */
  rfc: string;
  /** The registry's "Globally Reachable": true, false, or null (N/A, or not in a special-purpose registry). */
  globallyReachable: boolean | null;
  rule: "refuse" | "ipv4" | "allow";
  /** rule ipv4: the first bit of the IPv4 address inside (96, or 16 for 6to4). */
  ipv4At?: number;
  /** Why the rule is not what the registry's flag alone would say. */
  note?: string;
}

const INSIDE_IETF_BLOCK = "refused with its whole block: an anycast service address, never a webhook endpoint";
const INSIDE_2001_23 = "refused with 2001::/23: an anycast, tunnelling or identifier prefix, never a webhook endpoint";

export const ADDRESS_RANGES: readonly AddressRange[] = [
  // IPv4 Special-Purpose Address Registry.
  { cidr: "0.0.0.0/32", name: '"This host on this network"', rfc: "RFC 1122 §3.2.1.3", globallyReachable: false, rule: "refuse" },
  { cidr: "0.0.0.0/8", name: '"This network"', rfc: "RFC 791 §3.2", globallyReachable: false, rule: "refuse" },
  { cidr: "10.0.0.0/8", name: "Private-Use", rfc: "RFC 1918", globallyReachable: false, rule: "refuse" },
  { cidr: "100.64.0.0/10", name: "Shared Address Space (CGNAT)", rfc: "RFC 6598", globallyReachable: false, rule: "refuse" },
  { cidr: "127.0.0.0/8", name: "Loopback", rfc: "RFC 1122 §3.2.1.3", globallyReachable: false, rule: "refuse" },
  { cidr: "169.254.0.0/16", name: "Link Local (cloud metadata at 169.254.169.254)", rfc: "RFC 3927", globallyReachable: false, rule: "refuse" },
  { cidr: "172.16.0.0/12", name: "Private-Use", rfc: "RFC 1918", globallyReachable: false, rule: "refuse" },
  { cidr: "192.0.0.0/29", name: "IPv4 Service Continuity Prefix", rfc: "RFC 7335", globallyReachable: false, rule: "refuse" },
  { cidr: "192.0.0.8/32", name: "IPv4 dummy address", rfc: "RFC 7600", globallyReachable: false, rule: "refuse" },
  { cidr: "192.0.0.9/32", name: "Port Control Protocol Anycast", rfc: "RFC 7723", globallyReachable: true, rule: "refuse", note: INSIDE_IETF_BLOCK },
  { cidr: "192.0.0.10/32", name: "Traversal Using Relays around NAT Anycast", rfc: "RFC 8155", globallyReachable: true, rule: "refuse", note: INSIDE_IETF_BLOCK },
  { cidr: "192.0.0.170/32", name: "NAT64/DNS64 Discovery", rfc: "RFC 8880, RFC 7050 §2.2", globallyReachable: false, rule: "refuse" },
  { cidr: "192.0.0.171/32", name: "NAT64/DNS64 Discovery", rfc: "RFC 8880, RFC 7050 §2.2", globallyReachable: false, rule: "refuse" },
  { cidr: "192.0.0.0/24", name: "IETF Protocol Assignments", rfc: "RFC 6890 §2.1", globallyReachable: false, rule: "refuse" },
  { cidr: "192.0.2.0/24", name: "Documentation (TEST-NET-1)", rfc: "RFC 5737", globallyReachable: false, rule: "refuse" },
  { cidr: "192.31.196.0/24", name: "AS112-v4", rfc: "RFC 7535", globallyReachable: true, rule: "allow" },
  { cidr: "192.52.193.0/24", name: "AMT", rfc: "RFC 7450", globallyReachable: true, rule: "allow" },
  { cidr: "192.88.99.2/32", name: "6a44-relay anycast address", rfc: "RFC 6751", globallyReachable: true, rule: "refuse", note: INSIDE_IETF_BLOCK },
  { cidr: "192.88.99.0/24", name: "Deprecated (6to4 Relay Anycast)", rfc: "RFC 7526", globallyReachable: null, rule: "refuse" },
  { cidr: "192.168.0.0/16", name: "Private-Use", rfc: "RFC 1918", globallyReachable: false, rule: "refuse" },
  { cidr: "192.175.48.0/24", name: "Direct Delegation AS112 Service", rfc: "RFC 7534", globallyReachable: true, rule: "allow" },
  { cidr: "198.18.0.0/15", name: "Benchmarking", rfc: "RFC 2544", globallyReachable: false, rule: "refuse" },
  { cidr: "198.51.100.0/24", name: "Documentation (TEST-NET-2)", rfc: "RFC 5737", globallyReachable: false, rule: "refuse" },
  { cidr: "203.0.113.0/24", name: "Documentation (TEST-NET-3)", rfc: "RFC 5737", globallyReachable: false, rule: "refuse" },
  // IPv4 Multicast Address Space registry.
  { cidr: "224.0.0.0/4", name: "Multicast", rfc: "RFC 5771", globallyReachable: null, rule: "refuse" },
  { cidr: "255.255.255.255/32", name: "Limited Broadcast", rfc: "RFC 8190, RFC 919 §7", globallyReachable: false, rule: "refuse" },
  { cidr: "240.0.0.0/4", name: "Reserved", rfc: "RFC 1112 §4", globallyReachable: false, rule: "refuse" },
  { cidr: "0.0.0.0/0", name: "Unicast", rfc: "RFC 791", globallyReachable: null, rule: "allow" },

  // IPv6 Special-Purpose Address Registry, and the forms that carry an IPv4 address.
  { cidr: "::/128", name: "Unspecified Address", rfc: "RFC 4291", globallyReachable: false, rule: "refuse" },
  { cidr: "::1/128", name: "Loopback Address", rfc: "RFC 4291", globallyReachable: false, rule: "refuse" },
  {
    cidr: "::ffff:0:0/96",
    name: "IPv4-mapped Address",
    rfc: "RFC 4291",
    globallyReachable: false,
    rule: "ipv4",
    ipv4At: 96,
    note: "a connection to it goes to the IPv4 address inside, which decides",
  },
  { cidr: "::ffff:0:0:0/96", name: "IPv4-translated Address (SIIT)", rfc: "RFC 2765", globallyReachable: null, rule: "ipv4", ipv4At: 96 },
  { cidr: "::/96", name: "IPv4-compatible Address (deprecated)", rfc: "RFC 4291 §2.5.5.1", globallyReachable: null, rule: "refuse" },
  {
    cidr: "64:ff9b::/96",
    name: "IPv4-IPv6 Translat. (NAT64)",
    rfc: "RFC 6052",
    globallyReachable: true,
    rule: "ipv4",
    ipv4At: 96,
    note: "the translator sends it to the IPv4 address inside, which decides",
  },
  { cidr: "64:ff9b:1::/48", name: "IPv4-IPv6 Translat. (local use)", rfc: "RFC 8215", globallyReachable: false, rule: "refuse" },
  { cidr: "100::/64", name: "Discard-Only Address Block", rfc: "RFC 6666", globallyReachable: false, rule: "refuse" },
  { cidr: "100:0:0:1::/64", name: "Dummy IPv6 Prefix", rfc: "RFC 9780", globallyReachable: false, rule: "refuse" },
  { cidr: "2001::/32", name: "TEREDO", rfc: "RFC 4380, RFC 8190", globallyReachable: null, rule: "refuse" },
  { cidr: "2001:1::1/128", name: "Port Control Protocol Anycast", rfc: "RFC 7723", globallyReachable: true, rule: "refuse", note: INSIDE_2001_23 },
  { cidr: "2001:1::2/128", name: "Traversal Using Relays around NAT Anycast", rfc: "RFC 8155", globallyReachable: true, rule: "refuse", note: INSIDE_2001_23 },
  { cidr: "2001:1::3/128", name: "DNS-SD Service Registration Protocol Anycast", rfc: "RFC 9665", globallyReachable: true, rule: "refuse", note: INSIDE_2001_23 },
  { cidr: "2001:2::/48", name: "Benchmarking", rfc: "RFC 5180", globallyReachable: false, rule: "refuse" },
  { cidr: "2001:3::/32", name: "AMT", rfc: "RFC 7450", globallyReachable: true, rule: "refuse", note: INSIDE_2001_23 },
  { cidr: "2001:4:112::/48", name: "AS112-v6", rfc: "RFC 7535", globallyReachable: true, rule: "refuse", note: INSIDE_2001_23 },
  { cidr: "2001:10::/28", name: "Deprecated (previously ORCHID)", rfc: "RFC 4843", globallyReachable: null, rule: "refuse" },
  { cidr: "2001:20::/28", name: "ORCHIDv2", rfc: "RFC 7343", globallyReachable: true, rule: "refuse", note: INSIDE_2001_23 },
  { cidr: "2001:30::/28", name: "Drone Remote ID Protocol Entity Tags (DETs) Prefix", rfc: "RFC 9374", globallyReachable: true, rule: "refuse", note: INSIDE_2001_23 },
  { cidr: "2001::/23", name: "IETF Protocol Assignments", rfc: "RFC 2928", globallyReachable: false, rule: "refuse" },
  { cidr: "2001:db8::/32", name: "Documentation", rfc: "RFC 3849", globallyReachable: false, rule: "refuse" },
  { cidr: "2002::/16", name: "6to4", rfc: "RFC 3056", globallyReachable: null, rule: "ipv4", ipv4At: 16, note: "a relay sends it to the IPv4 address inside, which decides" },
  { cidr: "2620:4f:8000::/48", name: "Direct Delegation AS112 Service", rfc: "RFC 7534", globallyReachable: true, rule: "allow" },
  { cidr: "3fff::/20", name: "Documentation", rfc: "RFC 9637", globallyReachable: false, rule: "refuse" },
  { cidr: "5f00::/16", name: "Segment Routing (SRv6) SIDs", rfc: "RFC 9602", globallyReachable: false, rule: "refuse" },
  { cidr: "fc00::/7", name: "Unique-Local", rfc: "RFC 4193, RFC 8190", globallyReachable: false, rule: "refuse" },
  { cidr: "fe80::/10", name: "Link-Local Unicast", rfc: "RFC 4291", globallyReachable: false, rule: "refuse" },
  // IPv6 Address Space registry.
  { cidr: "fec0::/10", name: "Site-Local (deprecated)", rfc: "RFC 3879", globallyReachable: null, rule: "refuse" },
  { cidr: "ff00::/8", name: "Multicast", rfc: "RFC 4291 §2.7", globallyReachable: null, rule: "refuse" },
  { cidr: "2000::/3", name: "Global Unicast", rfc: "RFC 4291 §2.4", globallyReachable: null, rule: "allow" },
  { cidr: "::/0", name: "Reserved by IETF (outside Global Unicast 2000::/3)", rfc: "RFC 4291 §2.4", globallyReachable: null, rule: "refuse" },
];

/** An address as its version and number, as written (an IPv4-mapped address stays IPv6). */
function rawValue(address: string): { version: 4 | 6; value: bigint } | null {
  const v4 = ipv4ToInt(address);
  if (v4 !== null) return { version: 4, value: BigInt(v4) };
  const g = parseV6(address);
  return g === null ? null : { version: 6, value: g.reduce((acc, group) => (acc << 16n) | BigInt(group), 0n) };
}

interface CompiledRange {
  range: AddressRange;
  version: 4 | 6;
  shift: bigint;
  prefix: bigint;
}

const COMPILED: CompiledRange[] = ADDRESS_RANGES.map((range) => {
  const [base, bitsText] = range.cidr.split("/");
  const raw = rawValue(base!);
  const bits = Number(bitsText);
  if (!raw || !(bits >= 0 && bits <= (raw.version === 4 ? 32 : 128))) throw new Error(`address table: ${range.cidr} is not a range`);
  const shift = BigInt((raw.version === 4 ? 32 : 128) - bits);
  if ((raw.value >> shift) << shift !== raw.value) throw new Error(`address table: ${range.cidr} has bits set below its prefix`);
  return { range, version: raw.version, shift, prefix: raw.value >> shift };
});

/** The first row of the table that holds the address (every address has one: each version ends with a catch-all). */
function rowOf(version: 4 | 6, value: bigint): AddressRange {
  return COMPILED.find((row) => row.version === version && value >> row.shift === row.prefix)!.range;
}

function describeRow(row: AddressRange): string {
  return `${row.cidr} ${row.name}, ${row.rfc}`;
}

function formatV4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join(".");
}

function refusal(version: 4 | 6, value: bigint): string | null {
  const row = rowOf(version, value);
  if (row.rule === "allow") return null;
  if (row.rule === "refuse") return describeRow(row);
  const inner = (value >> BigInt(128 - row.ipv4At! - 32)) & 0xffffffffn;
  const why = refusal(4, inner);
  return why === null ? null : `${describeRow(row)} of ${formatV4(inner)}: ${why}`;
}

/** The row of ADDRESS_RANGES that decides the address, or null when it is not an IP address. */
export function addressRow(address: string): AddressRange | null {
  const raw = rawValue(address);
  return raw && rowOf(raw.version, raw.value);
}

/**
 * Why a webhook may not reach the address — the table's row that refuses it, and for a form
 * carrying an IPv4 address, the row that refuses that — or null when it may (public unicast).
 */
export function nonPublicReason(address: string): string | null {
  const raw = rawValue(address);
  if (!raw) return "not an IP address";
  return refusal(raw.version, raw.value);
}

/** True for a public unicast IPv4 or IPv6 address; false for anything else, unparsable included. */
export function isPublicAddress(address: string): boolean {
  return nonPublicReason(address) === null;
}

/** True when the text is an IP literal (v4 dotted or v6, brackets allowed). */
export function isIpLiteral(host: string): boolean {
  return ipv4ToInt(host) !== null || parseV6(host) !== null;
}

/** An address range, `10.20.0.0/16` or `fd00:1::/32`. */
export interface Cidr {
  text: string;
  version: 4 | 6;
  bits: number;
  /** The first address of the range, as a number of 32 or 128 bits. */
  base: bigint;
}

/** An address as (version, value); an IPv4-mapped IPv6 address counts as its IPv4 address. */
function addressValue(address: string): { version: 4 | 6; value: bigint } | null {
  const v4 = ipv4ToInt(address);
  if (v4 !== null) return { version: 4, value: BigInt(v4) };
  const g = parseV6(address);
  if (g === null) return null;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return { version: 4, value: BigInt(g[6]! * 65536 + g[7]!) };
  return { version: 6, value: g.reduce((acc, group) => (acc << 16n) | BigInt(group), 0n) };
}

/** The range in `text`, or null when it is not `address/bits` with the address the range's first one. */
export function parseCidr(text: string): Cidr | null {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  if (!match) return null;
  const parsed = addressValue(match[1]!);
  const bits = Number(match[2]);
  if (!parsed || (ipv4ToInt(match[1]!) === null && parsed.version === 4)) return null; // no IPv4-mapped bases
  const width = parsed.version === 4 ? 32 : 128;
  if (bits > width) return null;
  const hostBits = BigInt(width - bits);
  if ((parsed.value & ((1n << hostBits) - 1n)) !== 0n) return null; // 10.1.2.3/16: bits set below the prefix
  return { text: text.trim(), version: parsed.version, bits, base: parsed.value };
}

export function cidrContains(cidr: Cidr, address: string): boolean {
  const parsed = addressValue(address);
  if (!parsed || parsed.version !== cidr.version) return false;
  const hostBits = BigInt((cidr.version === 4 ? 32 : 128) - cidr.bits);
  return parsed.value >> hostBits === cidr.base >> hostBits;
}
