import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { EpisodeRecord, LineageRecord, RunSummary, StepRecord } from '../../src/core/run-log.js';
import { initBackend, requestedBackend } from '../../src/nn/backend.js';

const backendName = () => initBackend(requestedBackend());
import { InProcessExecutor, PoolExecutor } from '../../src/execution/executor.js';
import { runPbt, POPULATION_DIR } from '../../src/schedulers/pbt/run-pbt.js';
import { executeRun, resolveRun, type RunResult } from '../../src/run/run.js';
import { resolveAnyRun } from '../../src/schedulers/index.js';
import { killWhen } from '../helpers/processes.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TASK = {
  dataset: 'synthetic',
  trainSize: 192,
  valSize: 96,
  testSize: 96,
  model: 'mlp:32,16',
  lr: 0.01,
  batchSize: 32,
  epochs: 6,
  seed: 3,
};
const POPULATION = { agent: 'pbt', populationRates: [0, 0.2, 0.4, 0.6], interval: 2 };
const LOGS = ['config.json', 'steps.jsonl', 'lineage.jsonl', 'episodes.jsonl', 'agent.json', 'summary.json'];

/** A file's JSON values (one per line for .jsonl), without timings (`*Ms`) and the folder's own name. */
function logOf(dir: string, file: string): unknown[] {
  const text = readFileSync(path.join(dir, file), 'utf8');
  const lines = file.endsWith('.jsonl') ? text.split('\n').filter(Boolean) : [text];
  return lines.map((line) =>
    JSON.parse(line, (key, value: unknown) => (key.endsWith('Ms') || key === 'out' ? undefined : value)),
  );
}

function expectSameLogs(actual: string, expected: string): void {
  for (const file of LOGS) expect(logOf(actual, file), `${file} differs`).to.deep.equal(logOf(expected, file));
  expect(existsSync(path.join(actual, POPULATION_DIR)), 'a finished run keeps no population checkpoint').to.equal(
    false,
  );
}

const readLines = <T>(dir: string, file: string): T[] => logOf(dir, file) as T[];

async function population(
  out: string,
  opts: { workers?: number; resume?: boolean; stopAfter?: number; options?: Record<string, unknown> } = {},
): Promise<RunResult> {
  const run = resolveAnyRun({ ...TASK, ...POPULATION, ...opts.options, out }, { resume: opts.resume });
  const executor = (opts.workers ?? 1) > 1 ? new PoolExecutor({ workers: opts.workers! }) : new InProcessExecutor();
  let generations = 0;
  try {
    return await runPbt(run, {
      runSegment: (segment) => executor.runSegment(segment),
      backendInUse: await backendName(),
      resume: opts.resume,
      stopRequested: () => opts.stopAfter !== undefined && generations >= opts.stopAfter,
      onGeneration: () => {
        generations += 1;
      },
      warn: () => undefined,
    });
  } finally {
    await executor.close();
  }
}

