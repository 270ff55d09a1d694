// Password checks have a budget of their own, in both deployments (memory buckets embedded, Redis
// in production, shared by every process there): per client IP and per username, 429 with
// Retry-After on the gateway's and the observability role's /auth/login alike; and each process
// verifies at most login_max_concurrent passwords at once, with a bounded queue and 503 beyond it.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { ADMIN_PASSWORD, adminToken, client, type Instance, startInProcess } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

/** POST /auth/login as if from `ip` (the instance trusts X-Forwarded-For), timed. */
async function login(base: string, ip: string, username: string, password = "wrong-password") {
  const started = performance.now();
  const res = await fetch(`${base}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-forwarded-for": ip },
    body: JSON.stringify({ username, password }),
  });
  const body = (await res.json()) as any;
  return { status: res.status, body, retryAfter: res.headers.get("retry-after"), ms: performance.now() - started };
}

describe.each(MODES)("login limits (%s)", (mode) => {
  let hr: Instance;
  let env: Record<string, string>;
  const run = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    env = {
      ...(await modeEnv(mode)),
      HOOKRELAY_SECURITY_TRUST_FORWARDED_FOR: "true",
      HOOKRELAY_SECURITY_LOGIN_ATTEMPTS_PER_MINUTE_PER_IP: "3",
      HOOKRELAY_SECURITY_LOGIN_ATTEMPTS_PER_MINUTE_PER_ACCOUNT: "3",
    };
    hr = await startInProcess(env);
  });
  afterAll(() => hr.stop());

  it("gives a client IP a minute's worth of password checks over both login ports, then 429 with Retry-After, the right password included", async () => {
    const ip = "198.51.100.10";
    expect((await login(hr.gateway, ip, `a-${run}`)).status).toBe(401);
    expect((await login(hr.observability, ip, `b-${run}`)).status).toBe(401);
    expect((await login(hr.gateway, ip, `c-${run}`)).status).toBe(401);
    for (const base of [hr.gateway, hr.observability]) {
      const refused = await login(base, ip, "admin", ADMIN_PASSWORD);
      expect(refused.status).toBe(429);
      // One check every 20 s refills a bucket of 3 a minute (less the time since the third).
      const wait = Number(refused.retryAfter);
      expect(wait).toBeGreaterThanOrEqual(17);
      expect(wait).toBeLessThanOrEqual(20);
      expect(refused.body).toEqual({ error: { code: "rate_limited", message: `login limit of 3/min for client ${ip} reached; retry in ${wait} s` } });
      // Held for a second: a client looping on login gets one answer a second.
      expect(refused.ms).toBeGreaterThanOrEqual(900);
    }
    // Another client is not held back by this one.
    expect((await login(hr.gateway, "198.51.100.11", `d-${run}`)).status).toBe(401);
  });

  it("gives a username a minute's worth of password checks from any client, then 429; other names, tokens and keys keep working", async () => {
    const token = await adminToken(hr.gateway); // one of admin's three, from 127.0.0.1
    const user = `victim-${run}`;
    expect((await login(hr.gateway, "203.0.113.20", user)).status).toBe(401);
    expect((await login(hr.observability, "203.0.113.21", user)).status).toBe(401);
    expect((await login(hr.gateway, "203.0.113.22", user)).status).toBe(401);
    const refused = await login(hr.gateway, "203.0.113.23", user);
    expect(refused.status).toBe(429);
    const wait = Number(refused.retryAfter);
    expect(wait).toBeGreaterThanOrEqual(17);
    expect(wait).toBeLessThanOrEqual(20);
    expect(refused.body.error.message).toBe(`login limit of 3/min for account '${user}' reached; retry in ${wait} s`);
    // An unknown name is limited the same way (nothing tells which names exist); a known one too.
    expect((await login(hr.gateway, "203.0.113.24", "admin")).status).toBe(401);
    expect((await login(hr.gateway, "203.0.113.25", "admin")).status).toBe(401);
    expect((await login(hr.gateway, "203.0.113.26", "admin", ADMIN_PASSWORD)).status).toBe(429);
    expect((await login(hr.gateway, "203.0.113.27", `other-${run}`)).status).toBe(401);
    // A token issued before keeps working while the admin's login is refused.
    expect((await client(hr.gateway, token)("GET", "/api/v1/webhooks")).status).toBe(200);
  });

  if (mode === "production")
    it("shares the budgets between the processes of a deployment (Redis)", async () => {
      const second = await startInProcess(env);
      try {
        const ip = "192.0.2.30";
        for (const base of [hr.gateway, second.gateway, hr.observability]) expect((await login(base, ip, `shared-${run}-${base}`)).status).toBe(401);
        for (const base of [second.gateway, second.observability, hr.gateway]) expect((await login(base, ip, `shared-${run}-late`)).status).toBe(429);
      } finally {
        await second.stop();
      }
    });
});

describe.each(MODES)("password checks at once (%s)", (mode) => {
  let hr: Instance;

  beforeAll(async () => {
    hr = await startInProcess({
      ...(await modeEnv(mode)),
      HOOKRELAY_SECURITY_TRUST_FORWARDED_FOR: "true",
      HOOKRELAY_SECURITY_LOGIN_MAX_CONCURRENT: "1",
      HOOKRELAY_SECURITY_LOGIN_MAX_WAITING: "1",
    });
  });
  afterAll(() => hr.stop());

  it("verifies one password at a time, lets one wait, and answers the rest 503 with Retry-After instead of queueing them", async () => {
    // Twelve clients at once, each from its own IP (their login buckets are full), on both ports.
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => login(i % 2 ? hr.observability : hr.gateway, `10.77.0.${i + 1}`, `someone-${i}`)));
    const checked = answers.filter((a) => a.status === 401);
    const busy = answers.filter((a) => a.status === 503);
    expect(checked.length + busy.length).toBe(12);
    // One running and one waiting were checked; at least the others that came while both slots were
    // taken (an Argon2 verification lasts far longer than twelve requests take to arrive) were refused.
    expect(checked.length).toBeGreaterThanOrEqual(2);
    expect(busy.length).toBeGreaterThanOrEqual(6);
    for (const refused of busy) {
      expect(refused.body).toEqual({ error: { code: "unavailable", message: "too many password checks at once; retry in 1 s" } });
      expect(refused.retryAfter).toBe("1");
    }
    // Free again once they are answered: the admin logs in.
    expect((await login(hr.gateway, "10.77.1.1", "admin", ADMIN_PASSWORD)).status).toBe(200);
  });
});
