/**
 * droptune/browser for real: src/browser.ts bundled by esbuild for the browser must hold no node: import
 * and no Node builtin, and a page bundled with it trains small tfjs models on the wasm backend in Debian's
 * Chromium (headless, playwright-core), where dropoutController sets the rates its agent says, epoch by
 * epoch. The README's browser block runs there as pasted. A Chromium that cannot start fails the test
 * with what to install; it is never skipped.
 */
import { expect } from 'chai';
import type { BuildFailure } from 'esbuild';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { namedRate, SCHEDULE_DEFAULTS } from '../../agents/schedule.js';
import { LOG_VERSION } from '../../src/core/run-log.js';
import { launchChromium } from '../helpers/browser.js';
import {
  builtinImports,
  bundleForBrowser,
  downloadedJson,
  pageOfBlock,
  runPage,
  servePages,
} from '../helpers/browser-pages.js';
import { readmeBlocks } from '../helpers/readme.js';
import type { PageResult } from './page.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const WASM_DIR = path.join(REPO, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
// The README imports the package by name, as a user does: here that is the browser entry's source.
const bundle = (entry: string | { code: string }) =>
  bundleForBrowser(entry, { cwd: REPO, alias: { 'droptune/browser': './src/browser.ts' } });
const ours = (file: string) => /^(src|agents|envs)\//.test(file);

