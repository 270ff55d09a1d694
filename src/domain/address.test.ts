/** @module Unit tests of the SSRF address rules: only public unicast IPv4/IPv6 may be reached. */
import { describe, expect, it } from "bun:test";
import { cidrContains, isIpLiteral, isPublicAddress, parseCidr } from "./address.ts";

describe("isPublicAddress, IPv4", () => {
  it.each(["8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1", "11.0.0.1", "223.255.255.255"])(
    "accepts the public address %s",
    (address) => {
      expect(isPublicAddress(address)).toBe(true);
    },
  );

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
  it.each(["2606:4700:4700::1111", "2001:4860:4860::8888", "[2606:4700:4700::1111]", "2a00:1450:4001:80b::200e"])(
    "accepts the public address %s",
    (address) => {
      expect(isPublicAddress(address)).toBe(true);
    },
  );

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

  it.each(["10.20.0.0", "10.20.0.0/33", "10.20.1.0/16", "fd00::/129", "::ffff:10.0.0.0/104", "localhost/8", "10.20.0.0/-1", "010.20.0.0/16x"])(
    "refuses %p as a range",
    (text) => {
      expect(parseCidr(text)).toBeNull();
    },
  );
});
