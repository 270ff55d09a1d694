/** @module Which IP addresses a webhook may reach: only public unicast ones (SSRF guard). */

type Range4 = [number, number];

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

function cidr4(base: string, bits: number): Range4 {
  const start = ipv4ToInt(base)!;
  const size = 2 ** (32 - bits);
  return [start, start + size - 1];
}

const NON_PUBLIC_V4: Range4[] = [
  cidr4("0.0.0.0", 8), // "this network"
  cidr4("10.0.0.0", 8),
  cidr4("100.64.0.0", 10), // CGNAT
  cidr4("127.0.0.0", 8),
  cidr4("169.254.0.0", 16), // link-local, cloud metadata
  cidr4("172.16.0.0", 12),
  cidr4("192.0.0.0", 24),
  cidr4("192.0.2.0", 24), // documentation
  cidr4("192.88.99.0", 24), // 6to4 relay anycast
  cidr4("192.168.0.0", 16),
  cidr4("198.18.0.0", 15), // benchmarking
  cidr4("198.51.100.0", 24),
  cidr4("203.0.113.0", 24),
  cidr4("224.0.0.0", 4), // multicast
  cidr4("240.0.0.0", 4), // reserved and broadcast
];

function isPublicV4(value: number): boolean {
  return !NON_PUBLIC_V4.some(([start, end]) => value >= start && value <= end);
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

function isPublicV6(g: number[]): boolean {
  const embeddedV4 = (hi: number, lo: number) => hi * 65536 + lo;
  if (g.every((x) => x === 0)) return false; // ::
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return false; // ::1
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return isPublicV4(embeddedV4(g[6]!, g[7]!)); // IPv4-mapped
  if (g.slice(0, 4).every((x) => x === 0) && g[4] === 0xffff && g[5] === 0) return isPublicV4(embeddedV4(g[6]!, g[7]!)); // IPv4-translated (SIIT)
  if (g.slice(0, 6).every((x) => x === 0)) return false; // IPv4-compatible (deprecated)
  if (g[0] === 0x64 && g[1] === 0xff9b) return isPublicV4(embeddedV4(g[6]!, g[7]!)); // NAT64
  if (g[0] === 0x2002) return isPublicV4(embeddedV4(g[1]!, g[2]!)); // 6to4
  if (g[0] === 0x2001 && g[1] === 0) return false; // Teredo
  if (g[0] === 0x2001 && g[1] === 0xdb8) return false; // documentation
  if (g[0] === 0x100 && g[1] === 0 && g[2] === 0 && g[3] === 0) return false; // discard
  if ((g[0]! & 0xfe00) === 0xfc00) return false; // unique local
  if ((g[0]! & 0xffc0) === 0xfe80) return false; // link-local
  if ((g[0]! & 0xff00) === 0xff00) return false; // multicast
  return true;
}

/** True for a public unicast IPv4 or IPv6 address; false for anything else, unparsable included. */
export function isPublicAddress(address: string): boolean {
  const v4 = ipv4ToInt(address);
  if (v4 !== null) return isPublicV4(v4);
  const v6 = parseV6(address);
  return v6 !== null && isPublicV6(v6);
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