describe('droptune/browser', function () {
  this.timeout(60_000);

  it('bundles for the browser with no node: import and no Node builtin anywhere in its graph', async () => {
    const built = await bundle('src/browser.ts');
    expect(builtinImports(built.metafile, ours)).to.deep.equal([]);
    expect(built.outputFiles[0]!.text).to.not.match(/\b(?:from|import|require)\s*\(?\s*["']node:/);
    // The callback and every agent came along; the Node side did not.
    const files = Object.keys(built.metafile.inputs);
    for (const file of ['src/integrations/fit-controller.ts', 'agents/linucb.ts', 'agents/policy.ts'])
      expect(files).to.include(file);
    for (const file of ['agents/node-loaders.ts', 'src/store/run-writer.ts', 'envs/dropout-env.ts', 'src/run/run.ts'])
      expect(files).to.not.include(file);
  });

  it('finds a node: import when one is there', async () => {
    // The check itself: the Node entry's callback does not bundle for the browser.
    const failed = await bundle('src/integrations/tfjs-fit.ts').then(
      () => [] as string[],
      (err: BuildFailure) => err.errors.map((e) => e.text),
    );
    expect(failed.some((e) => /Could not resolve "node:/.test(e))).to.equal(true);
  });

  describe('in Chromium', () => {
    let server: Awaited<ReturnType<typeof servePages>>;
    let profile: string;
    let browser: BrowserContext;
    let result: PageResult;
    let pageErrors: string[];
    const readme = readmeBlocks(readFileSync(path.join(REPO, 'README.md'), 'utf8')).filter((b) => b.browser);

    before(async () => {
      const scripts = new Map<string, string>();
      scripts.set('page', (await bundle('test/browser/page.ts')).outputFiles[0]!.text);
      for (const [i, block] of readme.entries())
        scripts.set(`readme-${i}`, (await bundle({ code: pageOfBlock(block.code) })).outputFiles[0]!.text);
      const policy = readFileSync(path.join(REPO, 'policies/default.json'), 'utf8');
      server = await servePages(scripts, WASM_DIR, new Map([['/policies/default.json', policy]]));
      profile = mkdtempSync(path.join(tmpdir(), 'droptune-chromium-'));
      browser = await launchChromium(profile);
      const run = await runPage<{ result?: PageResult; error?: string }>(browser, `${server.origin}/page.html`);
      if (run.value.error !== undefined) throw new Error(`the page failed: ${run.value.error}`);
      result = run.value.result!;
      pageErrors = run.errors;
    });

    after(async () => {
      await browser?.close();
      server?.close();
      if (profile) rmSync(profile, { recursive: true, force: true });
    });

    it('trains on the wasm backend, with no page error', () => {
      expect(result.backend).to.equal('wasm');
      expect(pageErrors).to.deep.equal([]);
    });

    it('trains each epoch at the annealed schedule’s rates, known in advance, in both layers', () => {
      const c = { ...SCHEDULE_DEFAULTS, rate: 0.5, annealEpochs: 4 };
      const expected = [0, 1, 2, 3, 4].map((t) => {
        const r = namedRate('annealed', t, 5, c);
        return [r, r];
      });
      expect(expected.map((r) => r[0])).to.deep.equal([0.5, 0.375, 0.25, 0.125, 0]);
      expect(result.annealed.epochRates).to.deep.equal(expected);
      expect(result.annealed.steadyWithinEpoch).to.deep.equal([true, true, true, true, true]);
      expect(result.annealed.loggedRates).to.deep.equal(expected);
      expect(result.annealed.bestSchedule).to.deep.equal(expected);
    });

    it('trains each epoch at the rates a learning agent (linucb, mathjs bundled) chose, and they change', () => {
      const { epochRates, loggedRates, steadyWithinEpoch } = result.linucb;
      expect(epochRates).to.have.length(5);
      expect(epochRates).to.deep.equal(loggedRates);
      expect(steadyWithinEpoch).to.deep.equal([true, true, true, true, true]);
      expect(new Set(epochRates.map((r) => JSON.stringify(r))).size).to.be.greaterThan(1);
      for (const rates of epochRates) for (const r of rates) expect(r).to.be.within(0, 0.8);
    });

    it('hands every record of the run log to onLog, and gives the whole log as a JSON Blob', () => {
      for (const fit of [result.annealed, result.linucb]) {
        expect(fit.entries).to.deep.equal([
          'config',
          'steps',
          'steps',
          'steps',
          'steps',
          'steps',
          'episodes',
          'agent',
          'summary',
        ]);
        expect(fit.blob).to.include({ steps: 5, episodes: 1, logVersion: LOG_VERSION });
      }
      expect(result.linucb.blob.agent).to.have.property('agent', 'linucb');
    });

    it('replays a schedule given as JSON text, every fit a new episode from the model the first fit found', () => {
      const expected = result.annealed.bestSchedule!;
      expect(result.replay.epochRates).to.deep.equal([...expected, ...expected]);
      expect(result.replay.loggedRates).to.deep.equal([...expected, ...expected]);
      expect(result.replay.blob).to.include({ steps: 10, episodes: 2 });
      // the second fit starts from the weights the first started from, not the ones it ended with
      const [first, second] = result.replay.startLosses;
      expect(second).to.equal(first);
      expect(result.replay.epochRates).to.have.length(10);
    });

    it('applies the shipped policy given as its file’s text, each epoch at the rates it logged', () => {
      const { epochRates, loggedRates, steadyWithinEpoch, blob } = result.policy;
      expect(epochRates).to.have.length(5);
      expect(epochRates).to.deep.equal(loggedRates);
      expect(steadyWithinEpoch).to.deep.equal([true, true, true, true, true]);
      expect(blob.agent).to.have.property('agent', 'policy');
      // the model's own 0.3 is not what the policy keeps: it moves the rates
      expect(epochRates.some((rates) => rates.some((r) => Math.abs(r - 0.3) > 1e-9))).to.equal(true);
    });

    it('drops in training at the rate it is given on this backend (binomial, 4σ)', () => {
      for (const { rate, fraction, n } of result.zeroed) {
        const sd = Math.sqrt((rate * (1 - rate)) / n);
        expect(Math.abs(fraction - rate)).to.be.at.most(4 * sd + 1e-12);
      }
    });

    it("runs the README's browser block as pasted: the annealed rates, each epoch logged, a run log to download", async () => {
      expect(readme).to.have.length(1);
      const run = await runPage(browser, `${server.origin}/readme-0.html`, { inspect: downloadedJson });
      expect(run.errors, `README block at line ${readme[0]!.line}`).to.deep.equal([]);
      expect(run.console).to.include('[[0.5],[0.375],[0.25],[0.125],[0]]');
      expect(run.console.filter((l) => /^epoch \d: rates /.test(l))).to.deep.equal([
        'epoch 1: rates 0.5',
        'epoch 2: rates 0.375',
        'epoch 3: rates 0.25',
        'epoch 4: rates 0.125',
        'epoch 5: rates 0',
      ]);
      // the link's file is the whole log: five steps, one episode
      const log = run.inspected as { steps: unknown[]; episodes: unknown[] } | null;
      expect(log?.steps).to.have.length(5);
      expect(log?.episodes).to.have.length(1);
    });
  });
});