describe('pbt population', function () {
  this.timeout(300_000);
  const tmp = mkdtempSync(path.join(tmpdir(), 'droptune-pbt-'));
  const reference = path.join(tmp, 'reference');
  let result: RunResult;

  before(async () => {
    result = await population(reference);
  });

  it('spends the grid budget: P members × E epochs, every epoch logged once', () => {
    const steps = readLines<StepRecord>(reference, 'steps.jsonl');
    expect(steps).to.have.length(4 * 6);
    expect(result.summary!.totalEpochs).to.equal(24);
    expect(result.records.map((r) => r.epochs)).to.deep.equal([6, 6, 6, 6]);
    // generation by generation, members in order within each, numbered from 1 like epochs
    expect(steps.map((s) => `${s.episode}:${s.epoch}`).slice(0, 8)).to.deep.equal([
      '1:1',
      '1:2',
      '2:1',
      '2:2',
      '3:1',
      '3:2',
      '4:1',
      '4:2',
    ]);
    expect(result.records.map((r) => r.episode)).to.deep.equal([1, 2, 3, 4]);
  });

  it('starts members at distinct per-layer rates over the range of --population-rates', () => {
    const steps = readLines<StepRecord>(reference, 'steps.jsonl');
    const start = [1, 2, 3, 4].map((m) => steps.find((s) => s.episode === m && s.epoch === 1)!.rates);
    for (let layer = 0; layer < 2; layer++) {
      // a Latin hypercube: one member in each quarter of [0, 0.6] on every layer
      const strata = start.map((rates) => Math.floor(rates[layer]! / 0.15)).sort();
      expect(strata, `layer ${layer + 1}: ${start.map((r) => r[layer]).join(', ')}`).to.deep.equal([0, 1, 2, 3]);
    }
    expect(
      start.every((rates) => rates[0] !== rates[1]),
      'no member on a tied rate',
    ).to.equal(true);
  });

  it('trains a member that never copies exactly like a fixed-schedule run at its rates', async () => {
    const members = readLines<EpisodeRecord>(reference, 'episodes.jsonl');
    const loner = members.find((m) => (m.lineage ?? []).length === 0)!;
    expect(loner, 'some member never copied').to.not.equal(undefined);
    const constant = await executeRun(
      resolveRun({
        ...TASK,
        agent: 'schedule',
        schedule: `${path.join(reference, 'episodes.jsonl')}#${loner.episode}`,
        episodes: 1,
        out: path.join(tmp, 'constant'),
      }),
      { backendInUse: await backendName() },
    );
    const episode = constant.records[0]!;
    expect([loner.valAcc, loner.testAcc, loner.seed]).to.deep.equal([episode.valAcc, episode.testAcc, episode.seed]);
  });

  it('logs each exploit, and gives the copier the history it inherited', () => {
    const lineage = readLines<LineageRecord>(reference, 'lineage.jsonl');
    const members = readLines<EpisodeRecord>(reference, 'episodes.jsonl');
    const steps = readLines<StepRecord>(reference, 'steps.jsonl');
    // 4 members, quantile 1: one copy at each of the 2 perturbation steps (after epochs 2 and 4)
    // generations are numbered from 1: the copy after epoch 2 starts generation 2
    expect(lineage.map((l) => [l.generation, l.epoch])).to.deep.equal([
      [2, 2],
      [3, 4],
    ]);
    for (const l of lineage)
      expect(
        [l.member, l.from].every((m) => m >= 1 && m <= 4),
        `members ${l.member}, ${l.from} numbered 1..4`,
      ).to.equal(true);
    // an episode's lineage names its source as lineage.jsonl does
    const copies = members.flatMap((m) => (m.lineage ?? []).map((c) => `${c.epoch}:${c.from}`));
    expect(copies.every((c) => lineage.some((l) => `${l.epoch}:${l.from}` === c))).to.equal(true);
    for (const l of lineage) {
      // the copier's next epoch trains at the explored rates, from the source's state
      const next = steps.find((s) => s.episode === l.member && s.epoch === l.epoch + 1)!;
      expect(next.rates).to.deep.equal(l.rates);
      l.rates.forEach((r, i) => {
        const before = steps.find((s) => s.episode === l.from && s.epoch === l.epoch)!.rates[i]!;
        // an additive step of ±0.05 to 0.1 (--perturbation 0.1), reflected into [0, 0.8]
        const candidates = [Math.abs(r - before), r + before, 1.6 - r - before];
        if (!l.resampled[i])
          expect(
            candidates.some((step) => step >= 0.05 - 1e-4 && step <= 0.1 + 1e-4),
            `rate ${r} from ${before}`,
          ).to.equal(true);
      });
    }
    // every member's schedule is its effective history: rows 1..e of a copy are its source's rows then
    for (const m of members) {
      const own = steps.filter((s) => s.episode === m.episode);
      const last = m.lineage?.at(-1);
      const ownFrom = last ? last.epoch : 0;
      expect(m.schedule.slice(ownFrom)).to.deep.equal(own.filter((s) => s.epoch > ownFrom).map((s) => s.rates));
    }
    const summary = JSON.parse(readFileSync(path.join(reference, 'summary.json'), 'utf8')) as RunSummary;
    expect(summary.best.valAcc).to.equal(Math.max(...members.map((m) => m.valAcc)));
  });

  it('writes the same logs with 2 worker threads as with 1', async () => {
    const out = path.join(tmp, 'two-workers');
    await population(out, { workers: 2 });
    expectSameLogs(out, reference);
  });

  it('continues a stopped population to the same logs', async () => {
    const out = path.join(tmp, 'stopped');
    const stopped = await population(out, { stopAfter: 1 });
    expect(stopped.interrupted).to.equal(true);
    expect(existsSync(path.join(out, 'summary.json'))).to.equal(false);
    expect(readLines<StepRecord>(out, 'steps.jsonl')).to.have.length(8);
    await population(out, { resume: true });
    expectSameLogs(out, reference);
  });

  it('continues after SIGKILL mid-generation to the same logs (npm run agent -- --resume)', async () => {
    const out = path.join(tmp, 'killed');
    const args = [
      '--import',
      'tsx',
      'src/cli/agent.ts',
      ...Object.entries({ ...TASK, ...POPULATION, populationRates: '0,0.2,0.4,0.6' }).flatMap(([k, v]) => [
        `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
        String(v),
      ]),
      '--out',
      out,
    ];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'ignore' });
    // Killed inside generation 1: some member has a checkpoint past epoch 2, and the run is not done.
    await killWhen(child, () => {
      const dir = path.join(out, POPULATION_DIR);
      if (!existsSync(dir)) return false;
      return readdirSync(dir).some(
        (f) =>
          f.endsWith('.json') &&
          f.startsWith('member-') &&
          /"generation":1/.test(readFileSync(path.join(dir, f), 'utf8').slice(0, 200_000)),
      );
    });
    expect(existsSync(path.join(out, 'summary.json'))).to.equal(false);
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/agent.ts', '--resume', out, '--workers', '2'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 240_000,
    });
    expect(r.status, r.stderr).to.equal(0);
    expectSameLogs(out, reference);
  });
});

describe('pbt exploits after the burn-in, and a copy trains as a new trial', function () {
  this.timeout(300_000);
  const tmp = mkdtempSync(path.join(tmpdir(), 'droptune-pbt-burn-'));
  let steps: StepRecord[];
  let lineage: LineageRecord[];

  before(async () => {
    // explore does nothing (no step, no resample): a copy goes on at exactly its source's rates
    const out = path.join(tmp, 'run');
    await population(out, {
      options: { epochs: 6, interval: 1, burnIn: 4, perturbation: 0, resampleProbability: 0 },
    });
    steps = readLines<StepRecord>(out, 'steps.jsonl');
    lineage = readLines<LineageRecord>(out, 'lineage.jsonl');
  });

  it('copies no member before the burn-in (--burn-in 4: the perturbation steps after epochs 1-3 skip)', () => {
    expect(lineage.map((l) => l.epoch)).to.deep.equal([4, 5]);
  });

  it("gives a copy its own batches and masks: its next epoch differs from its source's at the same rates", () => {
    for (const l of lineage) {
      const copy = steps.find((s) => s.episode === l.member && s.epoch === l.epoch + 1)!;
      const source = steps.find((s) => s.episode === l.from && s.epoch === l.epoch + 1)!;
      // same weights, optimizer state and rates: only the streams can tell them apart
      expect(copy.rates).to.deep.equal(source.rates);
      expect(copy.trainLoss, `member ${l.member} after copying ${l.from}`).to.not.equal(source.trainLoss);
    }
  });
});

describe('pbt on a task where the rate matters', function () {
  this.timeout(300_000);
  // The synthetic task memorizes its noisy labels at rate 0 and underfits at 0.8: the best static rate
  // lies in between (src/data/synthetic.ts). The static members are the grid: members on tied rates
  // with no perturbation step (an interval as long as the run).
  const TASK = {
    dataset: 'synthetic',
    trainSize: 200,
    valSize: 300,
    testSize: 100,
    model: 'mlp:64,32',
    lr: 0.01,
    batchSize: 32,
    epochs: 16,
    populationRates: [0, 0.2, 0.4, 0.6, 0.8],
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

  for (const seed of [0, 2, 3]) {
    it(`ends with a member better than the median static member (seed ${seed})`, async () => {
      const tmp = mkdtempSync(path.join(tmpdir(), 'droptune-pbt-task-'));
      const finals = async (interval: number) => {
        const start = interval === 16 ? 'grid' : 'lhs';
        const run = resolveAnyRun({
          ...TASK,
          seed,
          agent: 'pbt',
          interval,
          populationStart: start,
          out: path.join(tmp, `i${interval}`),
        });
        const executor = new InProcessExecutor();
        const result = await runPbt(run, {
          runSegment: (s) => executor.runSegment(s),
          backendInUse: await backendName(),
          warn: () => undefined,
        });
        return result.records.map((r) => r.valAcc);
      };
      const statics = await finals(16);
      const population = await finals(4);
      // the static members differ: the rate matters here
      expect(Math.max(...statics) - Math.min(...statics)).to.be.above(0.1);
      expect(Math.max(...population), `pbt ${population.join(', ')} vs static ${statics.join(', ')}`).to.be.above(
        median(statics),
      );
      expect(median(population)).to.be.at.least(median(statics));
    });
  }
});

describe('npm run agent --agent pbt: bad options', () => {
  const agent = (args: string[]) =>
    spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/agent.ts', '--agent', 'pbt', '--dataset', 'synthetic', ...args],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );

  for (const [args, message] of [
    [
      ['--episodes', '3'],
      '--episodes does not apply to --agent pbt: it trains --population members of --epochs epochs each',
    ],
    [
      ['--population', '3', '--population-rates', '0.1,0.2'],
      '--population-rates needs one rate per member: 3 for --population 3, got 2',
    ],
    [['--max-rate', '0.5', '--population-rates', '0.2,0.6'], '--population-rates must be in [0, 0.5], got 0.6'],
    [['--action', 'discrete'], '--action discrete is not supported by --agent pbt (supported: absolute)'],
    [['--interval', '0'], '--interval must be an integer >= 1, got 0'],
  ] as const) {
    it(`rejects ${args.join(' ')} in one line`, () => {
      const r = agent([...args]);
      expect(r.status).to.equal(2);
      expect(r.stderr.trim()).to.equal(`agent: ${message}`);
    });
  }
});
