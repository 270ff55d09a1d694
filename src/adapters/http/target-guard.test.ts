/**
 * @module The SSRF guard: named private ranges pass, every other non-public address stays
 * refused; names are vetted by every address a real DNS server (a local one) gives, kept for the
 * answer's TTL.
 */
import { afterAll, describe, expect, it } from "bun:test";
import { parseCidr } from "../../domain/address.ts";
import { publicTargetResolver } from "./target-guard.ts";

const ranges = (...texts: string[]) => texts.map((t) => parseCidr(t)!);

describe("publicTargetResolver with allowed ranges", () => {
  it("lets an address inside an allowed range through, and names it as the one to connect to", async () => {
    const resolve = publicTargetResolver(ranges("10.20.0.0/16", "fd00:1::/32"));
    expect(await resolve(new URL("http://10.20.3.4:8080/hook"))).toEqual({ refused: null, address: "10.20.3.4" });
    expect(await resolve(new URL("http://[fd00:1::7]/hook"))).toEqual({ refused: null, address: "fd00:1::7" });
  });

  it("still refuses every non-public address outside the ranges", async () => {
    const resolve = publicTargetResolver(ranges("10.20.0.0/16"));
    for (const url of ["http://10.21.0.1/", "http://127.0.0.1/", "http://169.254.169.254/latest", "http://[::1]/", "http://[fd00:2::1]/", "http://2130706433/"])
      expect((await resolve(new URL(url))).refused).toMatch(/is not public \(.+, RFC .+\)$/);
  });

  it("refuses URLs whose literal address is in a range IANA's registries mark not globally reachable, naming the range", async () => {
    const resolve = publicTargetResolver();
    const refusals: Record<string, string> = {
      "http://[fec0::1]/": "address fec0::1 is not public (fec0::/10 Site-Local (deprecated), RFC 3879)",
      "http://[3fff::1]/hook": "address 3fff::1 is not public (3fff::/20 Documentation, RFC 9637)",
      "http://[5f00::1]/": "address 5f00::1 is not public (5f00::/16 Segment Routing (SRv6) SIDs, RFC 9602)",
      "http://[64:ff9b:1::808:808]/": "address 64:ff9b:1::808:808 is not public (64:ff9b:1::/48 IPv4-IPv6 Translat. (local use), RFC 8215)",
      "http://[2001:2::1]/": "address 2001:2::1 is not public (2001:2::/48 Benchmarking, RFC 5180)",
      "http://[4000::1]/": "address 4000::1 is not public (::/0 Reserved by IETF (outside Global Unicast 2000::/3), RFC 4291 §2.4)",
    };
    for (const [url, refused] of Object.entries(refusals)) expect({ url, refused: (await resolve(new URL(url))).refused }).toEqual({ url, refused });
    // Their global neighbours pass.
    for (const host of ["[3fff:1000::1]", "[2001:200::1]", "192.31.196.1"]) expect((await resolve(new URL(`http://${host}/`))).refused).toBeNull();
  });

  it("vets every address a name resolves to against the ranges", async () => {
    // localhost resolves to loopback (127.0.0.1, and ::1 where the resolver gives it).
    expect((await publicTargetResolver()(new URL("http://localhost:9/"))).refused).toMatch(/^localhost resolves to .*, which is not public \((127\.0\.0\.0\/8|::1\/128) Loopback.*\)$/);
    const both = await publicTargetResolver(ranges("127.0.0.0/8", "::1/128"))(new URL("http://localhost:9/"));
    expect(both.refused).toBeNull();
    expect(["127.0.0.1", "::1"]).toContain(both.address!);
  });

  it("refuses without ranges what it refused before (the default)", async () => {
    expect((await publicTargetResolver()(new URL("http://10.20.3.4/"))).refused).toBe("address 10.20.3.4 is not public (10.0.0.0/8 Private-Use, RFC 1918)");
    expect(await publicTargetResolver()(new URL("http://8.8.8.8/"))).toEqual({ refused: null, address: "8.8.8.8" });
  });
});

