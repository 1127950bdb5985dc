import { expect } from 'chai';

import { ConfigError } from '../../src/core/errors.js';
import type { RunConfig } from '../../src/core/run-log.js';
import {
  compareRuns,
  comparisonTables,
  groupLabels,
  renderMarkdown,
  renderText,
  type Comparison,
} from '../../src/analysis/compare.js';
import { readRuns } from '../../src/store/read-run.js';
import { SWEEP } from '../helpers/run-fixtures.js';

// Hand-checked numbers (see test/fixtures/runs/README.md); t(0.975, 1) = 12.7062047, t(0.975, 2) = 4.3026527.
const T1 = 12.7062047;
const T2 = 4.3026527;
/** Half-width of a 95% CI from n = 3 values: t(0.975, 2) · s / √3 with s² = Σ(x − x̄)² / 2. */
const half3 = (xs: number[]): number => {
  const m = (xs[0]! + xs[1]! + xs[2]!) / 3;
  return (T2 * Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / 2)) / Math.sqrt(3);
};

describe('compare', () => {
  let c: Comparison;
  before(() => {
    c = compareRuns(readRuns([SWEEP]).value, { baseline: 'constant' });
  });

  it("computes each run's row", () => {
    const row = (run: string) => c.runs.find((r) => r.run === run)!;
    const pick = (run: string) => {
      const r = row(run);
      return [
        r.label,
        r.seed,
        r.episodes,
        r.epochs,
        r.bestEpisode,
        r.bestValAcc,
        r.finalValAcc,
        r.bestTestAcc,
        r.wallMs,
        r.status,
      ];
    };
    expect(pick('constant-s1')).to.deep.equal(['constant rate=0.3', 1, 3, 9, 2, 0.84, 0.82, 0.82, 3500, 'done']);
    // episodes 2 and 3 tie at valAcc 0.83: the earlier one is best, although episode 3 tests higher
    expect(pick('constant-s2')).to.deep.equal(['constant rate=0.3', 2, 3, 9, 2, 0.83, 0.83, 0.79, 3500, 'done']);
    expect(pick('constant-s3')).to.deep.equal(['constant rate=0.3', 3, 3, 9, 1, 0.86, 0.85, 0.84, 3600, 'done']);
    expect(pick('thompson-s1')).to.deep.equal(['thompson', 1, 3, 9, 3, 0.88, 0.88, 0.87, 4200, 'done']);
    // cut off in episode 3: two episodes count, wall time is 1200 + 1300 ms of episodes
    expect(pick('thompson-s2')).to.deep.equal(['thompson', 2, 2, 6, 2, 0.86, 0.86, 0.85, 2500, 'incomplete']);
    expect(c.runs.map((r) => r.run)).to.deep.equal([
      'constant-s1',
      'constant-s2',
      'constant-s3',
      'thompson-s1',
      'thompson-s2',
    ]);
  });

  it('averages each group over seeds with the 95% CI half-width', () => {
    const constant = c.groups.find((g) => g.label === 'constant rate=0.3')!;
    expect(constant.runs).to.equal(3);
    expect(constant.seeds).to.deep.equal([1, 2, 3]);
    expect(constant.stats.epochs.mean).to.equal(9);
    expect(constant.stats.epochs.half).to.equal(0);
    expect(constant.stats.bestValAcc.mean).to.be.closeTo(2.53 / 3, 1e-12);
    expect(constant.stats.bestValAcc.half).to.be.closeTo(half3([0.84, 0.83, 0.86]), 1e-6);
    expect(constant.stats.bestValAcc.half).to.be.closeTo(0.037946, 1e-6);
    expect(constant.stats.finalValAcc.mean).to.be.closeTo(2.5 / 3, 1e-12);
    expect(constant.stats.bestTestAcc.mean).to.be.closeTo(2.45 / 3, 1e-12);
    expect(constant.stats.bestTestAcc.half).to.be.closeTo(0.062516, 1e-6);
    expect(constant.stats.wallMs.mean).to.be.closeTo(10600 / 3, 1e-9);

    // n = 2: s = |a − b| / √2, so the half-width is t(0.975, 1) · |a − b| / 2
    const thompson = c.groups.find((g) => g.label === 'thompson')!;
    expect(thompson.seeds).to.deep.equal([1, 2]);
    expect(thompson.stats.bestTestAcc.mean).to.be.closeTo(0.86, 1e-12);
    expect(thompson.stats.bestTestAcc.half).to.be.closeTo((T1 * 0.02) / 2, 1e-6);
    expect(thompson.stats.episodes.mean).to.equal(2.5);
    expect(thompson.stats.epochs.half).to.be.closeTo((T1 * 3) / 2, 1e-5);
  });

  it('gives the paired difference against the baseline on shared seeds', () => {
    expect(c.baseline?.label).to.equal('constant rate=0.3');
    const [row, ...rest] = c.baseline!.rows;
    expect(rest).to.deep.equal([]);
    expect(row!.label).to.equal('thompson');
    // seed 1: 0.87 − 0.82, seed 2: 0.85 − 0.79; seed 3 has no thompson run
    expect(row!.seeds).to.deep.equal([1, 2]);
    expect(row!.diff!.mean).to.be.closeTo(0.055, 1e-12);
    expect(row!.diff!.half).to.be.closeTo((T1 * 0.01) / 2, 1e-6);
  });

  it('resolves --baseline by label or agent and rejects an unknown one', () => {
    const runs = readRuns([SWEEP]).value;
    expect(compareRuns(runs, { baseline: 'thompson' }).baseline!.rows[0]!.diff!.mean).to.be.closeTo(-0.055, 1e-12);
    expect(compareRuns(runs, { baseline: 'constant rate=0.3' }).baseline!.label).to.equal('constant rate=0.3');
    expect(() => compareRuns(runs, { baseline: 'ppo' })).to.throw(
      ConfigError,
      "--baseline must be one of 'constant rate=0.3', 'thompson', got 'ppo'",
    );
  });

  it('renders the rows as text', () => {
    const lines = renderText(comparisonTables(c)).split('\n');
    /** The cells of the last line starting with `start` (the baseline table comes last). */
    const cells = (start: string) =>
      lines
        .filter((l) => l.startsWith(start))
        .pop()!
        .split(/\s{2,}/);
    expect(cells('constant-s2 ')).to.deep.equal([
      'constant-s2',
      'constant rate=0.3',
      '2',
      '3',
      '9',
      '2',
      '0.8300',
      '0.8300',
      '0.7900',
      '3.5',
      'done',
    ]);
    expect(cells('thompson-s2 ')).to.deep.equal([
      'thompson-s2',
      'thompson',
      '2',
      '2',
      '6',
      '2',
      '0.8600',
      '0.8600',
      '0.8500',
      '2.5',
      'incomplete',
    ]);
    expect(cells('constant rate=0.3 ')).to.deep.equal([
      'constant rate=0.3',
      '3',
      '1,2,3',
      '3.0 ± 0.0',
      '9.0 ± 0.0',
      '0.8433 ± 0.0379',
      '0.8333 ± 0.0379',
      '0.8167 ± 0.0625',
      '3.5 ± 0.1',
    ]);
    expect(cells('thompson ')).to.deep.equal(['thompson', '2', '1,2', '+0.0550 ± 0.0635', '[-0.0085, +0.1185]']);
  });

  it('renders a fixed-width table with — for an undefined CI', () => {
    const one = compareRuns(readRuns([`${SWEEP}/thompson-s1`, `${SWEEP}/constant-s1`, `${SWEEP}/constant-s2`]).value);
    const text = renderText(comparisonTables(one));
    const thompson = text.split('\n').find((l) => l.startsWith('thompson ') && l.includes('±'))!;
    expect(thompson).to.include('0.8700 ± —');
    expect(text).not.to.include('NaN');
    expect(text).not.to.include('\u001b'); // no terminal colour codes
    // every data line of a table is as wide as its header (right-aligned numbers line up)
    const group = text.split('\n\n')[1]!.split('\n');
    expect(group[2]!.length).to.equal(group[3]!.length);
    expect(renderText(comparisonTables(one), { color: true })).to.include('\x1b[1m');
    expect(renderMarkdown(comparisonTables(one))).to.include('| thompson | 1 | 1 | 3.0 ± — |');
  });
});

