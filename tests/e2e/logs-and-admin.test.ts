// Logs carry ids but never secrets; the admin password is generated once and printed once.
import { describe, expect, it } from "bun:test";
import { Writable } from "node:stream";
import { createLogger } from "../../src/platform/logger.ts";
import { adminToken, client, startInProcess, tempDir, waitFor } from "../helpers/hookrelay.ts";
import { startReceiver } from "../helpers/receiver.ts";

describe("logs", () => {
  it("name role, event and webhook ids, and never contain passwords, tokens or signing secrets", async () => {
    const hr = await startInProcess({ HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "debug", HOOKRELAY_RETRY_MANAGER_MAX_RETRIES: "0" });
    const receiver = startReceiver();
    receiver.onPath("/fail", () => new Response("no", { status: 500 }));
    try {
      const token = await adminToken(hr.gateway);
      const api = client(hr.gateway, token);
      const hook = await api("POST", "/api/v1/webhooks", { url: receiver.url("/fail"), event_types: ["log.test"], headers: { authorization: "Bearer customer-endpoint-token" } });
      await api("POST", "/api/v1/events", { id: "evt_log_1", type: "log.test", source: "t", data: {} });
      await waitFor("dead letter logged", () => hr.logs.some((l) => l.includes("delivery dead")));
      const dead = JSON.parse(hr.logs.find((l) => l.includes("delivery dead"))!);
      expect(dead).toMatchObject({ role: "all", eventId: "evt_log_1", webhookId: hook.body.id, attempt: 1, level: "warn" });
      const all = hr.logs.join("\n");
      for (const secret of ["test-admin-password", token, hook.body.secret, hook.body.secret.slice(6), "customer-endpoint-token"]) expect(all).not.toContain(secret);
    } finally {
      receiver.stop();
      await hr.stop();
    }
  });

  it("redacts authorization headers, secrets and passwords wherever they appear", () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _e, done) => (lines.push(chunk.toString()), done()) });
    const log = createLogger("info", sink);
    log.info({ headers: { authorization: "Bearer abc" }, secret: "whsec_x", webhook: { secret: "whsec_y" }, password: "pw", jwt_secret: "j" }, "x");
    log.flush();
    expect(lines.join("")).not.toMatch(/abc|whsec_|"pw"|"j"/);
    expect(lines.join("")).toContain("[redacted]");
  });

  it("redacts key material and API keys: secret_keys, jwt_previous_keys and a key or token at any top-level name", () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _e, done) => (lines.push(chunk.toString()), done()) });
    const log = createLogger("info", sink);
    log.info({ secret_keys: ["k1:AAAA-sealing-key"], security: { jwt_previous_keys: ["old-hs256-secret-xyz"], secret_keys: ["k2:BBBB"] } }, "config");
    log.info({ token: "hrk_live_api_key_value", access_token: "eyJ.jwt.value" }, "credentials");
    log.flush();
    const text = lines.join("");
    expect(text).not.toMatch(/AAAA-sealing-key|old-hs256-secret-xyz|k2:BBBB|hrk_live_api_key_value|eyJ\.jwt\.value/);
    expect(text.match(/\[redacted\]/g)!.length).toBeGreaterThanOrEqual(5);
  });
});

describe("admin account", () => {
  it("generates a password on first start, prints it once, and keeps it across restarts", async () => {
    const dataDir = tempDir();
    const first = await startInProcess({ HOOKRELAY_DATA_DIR: dataDir, HOOKRELAY_ADMIN_PASSWORD: "" });
    const notice = first.logs.find((l) => l.includes("generated password"));
    expect(notice).toBeDefined();
    const password = /generated password: (\S+)/.exec(notice!)![1]!;
    expect(password.length).toBeGreaterThanOrEqual(20);
    const login = (base: string) => client(base)("POST", "/auth/login", { username: "admin", password }).then((r) => r.status);
    expect(await login(first.gateway)).toBe(200);
    expect(first.logs.filter((l) => !l.includes("generated password")).join("\n")).not.toContain(password);
    await first.stop();

    const second = await startInProcess({ HOOKRELAY_DATA_DIR: dataDir, HOOKRELAY_ADMIN_PASSWORD: "" });
    try {
      expect(second.logs.some((l) => l.includes("generated password"))).toBe(false);
      expect(await login(second.gateway)).toBe(200);
    } finally {
      await second.stop();
    }
  });

  it("takes HOOKRELAY_ADMIN_PASSWORD over a stored one", async () => {
    const dataDir = tempDir();
    const first = await startInProcess({ HOOKRELAY_DATA_DIR: dataDir, HOOKRELAY_ADMIN_PASSWORD: "first-password-123" });
    await first.stop();
    const second = await startInProcess({ HOOKRELAY_DATA_DIR: dataDir, HOOKRELAY_ADMIN_PASSWORD: "second-password-456" });
    try {
      const anon = client(second.gateway);
      expect((await anon("POST", "/auth/login", { username: "admin", password: "first-password-123" })).status).toBe(401);
      expect((await anon("POST", "/auth/login", { username: "admin", password: "second-password-456" })).status).toBe(200);
    } finally {
      await second.stop();
    }
  });
});
