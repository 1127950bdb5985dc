/**
 * The dashboard in a real browser: Debian's Chromium (apt package chromium, /usr/bin/chromium) driven
 * headless by playwright-core, one browser for the file. A browser that cannot start fails the suite
 * with a message saying what to install; it is never skipped.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';

import { acquireRunLock } from '../../src/store/run-folder.js';
import { startDashboard, type Dashboard } from '../../src/serve/server.js';
import { launchChromium } from '../helpers/browser.js';
import { appendStep, runsFolder } from './helpers.js';

/** Data marks drawn in a chart (legend symbols left out): lines, and the points on them. */
const countMarks = (plot: string, mark: 'line' | 'symbol') =>
  `document.querySelectorAll('figure[data-plot="${plot}"] g.mark-${mark}.role-mark path').length`;
const marks = async (page: Page, plot: string) => ({
  lines: await page.evaluate<number>(countMarks(plot, 'line')),
  points: await page.evaluate<number>(countMarks(plot, 'symbol')),
});

describe('dashboard in Chromium', function () {
  this.timeout(60_000);
  let folder: ReturnType<typeof runsFolder>;
  let dashboard: Dashboard;
  let profile: string;
  let browser: BrowserContext;
  let page: Page;
  let releaseLock: () => void;

  before(async () => {
    folder = runsFolder();
    // the live run is held by this process, as a training process holds its run: status running
    releaseLock = acquireRunLock(folder.live, () => {});
    dashboard = await startDashboard({ root: folder.root, port: 0, pollMs: 500 });
    profile = mkdtempSync(join(tmpdir(), 'droptune-chromium-'));
    browser = await launchChromium(profile);
    page = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    await dashboard?.close();
    releaseLock?.();
    rmSync(profile, { recursive: true, force: true });
    rmSync(folder.root, { recursive: true, force: true });
  });

  it('lists the fixture runs, the malformed one as an error row', async () => {
    await page.goto(dashboard.url);
    await page.waitForSelector('#runs tbody tr');
    const rows = await page.$$eval('#runs tbody tr', (trs) =>
      trs.map((tr) => ({
        id: tr.getAttribute('data-id'),
        error: tr.classList.contains('error'),
        text: tr.textContent,
      })),
    );
    expect(rows.map((r) => r.id)).to.deep.equal([
      'corrupt',
      'exp/runs/s0/grid-r30',
      'live',
      'log-v1',
      'sweep/constant-s1',
      'sweep/constant-s2',
      'sweep/constant-s3',
      'sweep/thompson-s1',
      'sweep/thompson-s2',
      'truncated-steps',
    ]);
    expect(rows.filter((r) => r.error).map((r) => r.id)).to.deep.equal(['corrupt']);
    expect(rows[0]!.text).to.contain('corrupt/episodes.jsonl:2: not valid JSON');
    expect(rows.find((r) => r.id === 'live')!.text).to.contain('running');
    expect(rows.find((r) => r.id === 'sweep/thompson-s1')!.text).to.contain('0.8700');
    expect(await page.$$eval('#experiments tbody tr', (trs) => trs.length)).to.equal(1);
  });

  it("draws a run's charts with one series per episode and per layer", async () => {
    await page.goto(`${dashboard.url}#/run/${encodeURIComponent('sweep/constant-s1')}`);
    await page.waitForSelector('figure[data-plot="schedules"][data-rendered="true"]');
    const plots = await page.$$eval('figure[data-plot]', (fs) => fs.map((f) => f.getAttribute('data-plot')));
    expect(plots).to.deep.equal(['val-acc', 'val-loss', 'rates', 'training-curves', 'learning-curve', 'schedules']);
    // the best episode's train and validation curves, loss and accuracy side by side: 2 lines a panel
    await page.waitForSelector('figure[data-plot="training-curves"][data-rendered="true"]');
    expect((await marks(page, 'training-curves')).lines).to.equal(4);
    // 3 faint episodes + the best one bold, with its 3 points
    expect(await marks(page, 'val-acc')).to.deep.equal({ lines: 4, points: 3 });
    // 2 dropout layers over 9 epochs
    expect(await marks(page, 'rates')).to.deep.equal({ lines: 2, points: 18 });
    // return and final valAcc over 3 episodes
    expect(await marks(page, 'learning-curve')).to.deep.equal({ lines: 2, points: 6 });
    expect(await page.$$eval('#best-schedule tbody tr', (trs) => trs.length)).to.equal(2);
  });

  it('shows an epoch appended to a running run within a few seconds, without reloading', async () => {
    await page.goto(`${dashboard.url}#/run/live`);
    await page.waitForSelector('figure[data-plot="rates"][data-rendered="true"]');
    await page.waitForSelector('#live:not(.off)');
    expect(await marks(page, 'rates')).to.deep.equal({ lines: 2, points: 4 });
    expect(await page.textContent('#facts')).to.contain('status: running');
    const loaded = await page.evaluate(() => performance.timeOrigin);
    const appended = Date.now();
    appendStep(folder.live, folder.stepLines[2]!);
    await page.waitForFunction(`${countMarks('rates', 'symbol')} === 6`, undefined, { timeout: 5000 });
    const seconds = (Date.now() - appended) / 1000;
    expect(seconds).to.be.below(5);
    console.log(`      (drawn ${seconds.toFixed(2)} s after the append)`);
    expect(await marks(page, 'val-acc')).to.deep.equal({ lines: 1, points: 0 });
    expect(await page.textContent('#facts')).to.contain('epochs: 3');
    expect(await page.evaluate(() => performance.timeOrigin)).to.equal(loaded); // the same page: no reload
  });

  it('compares the runs ticked in the list: tables with intervals and overlaid plots', async () => {
    await page.goto(dashboard.url);
    await page.waitForSelector('#runs tbody tr');
    for (const id of ['sweep/constant-s1', 'sweep/constant-s2', 'sweep/thompson-s1'])
      await page.check(`input[data-pick="${id}"]`);
    await page.click('#compare');
    await page.waitForSelector('figure[data-plot="learning-curve"][data-rendered="true"]');
    const titles = await page.$$eval('#tables h2', (hs) => hs.map((h) => h.textContent));
    expect(titles).to.deep.equal(['Runs', 'Per group']);
    expect(await page.textContent('#tables')).to.contain('± ');
    // one bold best-episode line per run over 3 faint ones each
    expect(await marks(page, 'val-acc')).to.deep.equal({ lines: 12, points: 9 });
  });

  it("shows an experiment's verdict and recommended schedules", async () => {
    await page.goto(`${dashboard.url}#/experiment/exp`);
    await page.waitForSelector('figure[data-plot="recommended"][data-rendered="true"]');
    expect(await page.textContent('#verdict')).to.contain('no detectable difference: curriculum');
    // per method panel: one line per seed and layer
    expect(await marks(page, 'recommended')).to.deep.equal({ lines: 8, points: 24 });
    await page.waitForSelector('figure[data-plot="compute"][data-rendered="true"]');
    expect(await page.textContent('#power')).to.contain('detectable 14.08 pts');
  });
});

describe('launchChromium', () => {
  it('fails with a message naming what to install when there is no browser, or it cannot start', async () => {
    const profile = mkdtempSync(join(tmpdir(), 'droptune-chromium-'));
    try {
      const failure = async (executable: string) =>
        launchChromium(profile, { executable }).then(
          () => 'started',
          (err: Error) => err.message,
        );
      expect(await failure('/nonexistent/chromium')).to.equal(
        "droptune's browser tests need Chromium at /nonexistent/chromium: install the apt package chromium (.ci/run does), or set DROPTUNE_CHROMIUM",
      );
      expect(await failure('/bin/false')).to.match(/^Chromium at \/bin\/false could not start: /);
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  });
});
