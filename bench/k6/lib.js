// @ts-check
/** @module Shared pieces of the k6 scenarios: env-configured URLs, login, webhooks, unique events, thresholds. */

import { check, fail, sleep } from "k6";
import exec from "k6/execution";
import http from "k6/http";

/** @param {string} name @param {number} fallback */
export function num(name, fallback) {
  const raw = __ENV[name];
  const value = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isFinite(value)) fail(`${name}=${raw} is not a number`);
  return value;
}

/** @param {string} name @param {string} fallback */
export function str(name, fallback) {
  const raw = __ENV[name];
  return raw === undefined || raw === "" ? fallback : raw;
}

/** Where hookrelay answers: the gateway (auth, webhooks) and ingest (events). */
export const GATEWAY = str("HOOKRELAY_GATEWAY_URL", "http://127.0.0.1:8080");
export const INGEST = str("HOOKRELAY_INGEST_URL", "http://127.0.0.1:8082");
/** Where delivered webhooks go: a receiver you run that answers 2xx (for example `bun bench/sink.ts`). */
export const SINK = str("SINK_URL", "http://127.0.0.1:9000");
export const EVENT_TYPE = str("EVENT_TYPE", "bench");

/**
 * Logs in as admin (K6_ADMIN_PASSWORD, K6_ADMIN_USER defaults to admin) and returns the bearer token.
 * @returns {string}
 */
export function login() {
  const password = __ENV.K6_ADMIN_PASSWORD;
  if (!password) fail("set K6_ADMIN_PASSWORD to the deployment's HOOKRELAY_ADMIN_PASSWORD");
  const res = http.post(`${GATEWAY}/auth/login`, JSON.stringify({ username: str("K6_ADMIN_USER", "admin"), password }), {
    headers: { "content-type": "application/json" },
    tags: { kind: "setup" },
  });
  if (res.status !== 200) fail(`login at ${GATEWAY}/auth/login answered ${res.status}: ${res.body}`);
  return /** @type {string} */ (res.json("access_token"));
}

/** @param {string} token */
export function authHeaders(token) {
  return { authorization: `Bearer ${token}`, "content-type": "application/json" };
}

/**
 * Registers a webhook for EVENT_TYPE at `url` and returns its id.
 * @param {string} token @param {string} url @param {string[]} [types]
 * @returns {string}
 */
export function createWebhook(token, url, types = [EVENT_TYPE]) {
  let res = http.post(`${GATEWAY}/api/v1/webhooks`, JSON.stringify({ url, event_types: types }), { headers: authHeaders(token), tags: { kind: "setup" } });
  // The management API is rate limited per customer: wait as told and try again.
  for (let tries = 0; res.status === 429 && tries < 30; tries++) {
    sleep(Number(res.headers["Retry-After"] || 1));
    res = http.post(`${GATEWAY}/api/v1/webhooks`, JSON.stringify({ url, event_types: types }), { headers: authHeaders(token), tags: { kind: "setup" } });
  }
  if (res.status !== 201) fail(`creating a webhook for ${url} answered ${res.status}: ${res.body}`);
  return /** @type {string} */ (res.json("id"));
}

/** A prefix unique to this test run, so ids of two runs against one database never collide. */
export function runPrefix() {
  return `k6_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/**
 * An event id unique within the whole test (across VUs and scenarios).
 * @param {string} run
 */
export function eventId(run) {
  return `${run}_${exec.scenario.name}_${exec.scenario.iterationInTest}`;
}

/**
 * POSTs one event with a unique id and the send time in its data (receivers compute
 * ingest→delivery latency from `sent_at_ms`), and checks it was accepted.
 * @param {string} token @param {string} run @param {Record<string, unknown>} [data] @param {string} [type]
 */
export function sendEvent(token, run, data = {}, type = EVENT_TYPE) {
  const id = eventId(run);
  const body = JSON.stringify({ id, type, source: "k6", data: { ...data, sent_at_ms: Date.now() } });
  const res = http.post(`${INGEST}/events`, body, { headers: authHeaders(token), tags: { kind: "ingest" } });
  check(res, { "event accepted (202)": (r) => r.status === 202 });
  return res;
}

/**
 * A `constant-arrival-rate` scenario: RATE iterations per second for DURATION, VUs pre-allocated
 * for the rate at the expected latency (PRE_VUS, MAX_VUS override).
 * @param {number} rate @param {string} duration
 * @returns {import("k6/options").Scenario}
 */
export function constantRate(rate, duration) {
  return {
    executor: "constant-arrival-rate",
    rate,
    timeUnit: "1s",
    duration,
    preAllocatedVUs: num("PRE_VUS", Math.max(10, Math.ceil(rate / 50))),
    maxVUs: num("MAX_VUS", Math.max(50, Math.ceil(rate / 5))),
  };
}

/**
 * Thresholds every scenario shares: ingest p99 under `p99Ms`, failures under `failRate`, no
 * iteration dropped (k6 had no VU free at the due time, so the offered rate was not kept).
 * @param {number} p99Ms @param {number} [failRate]
 * @returns {Record<string, import("k6/options").Threshold[]>}
 */
export function thresholds(p99Ms, failRate = 0.001) {
  return {
    "http_req_duration{kind:ingest}": [`p(99)<${p99Ms}`],
    "http_req_failed{kind:ingest}": [`rate<${failRate}`],
    dropped_iterations: [{ threshold: "count<1", abortOnFail: false }],
    checks: [`rate>${1 - failRate}`],
  };
}
