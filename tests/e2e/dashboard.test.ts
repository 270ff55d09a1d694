// The observability dashboard in a real browser: a child `hookrelay all`, a real receiver with a
// succeeding and a failing endpoint, and Debian's Chromium driven by playwright-core. What the page
// shows must be what the API says.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { ARTIFACTS, headlessChromium, requireChromium } from "../helpers/browser.ts";
import { ADMIN_PASSWORD, adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { type ChildInstance, childInstance } from "../helpers/process.ts";
import { type Receiver, startReceiver } from "../helpers/receiver.ts";

/** Functions passed to page.waitForFunction and evaluate run in the page, where `document` is. */
declare const document: any;

const EVENTS = 6;

let hookrelay: ChildInstance;
let receiver: Receiver;
let browser: BrowserContext;
let page: Page;
let observability: string;
let token: string;
let okWebhook: string;
let failingWebhook: string;

const gatewayApi = () => client(hookrelay.gateway, token);
const observabilityApi = () => client(observability, token);

/** The number a dashboard tile holds (its raw value, not the formatted text). */
async function tile(path: string): Promise<{ value: string; text: string }> {
  const node = page.locator(`[data-stat="${path}"]`);
  return { value: (await node.getAttribute("data-value")) ?? "", text: (await node.locator(".value").textContent()) ?? "" };
}

async function countOf(webhookId: string, status: string): Promise<number> {
  const page = await gatewayApi()("GET", `/api/v1/deliveries?webhook_id=${webhookId}&status=${status}&limit=1000`);
  return page.body.data.length;
}

beforeAll(async () => {
  requireChromium();
  receiver = startReceiver();
  receiver.onPath("/fails", () => new Response("boom", { status: 500 }));
  hookrelay = childInstance({
    HOOKRELAY_RETRY_MANAGER_MAX_RETRIES: "1",
    HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "100ms",
    HOOKRELAY_OBSERVABILITY_SCRAPE_INTERVAL: "250ms",
  });
  await hookrelay.start();
  observability = `http://127.0.0.1:${hookrelay.env.HOOKRELAY_SERVER_OBSERVABILITY_PORT}`;
  token = await adminToken(hookrelay.gateway);
  okWebhook = (await gatewayApi()("POST", "/api/v1/webhooks", { url: receiver.url("/ok"), event_types: ["*"] })).body.id;
  failingWebhook = (await gatewayApi()("POST", "/api/v1/webhooks", { url: receiver.url("/fails"), event_types: ["*"] })).body.id;
  const events = Array.from({ length: EVENTS }, (_, i) => ({ id: `evt_dash_${i}`, type: "order.created", source: "shop", data: { i } }));
  expect((await client(hookrelay.ingest, token)("POST", "/events/batch", { events })).status).toBe(202);
  // The catalog: one typed event type, one without a schema.
  await gatewayApi()("POST", "/api/v1/event-types", {
    name: "order.created",
    description: "an order was placed",
    schema: { type: "object", properties: { i: { type: "integer" } } },
    examples: [{ i: 1 }, { i: 2 }],
  });
  await gatewayApi()("POST", "/api/v1/event-types", { name: "order.note" });
  await waitFor("every delivery finished", async () => (await countOf(okWebhook, "succeeded")) === EVENTS && (await countOf(failingWebhook, "dead")) === EVENTS, 30_000, 100);

  // A fresh profile each run.
  browser = await headlessChromium({ width: 1400, height: 1100 });
  page = browser.pages()[0] ?? (await browser.newPage());
  // Nothing on the page may come from anywhere but hookrelay.
  page.on("request", (request) => {
    if (!request.url().startsWith(observability)) throw new Error(`the dashboard requested ${request.url()}`);
  });
});

afterAll(async () => {
  await browser?.close();
  hookrelay?.proc?.kill(9);
  receiver?.stop();
});

describe("observability dashboard (headless Chromium)", () => {
  it("refuses a wrong password on the sign-in form, then signs in with the admin's", async () => {
    const violations: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
    });
    page.on("pageerror", (err) => violations.push(err.message));
    const answer = await page.goto(`${observability}/`);
    // Only its own inline script and style may run: the policy names them by hash.
    expect(answer!.headers()["content-security-policy"]).toMatch(/^default-src 'none'; script-src 'sha256-[^']+'; style-src 'sha256-[^']+'/);
    await page.fill("#password", "not-the-password");
    await page.click("#login button[type=submit]");
    await page.waitForFunction(() => document.getElementById("login-error")!.textContent!.length > 0);
    expect(await page.textContent("#login-error")).toContain("invalid username or password");
    expect(await page.isVisible("#app")).toBe(false);

    await page.fill("#password", ADMIN_PASSWORD);
    await page.click("#login button[type=submit]");
    await page.waitForSelector('[data-stat="deliveries.succeeded"]');
    expect(await page.isVisible("#login")).toBe(false);
    expect(violations).toEqual([]);
  });

  it("shows the same delivery numbers as /api/stats and the gateway's deliveries", async () => {
    await page.waitForFunction((n) => document.querySelector('[data-stat="deliveries.dead"]')?.getAttribute("data-value") === String(n), EVENTS);
    const stats = (await observabilityApi()("GET", "/api/stats")).body;
    expect(stats.deliveries).toEqual({ pending: 0, succeeded: EVENTS, failed: 0, dead: EVENTS });
    for (const path of ["deliveries.succeeded", "deliveries.dead", "deliveries.failed", "deliveries.pending", "retry_queue_depth", "success_ratio"]) {
      const expected = path.split(".").reduce((o, k) => o[k], stats);
      expect({ path, value: (await tile(path)).value }).toEqual({ path, value: String(expected) });
    }
    expect((await tile("success_ratio")).text).toBe("50.0%");
    expect((await tile("deliveries.succeeded")).text).toBe(String(EVENTS));
    // Totals since start, summed from the metrics: 6 successes, 12 failed attempts (each dead one was tried twice).
    expect(stats.totals).toMatchObject({ delivered: EVENTS, failed: 2 * EVENTS, dead: EVENTS, retries: EVENTS, ingested: EVENTS });
  });

  it("charts the live rates: the delivery chart fills as samples arrive", async () => {
    await page.waitForFunction(() => Number(document.getElementById("chart-rate")!.getAttribute("data-points")) >= 3, undefined, { timeout: 15_000 });
    const stats = (await observabilityApi()("GET", "/api/stats")).body;
    expect(stats.series.length).toBeGreaterThanOrEqual(3);
    // Over the history kept, the six successes are there, and the latency quantiles are known.
    expect(stats.latency_seconds.p50).toBeGreaterThan(0);
    expect(stats.latency_seconds.p99).toBeGreaterThanOrEqual(stats.latency_seconds.p50);
    expect(await page.locator("#chart-rate path").count()).toBe(2);
    // A time axis: the clock times of the first, middle and last samples, in order.
    const times = await page.locator('#chart-rate text[data-axis="time"]').allTextContents();
    expect(times).toHaveLength(3);
    for (const t of times) expect(t).toMatch(/^\d{2}:\d{2}:\d{2}/);
    expect([...times].sort()).toEqual(times);
  });

  it("lists each webhook's health with the counts the gateway reports", async () => {
    await page.waitForSelector(`tr[data-webhook="${failingWebhook}"]`);
    for (const [id, health, rate] of [
      [okWebhook, "healthy", "100.0%"],
      [failingWebhook, "degraded", "0.0%"],
    ] as const) {
      const row = page.locator(`tr[data-webhook="${id}"]`);
      expect(await row.locator('[data-field="health"]').textContent()).toBe(health);
      expect(await row.locator('[data-field="success_rate"]').textContent()).toBe(rate);
      for (const status of ["succeeded", "dead", "failed", "pending"])
        expect({ id, status, shown: await row.locator(`[data-field="${status}"]`).textContent() }).toEqual({ id, status, shown: String(await countOf(id, status)) });
    }
    expect(await page.locator(`tr[data-webhook="${failingWebhook}"] [data-field="last_error"]`).textContent()).toContain("HTTP 500");
  });

  it("lists the recent failures with their attempts; Retry replays a dead delivery", async () => {
    const dead = (await gatewayApi()("GET", `/api/v1/deliveries?webhook_id=${failingWebhook}&status=dead`)).body.data as { id: string; event_id: string }[];
    await page.waitForSelector(`#failures tr[data-delivery="${dead[0]!.id}"]`);
    const shown = await page.locator("#failures > tbody > tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-delivery")));
    expect(new Set(shown)).toEqual(new Set(dead.map((d) => d.id)));
    const row = page.locator(`#failures tr[data-delivery="${dead[0]!.id}"]`);
    // The endpoint by its URL, the id beside it.
    expect(await row.locator('[data-field="webhook"] code').textContent()).toBe(receiver.url("/fails"));
    expect(await row.locator('[data-field="webhook"]').textContent()).toContain(failingWebhook);
    await row.locator("summary").click();
    expect(await row.locator("tr[data-attempt]").count()).toBe(2);
    expect(await row.locator("tr[data-attempt]").first().textContent()).toContain("HTTP 500");

    const before = receiver.received.filter((r) => r.path === "/fails").length;
    await row.locator("button[data-retry]").click();
    await page.waitForFunction((id) => document.querySelector(`button[data-retry="${id}"]`)?.textContent?.startsWith("Retried"), dead[0]!.id);
    // The replay runs a fresh round: two more tries, then dead again.
    await waitFor(
      "the replayed delivery dead again",
      async () => {
        const attempts = (await gatewayApi()("GET", `/api/v1/deliveries/${dead[0]!.id}/attempts`)).body.data;
        const delivery = (await gatewayApi()("GET", `/api/v1/deliveries/${dead[0]!.id}`)).body;
        return attempts.length === 4 && delivery.status === "dead";
      },
      15_000,
      100,
    );
    expect(receiver.received.filter((r) => r.path === "/fails").length).toBe(before + 2);
  });

  it("searching an event id shows its whole timeline: accepted, attempts, retries, dead, replay", async () => {
    const dead = (await gatewayApi()("GET", `/api/v1/deliveries?webhook_id=${failingWebhook}&status=dead`)).body.data as { id: string; event_id: string; attempt_count: number }[];
    const replayed = dead.find((d) => d.attempt_count === 4)!;
    await page.fill("#search-id", replayed.event_id);
    await page.click("#search button[type=submit]");
    await page.waitForSelector("#timeline li[data-kind]");
    const kinds = await page.locator(`#timeline li[data-delivery="${replayed.id}"]`).evaluateAll((items) => items.map((i) => i.getAttribute("data-kind")));
    expect(kinds).toEqual(["attempt", "retry_scheduled", "attempt", "dead", "replayed", "attempt", "retry_scheduled", "attempt", "dead"]);
    expect(await page.locator('#timeline li[data-kind="accepted"]').count()).toBe(1);
    // The succeeding webhook's delivery of the same event: one attempt, delivered.
    const allKinds = await page.locator("#timeline li").evaluateAll((items) => items.map((i) => i.getAttribute("data-kind")));
    expect(allKinds.filter((k) => k === "attempt")).toHaveLength(5);
    expect(allKinds.filter((k) => k === "succeeded")).toHaveLength(1);
    expect(allKinds[0]).toBe("accepted");
    // The same as the API's attempts for that event.
    const timeline = (await observabilityApi()("GET", `/api/events/${replayed.event_id}/timeline`)).body;
    expect(timeline.deliveries.map((d: { attempts: unknown[] }) => d.attempts.length).sort()).toEqual([1, 4]);

    await page.fill("#search-id", "evt_nobody_sent");
    await page.click("#search button[type=submit]");
    await page.waitForSelector('[data-error="timeline"]');
    expect(await page.textContent('[data-error="timeline"]')).toContain("not found");

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.fill("#search-id", replayed.event_id);
    await page.click("#search button[type=submit]");
    await page.waitForSelector("#timeline li[data-kind]");
    await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
    expect(existsSync(join(ARTIFACTS, "dashboard.png"))).toBe(true);
  });

  it("lists the event type catalog of every customer, as the gateway has it", async () => {
    await page.waitForSelector('tr[data-event-type="default order.created"]');
    const typed = page.locator('tr[data-event-type="default order.created"]');
    expect(await typed.locator('[data-field="description"]').textContent()).toBe("an order was placed");
    expect(await typed.locator('[data-field="schema"] summary').textContent()).toBe("typed");
    expect(await typed.locator('[data-field="examples"]').textContent()).toBe("2");
    expect(await page.locator('tr[data-event-type="default order.note"] [data-field="schema"]').textContent()).toBe("any data");
    const shown = await page.locator("#event-types > tbody > tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-event-type")));
    const catalog = (await gatewayApi()("GET", "/api/v1/event-types")).body.data.map((t: { name: string }) => `default ${t.name}`);
    expect(shown).toEqual(catalog);
  });

  it("recovers a webhook's dead deliveries from its row: Recover, since, pace, then the job's progress to the end", async () => {
    receiver.onPath("/fails", () => new Response("fixed"));
    await page.click(`button[data-recover="${failingWebhook}"]`);
    expect(await page.locator("#recover-webhook").textContent()).toBe(failingWebhook);
    await page.fill("#recover-since", "2026-01-01T00:00");
    await page.selectOption("#recover-status", "dead");
    await page.fill("#recover-rate", "50");
    await page.click('#recover button[type="submit"]');
    await page.waitForSelector('[data-job][data-state="finished"]', { timeout: 20_000 });
    expect(await page.locator('[data-job] [data-field="progress"]').textContent()).toBe(`${EVENTS} matched · ${EVENTS} sent · ${EVENTS} succeeded · 0 failed`);
    const jobId = await page.locator("[data-job]").getAttribute("data-job");
    expect((await observabilityApi()("GET", `/api/customers/default/jobs/${jobId}`)).body).toMatchObject({ state: "finished", sent: EVENTS, succeeded: EVENTS });
    expect(await countOf(failingWebhook, "succeeded")).toBe(EVENTS);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-recovery.png"), fullPage: true });
  });

  it("answers its API only to the operator", async () => {
    for (const path of ["/api/stats", "/api/webhooks", "/api/event-types", "/api/failures", "/api/events/evt_dash_0/timeline", "/api/customers/default/jobs/job_x"])
      expect({ path, status: (await client(observability)("GET", path)).status }).toEqual({ path, status: 401 });
    expect((await client(observability)("POST", "/api/deliveries/x/retry")).status).toBe(401);
    expect((await observabilityApi()("POST", "/api/deliveries/dlv_unknown/retry")).status).toBe(404);
    expect((await observabilityApi()("GET", "/api/failures?limit=0")).status).toBe(422);
  });
});

