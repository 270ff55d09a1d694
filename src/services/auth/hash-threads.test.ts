import { describe, expect, it } from "bun:test";
import { closeSync, fdatasync, mkdtempSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { HashThreads } from "./hash-threads.ts";

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

describe("HashThreads", () => {
  it("verifies Argon2 hashes on threads of their own, off Bun's shared work pool", async () => {
    const hash = await Bun.password.hash("right");
    const threads = new HashThreads(2);
    try {
      expect(await Promise.all([threads.verify("right", hash), threads.verify("wrong", hash), threads.verify("right", hash)])).toEqual([true, false, true]);
      // While both threads hash, Bun's shared pool is free: an fdatasync on it (a pool job) is not
      // held behind them, as it is behind Bun.password.verify's.
      const fd = openSync(join(mkdtempSync(join(tmpdir(), "hash-threads-")), "f"), "w");
      const oneVerification = await timed(() => threads.verify("wrong", hash));
      const hashing = Array.from({ length: 4 }, () => threads.verify("wrong", hash));
      await Bun.sleep(5);
      const besideThreads = await timed(() => promisify(fdatasync)(fd));
      await Promise.all(hashing);
      const onPool = Array.from({ length: 2 * navigator.hardwareConcurrency }, () => Bun.password.verify("wrong", hash));
      await Bun.sleep(5);
      const besidePool = await timed(() => promisify(fdatasync)(fd));
      await Promise.all(onPool);
      closeSync(fd);
      expect(besideThreads).toBeLessThan(oneVerification / 2);
      expect(besidePool).toBeGreaterThan(oneVerification / 2);
      // A hash that is not one is an error, as with Bun.password.verify.
      await expect(threads.verify("right", "not-a-hash")).rejects.toThrow();
      expect(await threads.verify("right", hash)).toBe(true);
    } finally {
      threads.close();
    }
    await expect(threads.verify("right", hash)).rejects.toThrow("hash threads are closed");
  }, 30_000);

  it("rejects a verification still running when closed", async () => {
    const hash = await Bun.password.hash("right");
    const threads = new HashThreads(1);
    const running = threads.verify("right", hash);
    threads.close();
    await expect(running).rejects.toThrow("hash threads closed before the verification finished");
  });

  it("refuses fewer than one thread", () => {
    expect(() => new HashThreads(0)).toThrow(RangeError);
  });
});
