/** @module Unit tests of the SSRF address rules: only public unicast IPv4/IPv6 may be reached. */
import { describe, expect, it } from "bun:test";
import { ADDRESS_RANGES, addressRow, cidrContains, isIpLiteral, isPublicAddress, nonPublicReason, parseCidr } from "./address.ts";

describe("isPublicAddress, IPv4", () => {
  it.each(["8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1", "11.0.0.1", "223.255.255.255"])("accepts the public address %s", (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });

  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback, end of range"],
    ["10.0.0.1", "private 10/8"],
    ["172.16.0.1", "private 172.16/12"],
    ["172.31.255.255", "private 172.16/12, end of range"],
    ["192.168.1.1", "private 192.168/16"],
    ["169.254.169.254", "link-local (cloud metadata)"],
    ["100.64.0.1", "CGNAT"],
    ["100.127.255.255", "CGNAT, end of range"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast"],
    ["0.0.0.0", "unspecified"],
    ["255.255.255.255", "broadcast"],
    ["192.0.2.1", "documentation TEST-NET-1"],
    ["198.51.100.7", "documentation TEST-NET-2"],
    ["203.0.113.9", "documentation TEST-NET-3"],
    ["198.18.0.1", "benchmarking"],
  ])("refuses %s (%s)", (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });
});

