/**
 * Debian's Chromium, headless, driven by playwright-core: never a downloaded browser, no network, a
 * fresh profile folder each time. Shared by the browser tests and scripts/dashboard-screenshot.ts.
 */
import { existsSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env['DROPTUNE_CHROMIUM'] ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Starts Chromium with `profile` as its user-data-dir, or throws saying what is missing. */
export async function launchChromium(
  profile: string,
  opts: { viewport?: { width: number; height: number }; executable?: string } = {},
): Promise<BrowserContext> {
  const executable = opts.executable ?? CHROMIUM;
  if (!existsSync(executable)) {
    throw new Error(
      `droptune's browser tests need Chromium at ${executable}: install the apt package chromium (.ci/run does), or set DROPTUNE_CHROMIUM`,
    );
  }
  try {
    return await chromium.launchPersistentContext(profile, {
      executablePath: executable,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: opts.viewport ?? { width: 1280, height: 900 },
      timeout: 30_000,
    });
  } catch (err) {
    throw new Error(`Chromium at ${executable} could not start: ${(err as Error).message.split('\n')[0]}`);
  }
}
