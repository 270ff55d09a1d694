/** @module The SSRF guard's allow-list: named private ranges pass, every other non-public address stays refused. */
import { describe, expect, it } from "bun:test";
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
      expect((await resolve(new URL(url))).refused).toMatch(/is not public$/);
  });

  it("vets every address a name resolves to against the ranges", async () => {
    // localhost resolves to loopback (127.0.0.1, and ::1 where the resolver gives it).
    expect((await publicTargetResolver()(new URL("http://localhost:9/"))).refused).toMatch(/^localhost resolves to .*, which is not public$/);
    const both = await publicTargetResolver(ranges("127.0.0.0/8", "::1/128"))(new URL("http://localhost:9/"));
    expect(both.refused).toBeNull();
    expect(["127.0.0.1", "::1"]).toContain(both.address!);
  });

  it("refuses without ranges what it refused before (the default)", async () => {
    expect((await publicTargetResolver()(new URL("http://10.20.3.4/"))).refused).toBe("address 10.20.3.4 is not public");
    expect(await publicTargetResolver()(new URL("http://8.8.8.8/"))).toEqual({ refused: null, address: "8.8.8.8" });
  });
});
