// The customer portal in a real browser, driven as a customer would: a child `hookrelay all`, a
// real receiver (failing, then answering), and Debian's Chromium driven by playwright-core. The
// customer opens a link minted by the operator, adds an endpoint, tests it, sees its deliveries
// die, reads their attempts, retries one, recovers the rest, edits, disables, rotates the secret,
// deletes; another customer's ids are refused; the page works by keyboard, at phone width, inside
// an allowed iframe (and not inside another), and ends when its link expires. Nothing it loads
// comes from anywhere but the gateway, and its policy refuses nothing it does.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { ARTIFACTS, headlessChromium, requireChromium } from "../helpers/browser.ts";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { type ChildInstance, fileScope } from "../helpers/process.ts";
import type { Receiver } from "../helpers/receiver.ts";

/** Functions passed to page.waitForFunction and evaluate run in the page, where these are. */
declare const document: any;
declare const sessionStorage: any;

const scope = fileScope();
const run = Math.random().toString(36).slice(2, 8);
const [A, B] = [`acme-${run}`, `globex-${run}`];

let hookrelay: ChildInstance;
let receiver: Receiver;
let browser: BrowserContext;
let page: Page;
let admin: ReturnType<typeof client>;
/** A's key: sends A's events and reads what the page should show. */
let asA: ReturnType<typeof client>;
let link: string;
let failing = true;
const theirs = { webhook: "", event: `evt_globex_${run}` };
const violations: string[] = [];
const foreign: string[] = [];

const rows = (table: string) => page.locator(`#${table} tbody tr`);
const deliveryRow = (eventId: string) => page.locator(`#deliveries tr[data-event="${eventId}"]`);

beforeAll(async () => {
  requireChromium();
  receiver = scope.receiver();
  receiver.onPath("/hook", () => (failing ? new Response("down for maintenance", { status: 500 }) : new Response("ok")));
  const framer = new URL(receiver.url("/")).origin;
  hookrelay = scope.child({
    HOOKRELAY_RETRY_MANAGER_MAX_RETRIES: "1",
    HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "100ms",
    HOOKRELAY_PORTAL_FRAME_ANCESTORS: framer,
    HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "error",
  });
  await hookrelay.start();
  admin = client(hookrelay.gateway, await adminToken(hookrelay.gateway));
  for (const id of [A, B]) expect((await admin("POST", "/api/v1/customers", { id, name: id })).status).toBe(201);
  const keyOf = async (customer: string) =>
    (await admin("POST", `/api/v1/customers/${customer}/api-keys`, { name: "backend", scopes: ["events:write", "webhooks:read", "webhooks:write", "webhooks:secrets", "deliveries:read"] })).body.key;
  asA = client(hookrelay.gateway, await keyOf(A));
  const asB = client(hookrelay.gateway, await keyOf(B));
  theirs.webhook = (await asB("POST", "/api/v1/webhooks", { url: receiver.url("/globex"), event_types: ["*"] })).body.id;
  expect((await asB("POST", "/api/v1/events", { id: theirs.event, type: "order.created", source: "globex", data: {} })).status).toBe(202);
  // A's catalog: the form suggests its names.
  await asA("POST", "/api/v1/event-types", { name: "order.created", description: "an order was placed", examples: [{ order_id: 1 }] });
  const minted = await admin("POST", `/api/v1/customers/${A}/portal`, { expires_in: 900 });
  expect(minted.status).toBe(200);
  link = minted.body.url;

  browser = await headlessChromium({ width: 1280, height: 900 });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.on("dialog", (dialog) => dialog.accept());
  const watch = (p: Page) => {
    p.on("request", (request) => {
      const url = request.url();
      if (![hookrelay.gateway, framer, framer.replace("127.0.0.1", "localhost"), "data:"].some((origin) => url.startsWith(origin))) foreign.push(url);
    });
    p.on("console", (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
    });
    p.on("pageerror", (err) => violations.push(err.message));
  };
  watch(page);
  browser.on("page", watch);
}, 60_000);

