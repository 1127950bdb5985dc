import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gridSubsetPoints, methodPoints, subsets, type GridRunScore } from '../../src/experiment/compute.js';
import {
  halfGrid,
  planExperiment,
  runExperiment,
  verdictText,
  writeExperiment,
  type MethodPick,
} from '../../src/experiment/experiment.js';
import type { ComputePoint } from '../../src/experiment/compute.js';
import type { EpisodeRecord } from '../../src/core/run-log.js';
import type { JobResult } from '../../src/execution/job.js';

const run = (seed: number, rate: number, score: number, testAcc: number): GridRunScore => ({
  seed,
  rate,
  score,
  testAcc,
  epochs: 10,
});

describe('accuracy against compute', () => {
  it('lists every k-subset once', () => {
    expect(subsets(4, 2)).to.deep.equal([
      [0, 1],
      [0, 2],
      [0, 3],
      [1, 2],
      [1, 3],
      [2, 3],
    ]);
    expect(subsets(5, 3)).to.have.length(10);
    expect(subsets(3, 3)).to.deep.equal([[0, 1, 2]]);
  });

  it("prices the grid at k rates at k runs' epochs, each subset picking by score, the earliest rate on a tie", () => {
    const grid = [0, 0.5, 0.7];
    const runs = [
      run(0, 0, 0.5, 0.7),
      run(0, 0.5, 0.6, 0.8),
      run(0, 0.7, 0.55, 0.78),
      // seed 1: rates 0 and 0.5 tie on score; the tie goes to 0, as the grid's own pick breaks it
      run(1, 0, 0.6, 0.71),
      run(1, 0.5, 0.6, 0.9),
      run(1, 0.7, 0.5, 0.95),
      // seed 2 lacks a rate: left out of every point
      run(2, 0, 0.9, 0.99),
    ];
    const points = gridSubsetPoints(runs, grid);
    expect(points.map((p) => p.epochs)).to.deep.equal([10, 20, 30]);
    expect(points.map((p) => p.testAcc.n)).to.deep.equal([2, 2, 2]);
    // k = 1: the mean over rates; k = 2: {0, .5} {0, .7} {.5, .7}; k = 3: the grid's pick
    const seed0 = [(0.7 + 0.8 + 0.78) / 3, (0.8 + 0.78 + 0.8) / 3, 0.8];
    const seed1 = [(0.71 + 0.9 + 0.95) / 3, (0.71 + 0.71 + 0.9) / 3, 0.71];
    points.forEach((p, i) => expect(p.testAcc.mean).to.be.closeTo((seed0[i]! + seed1[i]!) / 2, 1e-12));
    expect(points.map((p) => p.label)).to.deep.equal([
      'grid, 1 of 3 rates',
      'grid, 2 of 3 rates',
      'grid, 3 of 3 rates',
    ]);
    expect(gridSubsetPoints([run(0, 0, 0.5, 0.7)], grid)).to.deep.equal([]);
  });

  it('places each method at the mean epochs it used, the grid left to its subsets', () => {
    const results = [
      { method: 'grid', seed: 0, testAcc: 0.8, epochs: 30 },
      { method: 'pbt', seed: 0, testAcc: 0.82, epochs: 30 },
      { method: 'sha', seed: 0, testAcc: 0.81, epochs: 28 },
      { method: 'sha', seed: 1, testAcc: 0.83, epochs: 26 },
    ];
    const points = methodPoints(results, ['grid', 'sha', 'pbt', 'default']);
    expect(points.map((p) => [p.label, p.epochs, p.testAcc.n])).to.deep.equal([
      ['sha', 27, 2],
      ['pbt', 30, 1],
    ]);
    expect(points[0]!.testAcc.mean).to.be.closeTo(0.82, 1e-12);
  });

  it('halves the grid over its range, keeping both ends', () => {
    expect(halfGrid([0, 0.3, 0.5, 0.7])).to.deep.equal([0, 0.7]);
    expect(halfGrid([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])).to.deep.equal([0, 0.2, 0.5, 0.7]);
    expect(halfGrid([0.1, 0.3, 0.5])).to.deep.equal([0.1, 0.5]);
    expect(halfGrid([0.2, 0.4])).to.deep.equal([0.2, 0.4]);
  });

  it("takes successive halving's side-by-side picks from its last rung, never a candidate it stopped", () => {
    const plan = planExperiment({ dataset: 'synthetic', seeds: 1, methods: ['grid', 'sha'], out: '/nonexistent/x' });
    const group = plan.groups.find((g) => g.method.name === 'sha')!;
    const episode = (n: number, epochs: number, score: number, testAcc: number) =>
      ({
        episode: n,
        epochs,
        valAcc: score,
        testAcc,
        schedule: [],
        selected: { score, testAcc, epoch: epochs, select: 'best-epoch' },
        bestEpoch: { score, testAcc, epoch: epochs },
      }) as unknown as EpisodeRecord;
    // candidate 1 was stopped at the first rung with the best score of all; 2 and 3 reached the end
    const records = [episode(1, 2, 0.9, 0.6), episode(2, 5, 0.7, 0.8), episode(3, 5, 0.6, 0.85)];
    const out = group.tasks[0]!.id;
    const result = {
      out,
      layerNames: [],
      records,
      summary: { best: { episode: 2, valAcc: 0.7, testAcc: 0.8, schedule: [] } },
      interrupted: false,
    } as unknown as JobResult;
    const pick = group.pick(new Map([[out, result]]));
    expect([pick.valAcc, pick.testAcc]).to.deep.equal([0.7, 0.8]);
    expect(pick.protocols).to.deep.equal({
      final: { valAcc: 0.7, testAcc: 0.8 },
      'best-epoch': { valAcc: 0.7, testAcc: 0.8 },
    });
  });

  describe('on a fixture experiment', () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'droptune-compute-')), 'exp');
    let points: ComputePoint[];
    let picks: MethodPick[];
    let md: string;

    before(async function () {
      this.timeout(120_000);
      const plan = planExperiment({
        dataset: 'synthetic',
        model: 'mlp:16,8',
        seeds: 2,
        trainSize: 128,
        valSize: 64,
        testSize: 64,
        select: 'best-epoch',
        methods: ['grid', 'default', 'pbt-half', 'sha-half'],
        out,
        workers: 1,
      });
      const result = await runExperiment(plan);
      await writeExperiment(plan, result, 'wasm');
      const json = JSON.parse(readFileSync(path.join(out, 'experiment.json'), 'utf8'));
      points = json.compute;
      picks = result.picks;
      md = readFileSync(path.join(out, 'experiment.md'), 'utf8');
    });

    it("puts the grid at all its rates exactly on the grid's pick, at the grid's epochs", () => {
      const grid = picks.filter((p) => p.method === 'grid');
      const all = points.find((p) => p.label === 'grid, 3 of 3 rates')!;
      expect(all.testAcc.mean).to.be.closeTo(grid.reduce((s, p) => s + p.testAcc, 0) / grid.length, 1e-12);
      expect(all.epochs).to.equal(grid[0]!.epochs);
      expect(points.filter((p) => p.series === 'grid').map((p) => p.epochs)).to.deep.equal([5, 10, 15]);
    });

    it('charges the one-run method 1/G and the half-budget methods about half of the grid', () => {
      const at = (label: string) => points.find((p) => p.label === label)!.epochs;
      expect(at('default')).to.equal(5);
      expect(at('pbt-half')).to.equal(10);
      expect(at('sha-half')).to.be.within(6, 10);
      expect(existsSync(path.join(out, 'compute.svg'))).to.equal(true);
      expect(md).to.include('Accuracy against compute');
      expect(md).to.match(/\| grid, 3 of 3 rates \| 15 \| 1\.00× \|/);
    });

    it("gives successive halving's side-by-side pick under the experiment's protocol from its last rung, as its own pick", () => {
      for (const pick of picks.filter((p) => p.method === 'sha-half'))
        // the same score (a tie among finalists may break to another of them)
        expect(pick.protocols!['best-epoch']!.valAcc).to.equal(pick.valAcc);
    });

    it('keeps the half-budget methods out of the headline verdict', () => {
      const text = verdictText(picks, ['grid', 'default', 'pbt-half', 'sha-half']);
      expect(text).to.match(/left out of the headline \(about half the grid's budget[^)]*\): pbt-half .*, sha-half /);
    });
  });
});
