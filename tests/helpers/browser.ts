/** @module Debian's Chromium, headless, driven by playwright-core: what the browser tests open pages in. */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
import { tempDir } from "./hookrelay.ts";

const CHROMIUM = process.env.HOOKRELAY_TEST_CHROMIUM ?? "/usr/bin/chromium";
/** Where the browser tests leave their screenshots. */
export const ARTIFACTS = join(import.meta.dir, "..", "..", ".test-report");

/** Throws, saying how to get one, when there is no Chromium to run (call it before starting anything else). */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: bun run test installs Debian's chromium (or set HOOKRELAY_TEST_CHROMIUM)`);
}

/** A headless Chromium with a fresh profile and this viewport; the caller closes it. */
export function headlessChromium(viewport: { width: number; height: number }): Promise<BrowserContext> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launchPersistentContext(tempDir("hookrelay-chromium-"), {
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport,
  });
}