describe("isPublicAddress, IPv6", () => {
  it.each(["2606:4700:4700::1111", "2001:4860:4860::8888", "[2606:4700:4700::1111]", "2a00:1450:4001:80b::200e"])("accepts the public address %s", (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });

  it.each([
    ["::1", "loopback"],
    ["[::1]", "loopback in brackets"],
    ["0:0:0:0:0:0:0:1", "loopback written out"],
    ["::", "unspecified"],
    ["fc00::1", "unique local fc00::/7"],
    ["fd12:3456:789a::1", "unique local fd00::/8"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local with a zone"],
    ["febf::1", "link-local, end of fe80::/10"],
    ["ff02::1", "multicast"],
    ["ff00::", "multicast, start of range"],
    ["::ffff:127.0.0.1", "IPv4-mapped loopback, dotted"],
    ["::ffff:7f00:1", "IPv4-mapped loopback, hex"],
    ["::ffff:10.1.2.3", "IPv4-mapped private"],
    ["::ffff:169.254.169.254", "IPv4-mapped link-local"],
    ["64:ff9b::a00:1", "NAT64 of 10.0.0.1"],
    ["64:ff9b::127.0.0.1", "NAT64 of loopback, dotted"],
    ["2002:7f00:1::", "6to4 of 127.0.0.1"],
    ["2002:c0a8:101::1", "6to4 of 192.168.1.1"],
    ["2001:0::", "Teredo"],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo, full"],
    ["2001:db8::", "documentation"],
    ["2001:db8:85a3::8a2e:370:7334", "documentation, full"],
    ["100::1", "discard prefix"],
    ["::127.0.0.1", "IPv4-compatible (deprecated)"],
  ])("refuses %s (%s)", (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it("accepts embedded public IPv4 in mapped, NAT64 and 6to4 forms", () => {
    expect(isPublicAddress("::ffff:8.8.8.8")).toBe(true);
    expect(isPublicAddress("::ffff:808:808")).toBe(true);
    expect(isPublicAddress("64:ff9b::808:808")).toBe(true);
    expect(isPublicAddress("2002:808:808::1")).toBe(true);
  });
});

describe("isPublicAddress, not addresses", () => {
  it.each([
    "",
    "localhost",
    "example.com",
    "256.1.1.1",
    "1.2.3",
    "1.2.3.4.5",
    "01.2.3.4x",
    "1.2.3.-4",
    "0x7f.0.0.1",
    "2130706433",
    ":::",
    "1::2::3",
    "12345::1",
    "g::1",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "::ffff:999.0.0.1",
    "not an address",
  ])("refuses the garbage string %p", (text) => {
    expect(isPublicAddress(text)).toBe(false);
  });
});

describe("isIpLiteral", () => {
  it("recognises IPv4 and IPv6 literals, brackets allowed", () => {
    expect(isIpLiteral("8.8.8.8")).toBe(true);
    expect(isIpLiteral("::1")).toBe(true);
    expect(isIpLiteral("[2606:4700:4700::1111]")).toBe(true);
  });

  it("does not take host names for literals", () => {
    expect(isIpLiteral("example.com")).toBe(false);
    expect(isIpLiteral("localhost")).toBe(false);
  });
});

describe("IPv4-translated (SIIT) addresses", () => {
  it("judges ::ffff:0:a.b.c.d by the IPv4 address inside", () => {
    expect(isPublicAddress("::ffff:0:7f00:1")).toBe(false);
    expect(isPublicAddress("::ffff:0:127.0.0.1")).toBe(false);
    expect(isPublicAddress("::ffff:0:808:808")).toBe(true);
  });
});

describe("CIDR allow-list ranges", () => {
  it("parses IPv4 and IPv6 ranges and tells what is inside", () => {
    const internal = parseCidr("10.20.0.0/16")!;
    expect(internal).toMatchObject({ version: 4, bits: 16 });
    expect(cidrContains(internal, "10.20.0.5")).toBe(true);
    expect(cidrContains(internal, "10.20.255.255")).toBe(true);
    expect(cidrContains(internal, "10.21.0.1")).toBe(false);
    expect(cidrContains(internal, "::ffff:10.20.1.1")).toBe(true); // the same address, IPv4-mapped
    expect(cidrContains(internal, "fd00::1")).toBe(false);
    const ula = parseCidr("fd00:1::/32")!;
    expect(cidrContains(ula, "fd00:1:ffff::9")).toBe(true);
    expect(cidrContains(ula, "fd00:2::1")).toBe(false);
    expect(cidrContains(ula, "10.20.0.5")).toBe(false);
    expect(cidrContains(parseCidr("127.0.0.1/32")!, "127.0.0.1")).toBe(true);
    expect(cidrContains(parseCidr("127.0.0.1/32")!, "127.0.0.2")).toBe(false);
    expect(cidrContains(parseCidr("0.0.0.0/0")!, "8.8.8.8")).toBe(true);
  });

  it.each(["10.20.0.0", "10.20.0.0/33", "10.20.1.0/16", "fd00::/129", "::ffff:10.0.0.0/104", "localhost/8", "10.20.0.0/-1", "010.20.0.0/16x"])("refuses %p as a range", (text) => {
    expect(parseCidr(text)).toBeNull();
  });
});

/**
 * Every row of the table, with addresses it decides and, where one exists, a global address next to
 * it: `refused` must be refused by that very row, `allowed` must be public (an allow row's own
 * addresses, a refuse row's neighbours, or for a row carrying IPv4 one that carries a public IPv4).
 */
const ROW_EXAMPLES: Record<string, { refused: string[]; allowed: string[] }> = {
  "0.0.0.0/32": { refused: ["0.0.0.0"], allowed: [] },
  "0.0.0.0/8": { refused: ["0.0.0.1", "0.255.255.255"], allowed: ["1.0.0.0"] },
  "10.0.0.0/8": { refused: ["10.0.0.1", "10.255.255.255"], allowed: ["9.255.255.255", "11.0.0.0"] },
  "100.64.0.0/10": { refused: ["100.64.0.1", "100.127.255.255"], allowed: ["100.63.255.255", "100.128.0.0"] },
  "127.0.0.0/8": { refused: ["127.0.0.1", "127.255.255.254"], allowed: ["126.255.255.255", "128.0.0.0"] },
  "169.254.0.0/16": { refused: ["169.254.169.254", "169.254.0.1"], allowed: ["169.253.255.255", "169.255.0.0"] },
  "172.16.0.0/12": { refused: ["172.16.0.1", "172.31.255.255"], allowed: ["172.15.255.255", "172.32.0.0"] },
  "192.0.0.0/29": { refused: ["192.0.0.1", "192.0.0.7"], allowed: [] },
  "192.0.0.8/32": { refused: ["192.0.0.8"], allowed: [] },
  "192.0.0.9/32": { refused: ["192.0.0.9"], allowed: [] },
  "192.0.0.10/32": { refused: ["192.0.0.10"], allowed: [] },
  "192.0.0.170/32": { refused: ["192.0.0.170"], allowed: [] },
  "192.0.0.171/32": { refused: ["192.0.0.171"], allowed: [] },
  "192.0.0.0/24": { refused: ["192.0.0.11", "192.0.0.255"], allowed: ["191.255.255.255", "192.0.1.0"] },
  "192.0.2.0/24": { refused: ["192.0.2.1", "192.0.2.255"], allowed: ["192.0.1.255", "192.0.3.0"] },
  "192.31.196.0/24": { refused: [], allowed: ["192.31.196.1"] },
  "192.52.193.0/24": { refused: [], allowed: ["192.52.193.1"] },
  "192.88.99.2/32": { refused: ["192.88.99.2"], allowed: [] },
  "192.88.99.0/24": { refused: ["192.88.99.1", "192.88.99.255"], allowed: ["192.88.98.255", "192.88.100.0"] },
  "192.168.0.0/16": { refused: ["192.168.1.1", "192.168.255.255"], allowed: ["192.167.255.255", "192.169.0.0"] },
  "192.175.48.0/24": { refused: [], allowed: ["192.175.48.6"] },
  "198.18.0.0/15": { refused: ["198.18.0.1", "198.19.255.255"], allowed: ["198.17.255.255", "198.20.0.0"] },
  "198.51.100.0/24": { refused: ["198.51.100.7"], allowed: ["198.51.99.255", "198.51.101.0"] },
  "203.0.113.0/24": { refused: ["203.0.113.9"], allowed: ["203.0.112.255", "203.0.114.0"] },
  "224.0.0.0/4": { refused: ["224.0.0.1", "239.255.255.250"], allowed: ["223.255.255.255"] },
  "255.255.255.255/32": { refused: ["255.255.255.255"], allowed: [] },
  "240.0.0.0/4": { refused: ["240.0.0.1", "255.255.255.254"], allowed: [] },
  "0.0.0.0/0": { refused: [], allowed: ["8.8.8.8", "1.1.1.1", "93.184.216.34", "223.255.255.255"] },

  "::/128": { refused: ["::", "0:0:0:0:0:0:0:0"], allowed: [] },
  "::1/128": { refused: ["::1", "[::1]", "0:0:0:0:0:0:0:1"], allowed: [] },
  "::ffff:0:0/96": { refused: ["::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.1.2.3", "::ffff:169.254.169.254"], allowed: ["::ffff:8.8.8.8", "::ffff:808:808"] },
  "::ffff:0:0:0/96": { refused: ["::ffff:0:7f00:1", "::ffff:0:127.0.0.1"], allowed: ["::ffff:0:808:808"] },
  "::/96": { refused: ["::127.0.0.1", "::8.8.8.8", "::2"], allowed: [] },
  "64:ff9b::/96": { refused: ["64:ff9b::a00:1", "64:ff9b::127.0.0.1", "64:ff9b::169.254.169.254"], allowed: ["64:ff9b::808:808", "64:ff9b::8.8.4.4"] },
  "64:ff9b:1::/48": { refused: ["64:ff9b:1::808:808", "64:ff9b:1:ffff::1"], allowed: [] },
  "100::/64": { refused: ["100::1", "100::ffff:ffff:ffff:ffff"], allowed: [] },
  "100:0:0:1::/64": { refused: ["100:0:0:1::1"], allowed: [] },
  "2001::/32": { refused: ["2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2"], allowed: [] },
  "2001:1::1/128": { refused: ["2001:1::1"], allowed: [] },
  "2001:1::2/128": { refused: ["2001:1::2"], allowed: [] },
  "2001:1::3/128": { refused: ["2001:1::3"], allowed: [] },
  "2001:2::/48": { refused: ["2001:2::1"], allowed: [] },
  "2001:3::/32": { refused: ["2001:3::1"], allowed: [] },
  "2001:4:112::/48": { refused: ["2001:4:112::1"], allowed: [] },
  "2001:10::/28": { refused: ["2001:10::1"], allowed: [] },
  "2001:20::/28": { refused: ["2001:20::1"], allowed: [] },
  "2001:30::/28": { refused: ["2001:30::1"], allowed: [] },
  "2001::/23": { refused: ["2001:1::4", "2001:1ff:ffff::1"], allowed: ["2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:200::1"] },
  "2001:db8::/32": { refused: ["2001:db8::", "2001:db8:85a3::8a2e:370:7334"], allowed: ["2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::1"] },
  "2002::/16": { refused: ["2002:7f00:1::", "2002:c0a8:101::1", "2002:a9fe:a9fe::1"], allowed: ["2002:808:808::1", "2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2003::1"] },
  "2620:4f:8000::/48": { refused: [], allowed: ["2620:4f:8000::42"] },
  "3fff::/20": { refused: ["3fff::1", "3fff:fff:ffff::1"], allowed: ["3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "3fff:1000::1"] },
  "5f00::/16": { refused: ["5f00::1"], allowed: [] },
  "fc00::/7": { refused: ["fc00::1", "fd12:3456:789a::1"], allowed: [] },
  "fe80::/10": { refused: ["fe80::1", "fe80::1%eth0", "febf::1"], allowed: [] },
  "fec0::/10": { refused: ["fec0::1", "[fec0::1]", "feff:ffff::1"], allowed: [] },
  "ff00::/8": { refused: ["ff02::1", "ff00::", "ff0e::1"], allowed: [] },
  "2000::/3": { refused: [], allowed: ["2606:4700:4700::1111", "2001:4860:4860::8888", "[2606:4700:4700::1111]", "2a00:1450:4001:80b::200e"] },
  "::/0": { refused: ["4000::1", "1000::1", "e000::1", "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "4000::"], allowed: [] },
};

/** The first and last address of a row, written out (8 groups for IPv6). */
function ends(cidr: string): [string, string] {
  const [base, bitsText] = cidr.split("/");
  const v4 = !base!.includes(":");
  const width = v4 ? 32 : 128;
  const bits = Number(bitsText);
  let value = 0n;
  if (v4) for (const part of base!.split(".")) value = (value << 8n) | BigInt(part);
  else {
    const [head, tail = ""] = base!.split("::");
    const groups = (t: string) => (t ? t.split(":").map((g) => BigInt(parseInt(g, 16))) : []);
    const h = groups(head!);
    const t = groups(tail);
    for (const g of [...h, ...new Array(8 - h.length - t.length).fill(0n), ...t]) value = (value << 16n) | g;
  }
  const last = value | ((1n << BigInt(width - bits)) - 1n);
  const write = (n: bigint) =>
    v4 ? [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join(".") : [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => ((n >> s) & 0xffffn).toString(16)).join(":");
  return [write(value), write(last)];
}

describe("ADDRESS_RANGES: IANA's special-purpose registries, one row each", () => {
  it("has examples for every row, and no examples for rows it does not have", () => {
    expect(Object.keys(ROW_EXAMPLES).sort()).toEqual(ADDRESS_RANGES.map((r) => r.cidr).sort());
  });

  it("allows nothing the registry marks not globally reachable, and says why it refuses what it marks reachable", () => {
    for (const row of ADDRESS_RANGES) {
      if (row.globallyReachable === false) expect({ cidr: row.cidr, rule: row.rule }).not.toEqual({ cidr: row.cidr, rule: "allow" });
      if (row.globallyReachable === false && row.rule === "ipv4") expect(row.note).toBeDefined();
      if (row.globallyReachable === true && row.rule !== "allow") expect(row.note).toBeDefined();
      if (row.rule === "ipv4") expect(row.ipv4At).toBeDefined();
    }
  });

  describe.each(ADDRESS_RANGES.map((row) => [row.cidr, row] as const))("%s", (cidr, row) => {
    const { refused, allowed } = ROW_EXAMPLES[cidr] ?? { refused: [], allowed: [] };

    if (row.rule !== "allow")
      it(`refuses its first and last address (${row.name}, ${row.rfc})`, () => {
        for (const address of ends(cidr)) expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: false });
      });

    if (refused.length > 0)
      it(`refuses ${refused.join(", ")} by this row`, () => {
        for (const address of refused) {
          expect({ address, row: addressRow(address)?.cidr }).toEqual({ address, row: cidr });
          expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: false });
          expect(nonPublicReason(address)).toStartWith(`${cidr} ${row.name}, ${row.rfc}`);
        }
      });

    if (allowed.length > 0)
      it(`allows ${allowed.join(", ")}`, () => {
        for (const address of allowed) expect({ address, reason: nonPublicReason(address) }).toEqual({ address, reason: null });
      });
  });

  it("names the row that refuses an address, and for an IPv6 form the row that refuses the IPv4 address inside", () => {
    expect(nonPublicReason("fec0::1")).toBe("fec0::/10 Site-Local (deprecated), RFC 3879");
    expect(nonPublicReason("3fff::1")).toBe("3fff::/20 Documentation, RFC 9637");
    expect(nonPublicReason("::ffff:127.0.0.1")).toBe("::ffff:0:0/96 IPv4-mapped Address, RFC 4291 of 127.0.0.1: 127.0.0.0/8 Loopback, RFC 1122 §3.2.1.3");
    expect(nonPublicReason("64:ff9b::a9fe:a9fe")).toBe(
      "64:ff9b::/96 IPv4-IPv6 Translat. (NAT64), RFC 6052 of 169.254.169.254: 169.254.0.0/16 Link Local (cloud metadata at 169.254.169.254), RFC 3927",
    );
    expect(nonPublicReason("example.com")).toBe("not an IP address");
    expect(nonPublicReason("8.8.8.8")).toBeNull();
  });
});
