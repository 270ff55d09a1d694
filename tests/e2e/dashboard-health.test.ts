// The dashboard shows endpoint health in a real browser: a webhook paused by its circuit breaker
// (with its next probe and its held backlog) and one hookrelay disabled after a 410 (with the
// reason), from a child `hookrelay all`, a real receiver, and Debian's Chromium (playwright-core).
// Its own instance: the breaker is on here, and dashboard.test.ts counts every failure it sees.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { ARTIFACTS, headlessChromium, requireChromium } from "../helpers/browser.ts";
import { ADMIN_PASSWORD, adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { type ChildInstance, childInstance } from "../helpers/process.ts";
import { type Receiver, startReceiver } from "../helpers/receiver.ts";

const TRIP_AFTER = 5;

let hookrelay: ChildInstance;
let receiver: Receiver;
let browser: BrowserContext;
let page: Page;
let api: ReturnType<typeof client>;
let pausedWebhook: string;
let goneWebhook: string;

beforeAll(async () => {
  requireChromium();
  receiver = startReceiver();
  receiver.onPath("/down", () => new Response("unavailable", { status: 503 }));
  receiver.onPath("/gone", () => new Response("gone", { status: 410 }));
  hookrelay = childInstance({
    HOOKRELAY_ENDPOINT_HEALTH_BREAKER_CONSECUTIVE_FAILURES: String(TRIP_AFTER),
    HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "100ms",
    HOOKRELAY_RETRY_MANAGER_MAX_RETRIES: "50",
  });
  await hookrelay.start();
  api = client(hookrelay.gateway, await adminToken(hookrelay.gateway));
  pausedWebhook = (await api("POST", "/api/v1/webhooks", { url: receiver.url("/down"), event_types: ["dash.down"] })).body.id;
  goneWebhook = (await api("POST", "/api/v1/webhooks", { url: receiver.url("/gone"), event_types: ["dash.gone"] })).body.id;
  await Bun.sleep(300);
  const events = [...Array.from({ length: 20 }, (_, i) => ({ id: `evt_down_${i}`, type: "dash.down", source: "shop", data: { i } })), { id: "evt_gone", type: "dash.gone", source: "shop", data: {} }];
  expect((await api("POST", "/api/v1/events/batch", { events })).status).toBe(202);
  const stateOf = async (id: string) => (await api("GET", `/api/v1/webhooks/${id}/health`)).body.state;
  await waitFor("one webhook paused and one disabled", async () => (await stateOf(pausedWebhook)) === "paused" && (await stateOf(goneWebhook)) === "disabled", 30_000, 100);

  browser = await headlessChromium({ width: 1400, height: 900 });
  page = browser.pages()[0] ?? (await browser.newPage());
});

afterAll(async () => {
  await browser?.close();
  hookrelay?.proc?.kill(9);
  receiver?.stop();
});

describe("dashboard: endpoint health (headless Chromium)", () => {
  it("shows a paused webhook with its next probe and its held backlog, and one hookrelay disabled with the reason", async () => {
    await page.goto(`http://127.0.0.1:${hookrelay.env.HOOKRELAY_SERVER_OBSERVABILITY_PORT}/`);
    await page.fill("#password", ADMIN_PASSWORD);
    await page.click("#login button[type=submit]");
    const paused = page.locator(`tr[data-webhook="${pausedWebhook}"]`);
    await paused.locator('[data-field="health"]').filter({ hasText: "paused" }).waitFor({ timeout: 10_000 });
    expect(await paused.locator('[data-field="next_probe_at"]').textContent()).toContain("next probe");
    // Its backlog: every event held, none delivered, none dropped (the counts move as probes come).
    const shown = ["pending", "failed", "succeeded", "dead"].map(async (status) => Number(await paused.locator(`[data-field="${status}"]`).textContent()));
    const [pending, failed, succeeded, dead] = await Promise.all(shown);
    expect({ held: pending! + failed!, succeeded, dead }).toEqual({ held: 20, succeeded: 0, dead: 0 });
    const gone = page.locator(`tr[data-webhook="${goneWebhook}"]`);
    expect(await gone.locator('[data-field="health"]').textContent()).toBe("disabled");
    expect(await gone.locator('[data-field="disabled_reason"]').textContent()).toContain("410 Gone");
    await page.locator("#webhooks").screenshot({ path: join(ARTIFACTS, "dashboard-endpoint-health.png") });
  });
});
