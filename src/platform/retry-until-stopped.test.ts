// retryUntilStopped(): a must-happen write is retried until it succeeds, and given up only on shutdown.
import { describe, expect, it } from "bun:test";
import { createLogger } from "./logger.ts";
import { retryUntilStopped } from "./retry-until-stopped.ts";

const log = createLogger("silent");

describe("retryUntilStopped", () => {
  it("retries a failing write until it succeeds and returns its result", async () => {
    let calls = 0;
    const result = await retryUntilStopped(
      async () => {
        if (++calls < 3) throw new Error("busy");
        return "written";
      },
      () => false,
      log,
      "test write",
    );
    expect(result).toBe("written");
    expect(calls).toBe(3);
  });

  it("gives up with the last error once stopped", async () => {
    let calls = 0;
    let stopped = false;
    const err = await retryUntilStopped(
      async () => {
        calls++;
        stopped = calls >= 2;
        throw new Error(`failure ${calls}`);
      },
      () => stopped,
      log,
      "test write",
    ).catch((e) => e);
    expect((err as Error).message).toBe("failure 2");
  });
});