afterAll(() => browser?.close());

describe("customer portal (headless Chromium)", () => {
  it("opens from the link, takes the token out of the address bar, and shows the customer's (empty) endpoints", async () => {
    await page.goto(link);
    await page.getByRole("heading", { name: "Endpoints" }).waitFor();
    expect(page.url()).toBe(`${hookrelay.gateway}/portal`);
    expect(await page.textContent("#who")).toBe(`Account ${A}`);
    expect(await page.isVisible("#no-webhooks")).toBe(true);
  });

  it("is used by keyboard: Tab reaches 'Add endpoint', Enter opens the form with focus on its heading; every field has a label", async () => {
    for (let i = 0; i < 10 && (await page.evaluate(() => document.activeElement?.id)) !== "add"; i++) await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("add");
    await page.keyboard.press("Enter");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("editor-title");
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll("input, select")].filter((f: any) => f.labels.length === 0 && !f.getAttribute("aria-label")).map((f: any) => f.id || f.outerHTML),
    );
    expect(unlabelled).toEqual([]);
  });

  it("adds an endpoint, shows its secret once, and sends a test event whose answer it shows", async () => {
    await page.getByLabel("Endpoint URL").fill(receiver.url("/hook"));
    await page.getByLabel("Event types").fill("order.created, invoice.*");
    await page.getByLabel("Description (optional)").fill("orders to the shop");
    await page.getByRole("button", { name: "Save" }).click();
    await page.locator("#detail-title").waitFor();
    const made = (await asA("GET", "/api/v1/webhooks")).body.data;
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({ url: receiver.url("/hook"), event_types: ["order.created", "invoice.*"], description: "orders to the shop", status: "active" });
    expect(await page.textContent("#detail-title")).toBe(receiver.url("/hook"));
    expect(await page.textContent("#secret-value")).toBe((await asA("GET", `/api/v1/webhooks/${made[0].id}/secret`)).body.secret);

    expect(await page.inputValue("#test-type")).toBe("order.created");
    await page.getByRole("button", { name: "Send test" }).click();
    await page.waitForFunction(() => document.getElementById("test-result").textContent.includes("HTTP"));
    expect(await page.textContent("#test-result")).toContain("HTTP 500");
    expect(await page.textContent("#test-result")).toContain("down for maintenance");
    expect(receiver.received.filter((r) => r.path === "/hook" && r.headers["webhook-signature"])).toHaveLength(1);
    await page.screenshot({ path: join(ARTIFACTS, "portal-webhook.png"), fullPage: true });
  });

  it("lists the endpoint's deliveries as they die, with each attempt's answer", async () => {
    const hook = (await asA("GET", "/api/v1/webhooks")).body.data[0].id;
    const events = [`evt_acme_1_${run}`, `evt_acme_2_${run}`];
    for (const id of events) expect((await asA("POST", "/api/v1/events", { id, type: "order.created", source: "shop", data: { id } })).status).toBe(202);
    await waitFor("both deliveries dead", async () => (await asA("GET", `/api/v1/deliveries?webhook_id=${hook}&status=dead`)).body.data.length === 2, 20_000, 100);
    await page.getByRole("button", { name: "Refresh" }).click();
    for (const id of events) await deliveryRow(id).locator(".badge.dead").waitFor();
    expect(await rows("deliveries").count()).toBe(2);

    await page.getByRole("button", { name: `Attempts of ${events[0]}` }).click();
    await page.locator("#attempts tbody tr").nth(1).waitFor();
    const attempts = await page.locator("#attempts tbody tr").allTextContents();
    expect(attempts).toHaveLength(2); // the first try and its one retry
    for (const a of attempts) expect(a).toContain("HTTP 500");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("attempts-title");
  });

  it("retries one delivery, and recovers the rest with a job whose progress it shows", async () => {
    failing = false;
    const [first, second] = [`evt_acme_1_${run}`, `evt_acme_2_${run}`];
    await page.getByRole("button", { name: `Retry ${first}` }).click();
    await waitFor(
      "the retried delivery shown succeeded",
      async () => {
        await page.getByRole("button", { name: "Refresh" }).click();
        return (await deliveryRow(first).locator(".badge.succeeded").count()) === 1;
      },
      15_000,
      300,
    );
    expect(await deliveryRow(second).locator(".badge.dead").count()).toBe(1);

    await page.getByLabel("Which deliveries").selectOption("dead");
    await page.getByLabel("Per second").fill("20");
    await page.getByRole("button", { name: "Start recovery" }).click();
    await page.locator('#job [data-state="finished"]').waitFor({ timeout: 15_000 });
    expect(await page.textContent("#job")).toContain("sent 1 of 1 · succeeded 1 · failed 0");
    await deliveryRow(second).locator(".badge.succeeded").waitFor({ timeout: 5_000 });
    const hook = (await asA("GET", "/api/v1/webhooks")).body.data[0].id;
    expect((await asA("GET", `/api/v1/deliveries?webhook_id=${hook}&status=succeeded`)).body.data).toHaveLength(2);
    await page.screenshot({ path: join(ARTIFACTS, "portal-deliveries.png"), fullPage: true });
  });

  it("edits the endpoint, disables and enables it, and rotates its secret", async () => {
    const hook = (await asA("GET", "/api/v1/webhooks")).body.data[0];
    await page.getByRole("button", { name: "Edit" }).click();
    await page.getByLabel("Description (optional)").fill("orders, edited");
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForFunction(() => document.getElementById("facts").textContent.includes("orders, edited"));
    expect((await asA("GET", `/api/v1/webhooks/${hook.id}`)).body.description).toBe("orders, edited");

    await page.getByRole("button", { name: "Disable" }).click();
    await page.locator("#facts .badge.disabled").waitFor();
    expect((await asA("GET", `/api/v1/webhooks/${hook.id}`)).body.status).toBe("disabled");
    await page.getByRole("button", { name: "Enable" }).click();
    await page.locator("#facts .badge.active").waitFor();
    expect((await asA("GET", `/api/v1/webhooks/${hook.id}`)).body.status).toBe("active");

    const before = (await asA("GET", `/api/v1/webhooks/${hook.id}/secret`)).body.secret;
    await page.getByRole("button", { name: "Rotate secret" }).click();
    await page.waitForFunction((old) => {
      const shown = document.getElementById("secret-value").textContent;
      return shown.startsWith("whsec_") && shown !== old;
    }, before);
    const after = (await asA("GET", `/api/v1/webhooks/${hook.id}/secret`)).body.secret;
    expect(after).not.toBe(before);
    expect(await page.textContent("#secret-value")).toBe(after);
    expect(await page.textContent("#secret-note")).toContain("The old one also signs until");
    await page.getByRole("button", { name: "Reveal secret" }).click();
    expect(await page.textContent("#secret-value")).toBe(after);
  });

  it("finds the customer's own events by id, and refuses another customer's", async () => {
    await page.getByRole("button", { name: "← All endpoints" }).click();
    await page.getByLabel("Find an event by its id").fill(`evt_acme_1_${run}`);
    await page.getByRole("button", { name: "Find", exact: true }).click();
    await page.waitForFunction(() => document.getElementById("found").textContent.includes("Accepted"));
    expect(await page.textContent("#found")).toContain("succeeded");

    await page.getByLabel("Find an event by its id").fill(theirs.event);
    await page.getByRole("button", { name: "Find", exact: true }).click();
    await page.waitForFunction(() => document.getElementById("found").textContent.includes("No event"));
    expect(await page.textContent("#found")).toBe(`No event '${theirs.event}' in your account.`);
    await page.screenshot({ path: join(ARTIFACTS, "portal-list.png"), fullPage: true });
    // The page's own token, used as the page uses it: another customer's webhook, and the operator's routes.
    const answers = await page.evaluate(
      async ([webhook]) => {
        const headers = { authorization: `Bearer ${sessionStorage.getItem("hookrelay.portal")}` };
        const statusOf = async (path: string) => (await fetch(path, { headers })).status;
        return [
          await statusOf(`/api/v1/webhooks/${webhook}`),
          await statusOf(`/api/v1/webhooks/${webhook}/deliveries`),
          await statusOf("/api/v1/customers"),
          await statusOf("/api/v1/operational-webhooks"),
        ];
      },
      [theirs.webhook],
    );
    expect(answers).toEqual([404, 404, 403, 403]);
  });

  it("fits a phone's width", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("button", { name: receiver.url("/hook") }).click();
    await page.locator("#detail-title").waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(ARTIFACTS, "portal-phone.png"), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it("offers a read-only link nothing that changes: no add, edit, disable, delete, secret, test, retry or recovery", async () => {
    const readOnly = await admin("POST", `/api/v1/customers/${A}/portal`, { read_only: true, expires_in: 60 });
    const other = await browser.newPage();
    await other.goto(readOnly.body.url);
    await other.getByRole("button", { name: receiver.url("/hook") }).click();
    await other.locator("#deliveries tbody tr").first().waitFor();
    for (const name of ["Add endpoint", "Edit", "Disable", "Delete", "Reveal secret", "Rotate secret", "Send test", "Start recovery"])
      expect({ name, shown: await other.getByRole("button", { name, exact: true }).isVisible() }).toEqual({ name, shown: false });
    expect(await other.getByRole("button", { name: /^Retry / }).count()).toBe(0);
    expect(await other.getByRole("button", { name: /^Attempts of / }).count()).toBe(2);
    await other.close();
  });

  it("deletes the endpoint", async () => {
    await page.getByRole("button", { name: "Delete" }).click();
    await page.locator("#no-webhooks").waitFor();
    expect((await asA("GET", "/api/v1/webhooks")).body.data).toEqual([]);
  });

  it("shows inside an iframe of an allowed origin, and not inside another's", async () => {
    receiver.onPath(
      "/embed",
      () => new Response(`<!doctype html><title>host</title><iframe title="Webhooks" src="${link}" width="900" height="600"></iframe>`, { headers: { "content-type": "text/html" } }),
    );
    const host = await browser.newPage();
    host.on("dialog", (dialog) => dialog.accept());
    await host.goto(receiver.url("/embed"));
    const allowed = host.frames().find((f) => f.url().startsWith(`${hookrelay.gateway}/portal`))!;
    await allowed.getByRole("heading", { name: "Endpoints" }).waitFor();
    // The same page under another origin (localhost is not 127.0.0.1): frame-ancestors refuses it.
    await host.goto(receiver.url("/embed").replace("127.0.0.1", "localhost"));
    await waitFor("Chromium to report the refused frame", () => violations.some((v) => v.includes("frame-ancestors")), 5_000, 50);
    const refused = host.frames().filter((f) => f !== host.mainFrame());
    expect(refused).toHaveLength(1);
    expect(await refused[0]!.locator("#list-title").count()).toBe(0);
    await host.close();
  });

  it("ends when its link expires", async () => {
    const short = await admin("POST", `/api/v1/customers/${A}/portal`, { expires_in: 2 });
    const other = await browser.newPage();
    await other.goto(short.body.url);
    await other.getByRole("heading", { name: "Endpoints" }).waitFor();
    await other.getByRole("heading", { name: "This link has expired" }).waitFor({ timeout: 5_000 });
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(short.body.expires_at));
    expect(await other.isVisible("#app")).toBe(false);
    await other.close();
  });

  it("loaded nothing from elsewhere, and its policy refused nothing", () => {
    expect(foreign).toEqual([]);
    // The refused frame's report is the one expected violation.
    expect(violations.filter((v) => !v.includes("frame-ancestors"))).toEqual([]);
  });
});