/** A DNS server on loopback answering A queries from `zone` (name → [address, ttl seconds]); counts queries. */
async function dnsServer(zone: Record<string, [string, number]>) {
  let queries = 0;
  const socket = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(sock, query, port, address) {
        queries++;
        // Header (12 bytes), then the question: labels up to a 0 byte, QTYPE, QCLASS.
        let at = 12;
        const labels: string[] = [];
        while (query[at]! !== 0) {
          labels.push(query.subarray(at + 1, at + 1 + query[at]!).toString("latin1"));
          at += query[at]! + 1;
        }
        const questionEnd = at + 5;
        const qtype = query.readUInt16BE(at + 1);
        const record = zone[labels.join(".")];
        const answer = record && qtype === 1;
        const header = Buffer.from(query.subarray(0, 12));
        header.writeUInt16BE(0x8180 | (record ? 0 : 3), 2); // a response, recursion available; NXDOMAIN when unknown
        header.writeUInt16BE(answer ? 1 : 0, 6);
        header.writeUInt16BE(0, 8);
        header.writeUInt16BE(0, 10);
        const parts = [header, query.subarray(12, questionEnd)];
        if (answer) {
          const rr = Buffer.alloc(16);
          rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
          rr.writeUInt16BE(1, 2); // A
          rr.writeUInt16BE(1, 4); // IN
          rr.writeUInt32BE(record[1], 6);
          rr.writeUInt16BE(4, 10);
          for (const [i, octet] of record[0].split(".").entries()) rr.writeUInt8(Number(octet), 12 + i);
          parts.push(rr);
        }
        sock.send(Buffer.concat(parts), port, address);
      },
    },
  });
  return { server: `127.0.0.1:${socket.port}`, queries: () => queries, stop: () => socket.close() };
}

describe("publicTargetResolver against a DNS server", async () => {
  const dns = await dnsServer({ "hooks.example.test": ["93.184.216.34", 2], "zero.example.test": ["93.184.216.35", 0], "inside.example.test": ["10.1.2.3", 60] });
  afterAll(() => dns.stop());

  it("vets the address DNS gives and keeps the verdict for the answer's TTL", async () => {
    const resolve = publicTargetResolver([], [dns.server]);
    const before = dns.queries();
    expect(await resolve(new URL("http://hooks.example.test/x"))).toEqual({ refused: null, address: "93.184.216.34" });
    const asked = dns.queries() - before; // A and AAAA
    expect(asked).toBeGreaterThan(0);
    await resolve(new URL("http://hooks.example.test/y"));
    expect(dns.queries() - before).toBe(asked); // cached
    await Bun.sleep(2100); // the TTL runs out: asked again (the resolver may keep its own answer for the empty AAAA)
    await resolve(new URL("http://hooks.example.test/z"));
    expect(dns.queries() - before).toBeGreaterThan(asked);
  });

  it("keeps a 0-second TTL for a second, not for nothing", async () => {
    const resolve = publicTargetResolver([], [dns.server]);
    const before = dns.queries();
    await resolve(new URL("http://zero.example.test/"));
    const asked = dns.queries() - before;
    await resolve(new URL("http://zero.example.test/"));
    expect(dns.queries() - before).toBe(asked);
  });

  it("refuses a name whose DNS answer is private, and a name DNS does not know", async () => {
    const resolve = publicTargetResolver([], [dns.server]);
    expect((await resolve(new URL("http://inside.example.test/"))).refused).toBe("inside.example.test resolves to 10.1.2.3, which is not public (10.0.0.0/8 Private-Use, RFC 1918)");
    expect((await resolve(new URL("http://nowhere.example.test/"))).refused).toMatch(/^nowhere\.example\.test did not resolve: /);
  });
});
