// The shared HTTP error shape: a 503 that says when to come back carries Retry-After.
import { describe, expect, it } from "bun:test";
import { UnavailableError } from "../domain/errors.ts";
import { createHttpApp, readJson } from "./http.ts";
import { createLogger } from "./logger.ts";
import { createMetrics } from "./metrics.ts";

describe("createHttpApp errors", () => {
  const app = createHttpApp({ role: "test", log: createLogger("silent"), metrics: createMetrics(), checks: {} })
    .get("/full", () => {
      throw new UnavailableError("at capacity", 1);
    })
    .get("/down", () => {
      throw new UnavailableError("database unavailable");
    });

  it("answers 503 with Retry-After when the error gives one, and without it otherwise", async () => {
    const full = await app.handle(new Request("http://localhost/full"));
    expect(full.status).toBe(503);
    expect(full.headers.get("retry-after")).toBe("1");
    expect(await full.json()).toEqual({ error: { code: "unavailable", message: "at capacity" } });
    const down = await app.handle(new Request("http://localhost/down"));
    expect(down.status).toBe(503);
    expect(down.headers.get("retry-after")).toBeNull();
  });
});

describe("createHttpApp load shedding", () => {
  let shedding: string | null = "at capacity";
  const app = createHttpApp({ role: "test", log: createLogger("silent"), metrics: createMetrics(), checks: {}, shed: () => shedding }).post(
    "/events",
    async ({ request }) => ({ ok: (await readJson(request, 1024)) !== undefined }),
    { parse: "none" },
  );

  it("answers 503 + Retry-After before the body is parsed, without closing, and serves again once there is room", async () => {
    const refused = await app.handle(new Request("http://localhost/events", { method: "POST", body: "not json at all" }));
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(refused.headers.get("connection")).toBeNull();
    expect(await refused.json()).toEqual({ error: { code: "unavailable", message: "at capacity" } });
    shedding = null;
    expect((await app.handle(new Request("http://localhost/events", { method: "POST", body: "not json at all" }))).status).toBe(400);
    expect((await app.handle(new Request("http://localhost/events", { method: "POST", body: "{}" }))).status).toBe(200);
  });
});