describe('groupLabels', () => {
  const config = (options: Record<string, unknown>): RunConfig => ({
    options: { episodes: 3, epochs: 3, dataset: 'mnist', model: 'mlp:256,128', rate: 0.3, ...options },
    seed: Number(options['seed'] ?? 1),
    backend: 'cpu',
    versions: {},
    observationNames: [],
    layerNames: ['d1', 'd2'],
    startedAtMs: 0,
  });

  it('labels by agent and its own or distinguishing options, never by seed or output folder', () => {
    const labels = groupLabels([
      config({ agent: 'constant', rate: 0.3, seed: 1, out: 'runs/a' }),
      config({ agent: 'constant', rate: 0.5, seed: 1, out: 'runs/b' }),
      config({ agent: 'schedule', schedule: 'schedules/curriculum.json', seed: 2 }),
      config({ agent: 'ppo', seed: 1, out: 'runs/c' }),
      config({ agent: 'ppo', seed: 2, out: 'runs/d' }),
      config({ agent: 'thompson', epochs: 5, seed: 1 }),
      config({ agent: 'thompson', epochs: 10, seed: 1 }),
      config({ agent: 'ppo', seed: 3, label: 'ppo (tuned)' }),
    ]);
    expect(labels).to.deep.equal([
      'constant rate=0.3',
      'constant rate=0.5',
      'schedule curriculum',
      'ppo',
      'ppo',
      'thompson epochs=5',
      'thompson epochs=10',
      'ppo (tuned)',
    ]);
  });
});

describe('compare: pairing runs of different tasks', () => {
  it('pairs the fixtures, all on one task, without a warning', () => {
    const c = compareRuns(readRuns([SWEEP]).value, { baseline: 'constant' });
    expect(c.warnings.filter((w) => w.includes('paired with baseline'))).to.deep.equal([]);
  });

  it('warns once per mismatched pair, naming both runs and every differing option', () => {
    const runs = readRuns([SWEEP]).value;
    const thompson1 = runs.find((r) => r.name === 'thompson-s1')!;
    thompson1.config = {
      ...thompson1.config,
      options: { ...thompson1.config.options, epochs: 5, trainSize: 1000, model: 'mlp:64' },
    };
    const c = compareRuns(runs, { baseline: 'constant' });
    const pairing = c.warnings.filter((w) => w.includes('paired with baseline'));
    expect(pairing).to.deep.equal([
      // the runs of that agent now differ, so its group label names the options
      `'thompson epochs=5 model=mlp:64 trainSize=1000' seed 1 (${thompson1.dir}) is paired with baseline 'constant rate=0.3' (${runs.find((r) => r.name === 'constant-s1')!.dir}) but its task differs: trainSize 1000 vs 256, model mlp:64 vs mlp:16,8, epochs 5 vs 3`,
    ]);
  });
});
