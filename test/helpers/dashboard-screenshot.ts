/**
 * The README's dashboard screenshot, made by the browser-test tooling on a real run, by hand:
 *
 *   node --import tsx test/helpers/dashboard-screenshot.ts [--out docs/dashboard.png]
 *
 * Starts a short real MNIST run with `npm run agent -- ... --dashboard`, waits until it has trained
 * a few epochs (one episode finished, the next under way), opens its page in Debian's Chromium while
 * it trains, saves the screenshot, and stops the run. The run folder is a temporary one, removed after.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchChromium } from './browser.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** What the README says was run. */
export const RUN_ARGS = [
  '--dataset',
  'mnist',
  '--train-size',
  '1000',
  '--val-size',
  '500',
  '--test-size',
  '1000',
  '--model',
  'mlp:256,128',
  '--agent',
  'thompson',
  '--episodes',
  '4',
  '--epochs',
  '5',
  '--seed',
  '0',
];
/** Taken once this many epochs are logged: the first episode done, the second under way. */
const EPOCHS_BEFORE_SHOT = 8;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the dashboard's JSON, read field by field in this script
const getJson = (url: string): Promise<any> =>
  new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`${res.statusCode}: ${body}`)),
      );
    })
      .on('error', reject)
      .end();
  });

async function main(): Promise<void> {
  const outIndex = process.argv.indexOf('--out');
  const out = outIndex > 0 ? process.argv[outIndex + 1]! : join(ROOT, 'docs', 'dashboard.png');
  const work = mkdtempSync(join(tmpdir(), 'droptune-shot-'));
  const runDir = join(work, 'mnist-thompson-live');
  const agent = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/agent.ts', ...RUN_ARGS, '--out', runDir, '--dashboard'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let stdout = '';
  agent.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    process.stdout.write(d);
  });
  const browser = await launchChromium(join(work, 'profile'), { viewport: { width: 1400, height: 1000 } });
  try {
    let base: string | undefined;
    for (;;) {
      if (agent.exitCode !== null) throw new Error('the run ended before the screenshot');
      base ??= /dashboard: (http:\/\/\S+\/)#/.exec(stdout)?.[1];
      if (base !== undefined) {
        const run = await getJson(`${base}api/run?id=.`).catch(() => undefined);
        if (run !== undefined && run.row.epochs >= EPOCHS_BEFORE_SHOT) break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const page = await browser.newPage();
    await page.goto(`${base}#/run/.`);
    await page.waitForSelector('figure[data-plot="schedules"][data-rendered="true"]');
    await page.waitForSelector('#live:not(.off)');
    // one more epoch drawn live, so the picture shows the page following the run
    const drawn = Number(await page.evaluate('document.body.dataset.updates'));
    await page.waitForFunction(`Number(document.body.dataset.updates) > ${drawn}`, undefined, { timeout: 60_000 });
    await page.screenshot({ path: out, fullPage: true });
    console.log(`\nsaved ${out} (${Math.round(statSync(out).size / 1024)} KB)`);
  } finally {
    await browser.close();
    agent.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 500));
    agent.kill('SIGINT');
    agent.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
