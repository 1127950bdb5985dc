import { expect } from 'chai';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/core/errors.js';
import { createRng } from '../../src/core/rng.js';
import type { EpisodeRecord, RunSummary, StepRecord } from '../../src/core/run-log.js';
import { InProcessExecutor, PoolExecutor } from '../../src/execution/executor.js';
import { initBackend, requestedBackend } from '../../src/nn/backend.js';
import type { RunResult } from '../../src/run/run.js';
import { resolveAnyRun, schedulerFor } from '../../src/schedulers/index.js';
import { smoothedValAcc } from '../../src/schedulers/pbt/pbt.js';
import { RUNGS_FILE, TRIALS_DIR, type RungRecord } from '../../src/schedulers/sha/run-sha.js';
import {
  candidatesFor,
  checkConfig,
  drawCandidates,
  halvingCost,
  promote,
  rungEpochs,
  type ShaConfig,
} from '../../src/schedulers/sha/sha.js';

const ENV = { minRate: 0, maxRate: 0.8, maxEpochs: 9 };

describe('sha rule', () => {
  it('puts rungs at the grace period and E/η^k above it, the last at E', () => {
    expect(rungEpochs(10, 3, 3)).to.deep.equal([3, 10]);
    expect(rungEpochs(27, 3, 3)).to.deep.equal([3, 9, 27]);
    expect(rungEpochs(60, 20, 3)).to.deep.equal([20, 60]);
    expect(rungEpochs(10, 4, 3)).to.deep.equal([4, 10]);
    expect(rungEpochs(6, 6, 3)).to.deep.equal([6]);
  });

  it('charges each epoch once: n·r0 + ⌊n/η⌋·(r1 − r0) + …, and takes the most candidates the budget pays for', () => {
    expect(halvingCost(15, [3, 10], 3)).to.equal(15 * 3 + 5 * 7);
    expect(halvingCost(9, [3, 9, 27], 3)).to.equal(27 + 3 * 6 + 1 * 18);
    expect(candidatesFor(80, [3, 10], 3)).to.equal(15); // 16 would cost 48 + 35 = 83
    expect(candidatesFor(5, [3, 10], 3)).to.equal(0); // even one costs 3 + 7
  });

  it('promotes the best ⌊n/η⌋ by score, a diverged one (NaN) last, ties to the lower index', () => {
    expect(promote([0.5, 0.9, 0.7, 0.8, 0.1, 0.6], 3)).to.deep.equal([1, 3]);
    expect(promote([Number.NaN, 0.2, 0.2], 3)).to.deep.equal([1]);
    expect(promote([0.3, 0.4], 3)).to.deep.equal([1]);
  });

  it('draws both families within the range: static per-layer rates, and schedules p0 → p1 from t0 in 1 … E−1', () => {
    const config = checkConfig({ candidates: 12, rateRange: [0.1, 0.6] }, ENV);
    const candidates = drawCandidates(config, 2, 9, createRng('c'));
    expect(candidates.filter((c) => c.family === 'static')).to.have.length(6);
    for (const c of candidates) {
      for (const r of [...c.p0, ...c.p1]) expect(r).to.be.within(0.1, 0.6);
      if (c.family === 'static') expect([c.p1, c.t0]).to.deep.equal([c.p0, 9]);
      else expect(c.t0).to.be.within(1, 8);
    }
    expect(candidates.some((c) => c.family === 'static' && c.p0[0] !== c.p0[1])).to.equal(true);
    expect(drawCandidates(config, 2, 9, createRng('c'))).to.deep.equal(candidates);
  });

  it('defaults to a budget of 8 × E and a grace period of E/3; names a bad option', () => {
    const c = checkConfig({}, ENV);
    expect([c.budget, c.grace, c.eta]).to.deep.equal([72, 3, 3]);
    expect(halvingCost(c.candidates, rungEpochs(9, c.grace, c.eta), c.eta)).to.be.at.most(72);
    const error = (partial: Partial<ShaConfig>) => {
      try {
        checkConfig(partial, ENV);
      } catch (err) {
        expect(err).to.be.instanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('no error');
    };
    expect(error({ grace: 10 })).to.equal('--grace must be an integer in [1, 9], got 10');
    expect(error({ budget: 72, candidates: 40 })).to.match(/^--candidates must be an integer in \[2, \d+\], got 40$/);
    expect(error({ budget: 5 })).to.match(
      /^--budget 5 pays for 0 candidates through rungs 3, 9: successive halving needs at least 2/,
    );
    expect(error({ rateRange: [0.5, 0.2] })).to.equal('--rate-range must be in [0.5, 0.8], got 0.2');
  });
});

describe('sha run', function () {
  this.timeout(300_000);
  const TASK = {
    dataset: 'synthetic',
    trainSize: 192,
    valSize: 96,
    testSize: 96,
    model: 'mlp:32,16',
    lr: 0.01,
    batchSize: 32,
    epochs: 6,
    seed: 4,
    agent: 'sha',
    budget: 30, // grace 2, rungs 2, 6: 9 candidates × 2 + 3 × 4 = 30
    grace: 2,
  };
  const tmp = mkdtempSync(path.join(tmpdir(), 'droptune-sha-'));
  const lines = <T>(dir: string, file: string): T[] =>
    readFileSync(path.join(dir, file), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l, (k, v: unknown) => (k.endsWith('Ms') || k === 'out' ? undefined : v)) as T);

  async function sha(out: string, workers: number): Promise<RunResult> {
    const run = resolveAnyRun({ ...TASK, out });
    const executor = workers > 1 ? new PoolExecutor({ workers }) : new InProcessExecutor();
    try {
      return await schedulerFor('sha')!.run(run, {
        runSegment: (s) => executor.runSegment(s),
        backendInUse: await initBackend(requestedBackend()),
        warn: () => undefined,
      });
    } finally {
      await executor.close();
    }
  }

  const one = path.join(tmp, 'one');
  let result: RunResult;
  before(async () => {
    result = await sha(one, 1);
  });

  it('promotes the best third of each rung, which continue from their checkpoints', () => {
    const rungs = lines<RungRecord>(one, RUNGS_FILE);
    const steps = lines<StepRecord>(one, 'steps.jsonl');
    expect(rungs.map((r) => [r.epoch, r.candidates.length, r.promoted.length])).to.deep.equal([
      [2, 9, 3],
      [6, 3, 0],
    ]);
    // the scores are the mean validation accuracy of the last 3 epochs up to the rung, from the log
    const score = (c: number, epoch: number) =>
      smoothedValAcc(
        steps.filter((s) => s.episode === c && s.epoch <= epoch).map((s) => s.valAcc),
        3,
      );
    const first = rungs[0]!;
    expect(first.scores).to.deep.equal(first.candidates.map((c) => score(c, 2)));
    const ranked = [...first.candidates].sort((a, b) => score(b, 2) - score(a, 2) || a - b);
    expect(first.promoted).to.deep.equal(ranked.slice(0, 3).sort((a, b) => a - b));
    expect(rungs[1]!.candidates).to.deep.equal(first.promoted);
    // continued, not retrained: every (candidate, epoch) once, a promoted one's epochs 1 … 6 in order
    const keys = steps.map((s) => `${s.episode}:${s.epoch}`);
    expect(new Set(keys).size).to.equal(keys.length);
    for (const c of first.candidates) {
      const epochs = steps.filter((s) => s.episode === c).map((s) => s.epoch);
      expect(epochs).to.deep.equal(first.promoted.includes(c) ? [1, 2, 3, 4, 5, 6] : [1, 2]);
    }
    expect(existsSync(path.join(one, TRIALS_DIR)), 'a finished run keeps no checkpoints').to.equal(false);
  });

  it('charges exactly the epochs it trained, within the budget', () => {
    const steps = lines<StepRecord>(one, 'steps.jsonl');
    const records = lines<EpisodeRecord>(one, 'episodes.jsonl');
    expect(result.summary!.totalEpochs).to.equal(30);
    expect(steps).to.have.length(30);
    expect(records.reduce((s, r) => s + r.epochs, 0)).to.equal(30);
  });

  it('recommends the best candidate of the last rung', () => {
    const summary = JSON.parse(readFileSync(path.join(one, 'summary.json'), 'utf8')) as RunSummary;
    const finalists = result.records.filter((r) => r.epochs === 6);
    expect(finalists).to.have.length(3);
    const best = finalists.reduce((a, b) => (b.valAcc > a.valAcc ? b : a));
    expect(summary.best.episode).to.equal(best.episode);
    expect(summary.best.schedule).to.have.length(6);
  });

  it("under --select best-epoch, scores its candidates by their best epoch and recommends by it, with that epoch's test accuracy", async () => {
    const out = path.join(tmp, 'best-epoch');
    const run = resolveAnyRun({ ...TASK, out, select: 'best-epoch' });
    const r = await schedulerFor('sha')!.run(run, {
      runSegment: (s) => new InProcessExecutor().runSegment(s),
      backendInUse: await initBackend(requestedBackend()),
      warn: () => undefined,
    });
    const steps = lines<StepRecord>(out, 'steps.jsonl');
    for (const record of r.records) {
      const mine = steps.filter((s) => s.episode === record.episode);
      const top = mine.reduce((a, b) => (b.valAcc > a.valAcc ? b : a));
      expect(record.selected).to.deep.equal({
        score: top.valAcc,
        testAcc: top.testAcc,
        epoch: top.epoch,
        select: 'best-epoch',
      });
    }
    const finalists = r.records.filter((e) => e.epochs === 6);
    const best = finalists.reduce((a, b) => (b.selected!.score > a.selected!.score ? b : a));
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as RunSummary;
    expect(summary.best.episode).to.equal(best.episode);
    expect(summary.best.selected).to.deep.equal(best.selected);
  });

  it('writes the same logs with 2 worker threads as with 1', async () => {
    const two = path.join(tmp, 'two');
    await sha(two, 2);
    for (const file of ['steps.jsonl', 'episodes.jsonl', RUNGS_FILE])
      expect(lines(two, file), file).to.deep.equal(lines(one, file));
    const summary = (dir: string) =>
      JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8'), (k, v: unknown) =>
        k.endsWith('Ms') ? undefined : v,
      ) as RunSummary;
    expect(summary(two)).to.deep.equal(summary(one));
  });
});