describe("API reference pages (headless Chromium)", () => {
  it("render every operation of each role's /openapi.json with Scalar, offline, within the CSP, without sideways scroll", async () => {
    for (const [role, base] of [
      ["gateway", hookrelay.gateway],
      ["ingest", hookrelay.ingest],
      ["observability", observability],
    ] as const) {
      const spec = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, Record<string, { summary: string }>> };
      const summaries = Object.values(spec.paths).flatMap((item) => Object.values(item).map((op) => op.summary));
      expect(summaries.length).toBeGreaterThan(role === "gateway" ? 20 : 5);
      const docs = await browser.newPage();
      await docs.setViewportSize({ width: 1400, height: 900 });
      const elsewhere: string[] = [];
      const errors: string[] = [];
      docs.on("request", (request) => {
        if (!request.url().startsWith(base)) elsewhere.push(request.url());
      });
      docs.on("pageerror", (err) => errors.push(err.message));
      docs.on("console", (message) => {
        if (/Content Security Policy|Refused to/i.test(message.text())) errors.push(message.text());
      });
      await docs.goto(`${base}/docs`, { waitUntil: "networkidle" });
      await docs.waitForFunction((summary) => document.body.textContent.includes(summary), summaries.at(-1)!);
      const text: string = await docs.evaluate(() => document.body.textContent);
      expect({ role, missing: summaries.filter((s) => !text.includes(s)) }).toEqual({ role, missing: [] });
      expect({ role, elsewhere, errors }).toEqual({ role, elsewhere: [], errors: [] });
      // At 1400 px nothing scrolls sideways.
      const size = await docs.evaluate(() => ({ scroll: document.documentElement.scrollWidth, view: document.documentElement.clientWidth }));
      expect(size.scroll).toBeLessThanOrEqual(size.view);
      await docs.screenshot({ path: join(ARTIFACTS, role === "gateway" ? "docs.png" : `docs-${role}.png`) });
      await docs.close();
    }
  });
});
