import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/core/errors.js';
import { renderText } from '../../src/analysis/compare.js';
import { InProcessExecutor, PoolExecutor, type Executor } from '../../src/execution/executor.js';
import { ProcessExecutor } from '../../src/execution/process-executor.js';
import {
  checkExperimentConfig,
  defaultRate,
  experimentTable,
  methodVerdicts,
  planExperiment,
  runExperiment,
  verdictOf,
  verdictText,
  powerText,
  writeExperiment,
  type ExperimentConfig,
  type GroupReport,
  type MethodPick,
} from '../../src/experiment/experiment.js';
import type { SegmentJob, SegmentResult } from '../../src/run/segment.js';
import type { Job, JobResult } from '../../src/execution/job.js';
import { StopFlag } from '../../src/core/stop-flag.js';
import { killWhen } from '../helpers/processes.js';
import { settle, within } from '../execution/helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TINY: Partial<ExperimentConfig> = { dataset: 'synthetic', model: 'mlp:16,8', seeds: 2 };
const TINY_RUN = { dataset: 'synthetic', trainSize: 64, valSize: 32, testSize: 32, model: 'mlp:8', batchSize: 32 };

/** Every file under `dir`, by path relative to it. */
function filesUnder(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel)).flatMap((name) => {
    const file = path.join(rel, name);
    return statSync(path.join(dir, file)).isDirectory() ? filesUnder(dir, file) : [file];
  });
}

/** JSON with every key ending in `Ms` removed, at any depth: timings are the one thing allowed to differ. */
const withoutTimings = (text: string): unknown =>
  JSON.parse(text, (key, value: unknown) => (key.endsWith('Ms') ? undefined : value));

/** compare.md and report.html render a `wall s` column: blank it, in markdown and in HTML tables. */
function withoutWallColumn(text: string): string {
  let column = -1;
  return text
    .split('\n')
    .map((line) => {
      const html = line.includes('<tr>');
      if (!html && !line.startsWith('|')) {
        column = -1;
        return line;
      }
      const cells = html ? line.split(/(?=<t[dh][ >])/) : line.split('|');
      if (html ? line.includes('<th') : column === -1) column = cells.findIndex((cell) => /\bwall s\b/.test(cell));
      if (column >= 0 && column < cells.length) cells[column] = '';
      return cells.join('|');
    })
    .join('\n');
}

/** Asserts that two experiment folders hold the same files with the same content, timings aside. */
function expectSameLogs(expected: string, actual: string): void {
  const files = filesUnder(expected).sort();
  expect(filesUnder(actual).sort()).to.deep.equal(files);
  expect(files).to.include.members([
    'experiment.json',
    'compare/compare.json',
    path.join('runs', 's1', 'ucb-ucb', 'steps.jsonl'),
  ]);
  for (const file of files) {
    const [a, b] = [expected, actual].map((dir) => readFileSync(path.join(dir, file), 'utf8'));
    const what = `${file} differs`;
    if (file.endsWith('.json')) expect(withoutTimings(b!), what).to.deep.equal(withoutTimings(a!));
    else if (file.endsWith('.jsonl'))
      expect(
        b!.split('\n').map((l) => l && withoutTimings(l)),
        what,
      ).to.deep.equal(a!.split('\n').map((l) => l && withoutTimings(l)));
    else if (file === 'compare/compare.md' || file === 'compare/report.html')
      expect(withoutWallColumn(b!), what).to.equal(withoutWallColumn(a!));
    else expect(b, what).to.equal(a);
  }
}

async function experimentInto(
  config: Partial<ExperimentConfig>,
  opts: { executor?: Executor; onGroup?: (r: GroupReport) => void } = {},
) {
  const plan = planExperiment(config);
  const result = await runExperiment(plan, opts);
  const written = await writeExperiment(plan, result, 'wasm');
  return { plan, result, written };
}

describe('a pool of 2 worker threads', () => {
  // carry and K-fold scoring: the two cases where a run must wait for others
  const config: Partial<ExperimentConfig> = { ...TINY, methods: ['grid', 'ucb'], carry: true, folds: 2 };
  const tmp = mkdtempSync(path.join(tmpdir(), 'droptune-pool-exp-'));
  const out = path.join(tmp, 'exp');
  const reference = `${out}-workers1`;
  let referenceGroups: string[];
  let referenceTable: string;
  /** One pool for the tests below: starting threads (tfjs, agents) takes seconds. */
  let pool: PoolExecutor;

  before(async () => {
    pool = new PoolExecutor({ workers: 2 }); // its threads load while the reference runs here
    const groups: GroupReport[] = [];
    const { written } = await experimentInto({ ...config, out, workers: 1 }, { onGroup: (r) => groups.push(r) });
    referenceGroups = groups.map((g) => `seed ${g.seed} ${g.method}`);
    referenceTable = renderText([written.table]);
    renameSync(out, reference);
  });
  after(() => pool.close());

  it('writes the same run folders, logs and reports as --workers 1 (in this thread)', async () => {
    const groups: GroupReport[] = [];
    try {
      const { result } = await experimentInto({ ...config, out }, { executor: pool, onGroup: (r) => groups.push(r) });
      expect(result.failures).to.deep.equal([]);
      expect(groups.map((g) => `seed ${g.seed} ${g.method}`)).to.deep.equal(referenceGroups);
      expectSameLogs(reference, out);
      // carried: seed 1's learner started from seed 0's agent.json, which existed when it started
      const options = JSON.parse(readFileSync(path.join(out, 'runs', 's1', 'ucb-ucb', 'config.json'), 'utf8')).options;
      expect(options.loadAgent).to.equal(path.join(out, 'runs', 's0', 'ucb-ucb', 'agent.json'));
    } finally {
      renameSync(out, `${out}-workers2`); // the next test writes to the same path: paths are part of the logs
    }
  });

  it('fails a job that throws in its worker with one line naming the cause, and finishes the others', async () => {
    writeFileSync(path.join(tmp, 'a-file'), 'not a folder\n');
    const jobs = ['ok-1', 'a-file/run', 'ok-2'].map((name): Job => ({
      options: { ...TINY_RUN, agent: 'constant', rate: 0.2, episodes: 1, epochs: 2 },
      seed: 1,
      out: path.join(tmp, name),
    }));
    const settled = await within(60_000, settle(pool, jobs));
    expect(settled[0]).to.equal(`done ${jobs[0]!.out}`);
    expect(settled[1]).to.equal(
      `failed: --out ${jobs[1]!.out} lies under ${path.join(tmp, 'a-file')}, which is a file: choose a folder path`,
    );
    expect(settled[2]).to.equal(`done ${jobs[2]!.out}`);
    expect(readFileSync(path.join(jobs[2]!.out, 'episodes.jsonl'), 'utf8').trim().split('\n')).to.have.length(1);
  });

  it('stops a running job after the epoch in progress when the shared flag is set, with what it trained on disk', async () => {
    const stop = new StopFlag();
    const job: Job = {
      options: { ...TINY_RUN, agent: 'constant', rate: 0.2, episodes: 1, epochs: 500 },
      seed: 2,
      out: path.join(tmp, 'stopped'),
    };
    const steps = path.join(job.out, 'steps.jsonl');
    const result = pool.run(job, { stop });
    while (!existsSync(steps)) await new Promise((resolve) => setTimeout(resolve, 10));
    stop.request();
    const r = await within(30_000, result);
    expect(r.interrupted).to.equal(true);
    expect(r.records).to.deep.equal([]); // the episode was cut short: logged by its steps, not recorded as finished
    expect(readFileSync(steps, 'utf8').trim().split('\n').length).to.be.within(1, 499);
    expect(existsSync(path.join(job.out, 'summary.json'))).to.equal(false);
  });

  it('does the same through `npm run experiment -- --workers 2`, printing in plan order', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/experiment.ts',
        '--dataset',
        'synthetic',
        '--model',
        'mlp:16,8',
        '--seeds',
        '2',
        '--methods',
        'grid,ucb',
        '--carry',
        '--folds',
        '2',
        '--workers',
        '2',
        '--executor',
        'thread',
        '--out',
        out,
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.include('in 2 worker threads');
    const printed = r.stdout
      .split('\n')
      .flatMap((line) => /^seed (\d+) +(\S+) +valAcc/.exec(line)?.slice(1, 3).join(' ') ?? []);
    expect(printed.map((p) => `seed ${p}`)).to.deep.equal(referenceGroups);
    expect(r.stdout).to.include(referenceTable);
    expectSameLogs(reference, out);
  });

  it('continues an experiment SIGKILLed midway with --resume, to the same folders and reports', async function () {
    rmSync(out, { recursive: true, force: true });
    const args = [
      '--import',
      'tsx',
      'src/cli/experiment.ts',
      '--dataset',
      'synthetic',
      '--model',
      'mlp:16,8',
      '--seeds',
      '2',
      '--methods',
      'grid,ucb',
      '--carry',
      '--folds',
      '2',
      '--workers',
      '2',
      '--out',
      out,
    ];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'ignore' });
    // Counted while the experiment writes (and rotates checkpoint files): a file may vanish mid-walk.
    const finishedRuns = () => {
      try {
        return readdirSync(path.join(out, 'runs'), { recursive: true }).filter((f) =>
          String(f).endsWith('summary.json'),
        ).length;
      } catch {
        return 0;
      }
    };
    await killWhen(child, () => finishedRuns() >= 5);
    expect(finishedRuns()).to.be.below(16);
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/experiment.ts', '--resume', out, '--workers', '2'],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.include(referenceTable);
    expectSameLogs(reference, out);
  });
});

describe('every executor at 1 and 2 workers', () => {
  const config: Partial<ExperimentConfig> = {
    ...TINY,
    methods: ['grid', 'ucb'],
    trainSize: 200,
    valSize: 100,
    testSize: 100,
  };
  const tmp = mkdtempSync(path.join(tmpdir(), 'droptune-executors-'));
  const out = path.join(tmp, 'exp');
  const reference = `${out}-in-process`;
  const executors: [string, () => Executor][] = [
    ['a thread pool of 1', () => new PoolExecutor({ workers: 1 })],
    ['a thread pool of 2', () => new PoolExecutor({ workers: 2 })],
    ['1 worker process', () => new ProcessExecutor({ workers: 1 })],
    ['2 worker processes', () => new ProcessExecutor({ workers: 2 })],
  ];

  before(async () => {
    await experimentInto({ ...config, out, workers: 1 });
    renameSync(out, reference);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  for (const [name, make] of executors) {
    it(`writes with ${name} the same folders, logs and reports as in this thread`, async () => {
      const executor = make();
      try {
        const { result } = await experimentInto({ ...config, out }, { executor });
        expect(result.failures).to.deep.equal([]);
        expectSameLogs(reference, out);
      } finally {
        await executor.close();
        rmSync(out, { recursive: true, force: true }); // the next one writes to the same path: paths are in the logs
      }
    });
  }

  it('stops a job in a worker process after the epoch in progress, and fails one that throws with its line', async () => {
    const executor = new ProcessExecutor({ workers: 2 });
    try {
      const stop = new StopFlag();
      const job: Job = {
        options: { ...TINY_RUN, agent: 'constant', rate: 0.2, episodes: 1, epochs: 500 },
        seed: 2,
        out: path.join(tmp, 'stopped'),
      };
      writeFileSync(path.join(tmp, 'a-file'), 'not a folder\n');
      const bad: Job = { ...job, out: path.join(tmp, 'a-file', 'run') };
      const failed = executor.run(bad).then(
        () => 'done',
        (err: Error) => err.message,
      );
      const steps = path.join(job.out, 'steps.jsonl');
      const result = executor.run(job, { stop });
      while (!existsSync(steps)) await new Promise((resolve) => setTimeout(resolve, 10));
      stop.request();
      const r = await within(30_000, result);
      expect(r.interrupted).to.equal(true);
      expect(readFileSync(steps, 'utf8').trim().split('\n').length).to.be.within(1, 499);
      expect(existsSync(path.join(job.out, 'summary.json'))).to.equal(false);
      expect(await failed).to.equal(
        `--out ${bad.out} lies under ${path.join(tmp, 'a-file')}, which is a file: choose a folder path`,
      );
    } finally {
      await executor.close();
    }
  });
});

/** Holds every job until all `expected` have been given, then runs them last-first: completion order is the reverse of the plan. */
class ReversingExecutor implements Executor {
  readonly concurrency = 1000;
  readonly completed: string[] = [];
  private readonly inner = new InProcessExecutor();
  private readonly held: { job: Job; resolve: (r: JobResult) => void; reject: (e: unknown) => void }[] = [];

  constructor(private readonly expected: number) {}

  runSegment(segment: SegmentJob): Promise<SegmentResult> {
    return this.inner.runSegment(segment);
  }

  run(job: Job): Promise<JobResult> {
    return new Promise((resolve, reject) => {
      this.held.push({ job, resolve, reject });
      if (this.held.length === this.expected) void this.release();
    });
  }

  private async release(): Promise<void> {
    for (const { job, resolve, reject } of [...this.held].reverse()) {
      await this.inner.run(job).then((r) => {
        this.completed.push(job.out);
        resolve(r);
      }, reject);
    }
  }

  async close(): Promise<void> {}
}

describe('runExperiment', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'droptune-exp-lib-'));

  it('reports methods and picks in plan order, not in the order their runs finish', async () => {
    const plan = planExperiment({ ...TINY, methods: ['grid', 'ucb'], out: path.join(tmp, 'order') });
    const executor = new ReversingExecutor(plan.tasks.length);
    const groups: string[] = [];
    const result = await runExperiment(plan, { executor, onGroup: (r) => groups.push(`${r.method}/${r.seed}`) });
    // The runs finish out of plan order: the reverse of their dispatch, which puts the longest (ucb) first.
    const ids = plan.tasks.map((t) => t.id);
    expect(executor.completed).to.have.members(ids);
    expect(executor.completed.slice(-2)).to.deep.equal([ids[7], ids[3]]);
    expect(groups).to.deep.equal(['grid/0', 'ucb/0', 'grid/1', 'ucb/1']);
    expect(result.picks.map((p) => `${p.method}/${p.seed}`)).to.deep.equal(groups);
  });

  it('leaves out the method/seeds whose runs failed, with one line per failed run, and keeps the rest', async () => {
    const out = path.join(tmp, 'failing');
    const plan = planExperiment({ ...TINY, methods: ['grid', 'late'], out, workers: 1 });
    // after the plan was checked, something takes the place of seed 1's folder: its runs fail as they start
    mkdirSync(path.join(out, 'runs'), { recursive: true });
    writeFileSync(path.join(out, 'runs', 's1'), 'a file where seed 1 would put its runs\n');
    const groups: GroupReport[] = [];
    const result = await runExperiment(plan, { onGroup: (r) => groups.push(r) });
    const written = await writeExperiment(plan, result, 'wasm');
    expect(result.picks.map((p) => `${p.method}/${p.seed}`)).to.deep.equal(['grid/0', 'late/0']);
    expect(result.missing.map((m) => `${m.method}/${m.seed}`)).to.deep.equal(['grid/1', 'late/1']);
    expect(result.failures).to.have.length(6);
    const first = path.join(out, 'runs', 's1', 'grid-r10');
    expect(result.failures[0]).to.equal(
      `run ${first} failed: --out ${first} lies under ${path.join(out, 'runs', 's1')}, which is a file: choose a folder path`,
    );
    expect(
      groups.map((g) => ('missing' in g ? `${g.method}/${g.seed} missing` : `${g.method}/${g.seed}`)),
    ).to.deep.equal(['grid/0', 'late/0', 'grid/1 missing', 'late/1 missing']);
    expect(written.table.note).to.match(/left out, a run did not finish: grid seed 1, late seed 1$/);
    expect(written.table.rows.map((row) => row.slice(0, 2))).to.deep.equal([
      ['grid', '1'],
      ['late', '1'],
    ]);
    const json = JSON.parse(readFileSync(path.join(out, 'experiment.json'), 'utf8'));
    expect(json.missing).to.have.length(2);
    expect(written.compareFiles.length).to.be.greaterThan(0); // over the seed that finished
  });

  it('on a stop, starts no other run, keeps what finished and says why the rest is missing', async () => {
    const plan = planExperiment({ ...TINY, methods: ['grid', 'ucb'], out: path.join(tmp, 'stopped') });
    const stop = new StopFlag();
    const result = await runExperiment(plan, {
      executor: new InProcessExecutor(),
      stop,
      onOutcome: () => stop.request(),
    });
    expect(result.interrupted).to.equal(true);
    expect(result.picks).to.deep.equal([]);
    expect(readdirSync(path.join(tmp, 'stopped', 'runs', 's0'))).to.deep.equal(['grid-r10']);
    expect(result.missing.map((m) => `${m.method}/${m.seed}: ${m.reason}`)).to.deep.equal([
      'grid/0: a run was not started (stopped before it started)',
      'ucb/0: a run was not started (stopped before it started)',
      'grid/1: a run was not started (stopped before it started)',
      'ucb/1: a run was not started (stopped before it started)',
    ]);
  });

  it('names --workers and what is allowed for a bad value', () => {
    for (const workers of [0, 1.5, -2]) {
      expect(() => checkExperimentConfig({ workers })).to.throw(
        ConfigError,
        `--workers must be an integer in [1, 256], got ${workers}`,
      );
    }
    expect(checkExperimentConfig({ workers: 3 }).workers).to.equal(3);
  });

  it('prints a table over the picks it has, with a dash for a method with none', () => {
    const table = experimentTable([], ['grid'], 1, [{ method: 'grid', seed: 0, reason: 'x' }]);
    expect(table.rows).to.deep.equal([['grid', '0', '—', '—', '—', '—', '—', '—', '—', '—']]);
  });
});

describe('experiment preset fields', () => {
  it('lets every preset field be overridden, env options included, and passes them to every run', () => {
    const plan = planExperiment({
      ...TINY,
      trainSize: 48,
      valSize: 24,
      testSize: 24,
      epochs: 3,
      grid: [0, 0.4],
      options: { lr: 0.01, batchSize: 16 },
      methods: ['grid', 'ucb', 'pbt'],
      out: path.join(tmpdir(), 'droptune-unused-plan'),
    });
    expect(plan.preset).to.include({ trainSize: 48, valSize: 24, testSize: 24, epochs: 3 });
    expect(plan.tasks.map((t) => path.basename((t.job as Job).out))).to.deep.equal([
      'grid-r00',
      'grid-r40',
      'ucb-ucb',
      'pbt-pbt',
      'grid-r00',
      'grid-r40',
      'ucb-ucb',
      'pbt-pbt',
    ]);
    for (const task of plan.tasks)
      expect((task.job as Job).options).to.include({ trainSize: 48, epochs: 3, lr: 0.01, batchSize: 16 });
    // the population starts on the grid, and every method is charged the grid's 2 × 3 epochs per seed
    expect((plan.tasks[3]!.job as Job).options['populationRates']).to.deep.equal([0, 0.4]);
    expect(plan.totalEpochs).to.equal(2 * 3 * 6);
  });

  it("gives successive halving the grid's budget over the grid's range, and charges what it trains", () => {
    const plan = planExperiment({
      ...TINY,
      epochs: 9,
      grid: [0.1, 0.3, 0.5, 0.7],
      seeds: 1,
      methods: ['grid', 'sha', 'sha-schedule'],
      out: path.join(tmpdir(), 'droptune-unused-plan'),
    });
    const [sha, schedules] = plan.tasks.slice(4).map((t) => (t.job as Job).options);
    expect(sha).to.include({ agent: 'sha', budget: 4 * 9, scheduleShare: 0 });
    expect(sha!['rateRange']).to.deep.equal([0.1, 0.7]);
    expect(schedules).to.include({ agent: 'sha', scheduleShare: 1 });
    // grace 3, rungs 3 and 9: 8 candidates × 3 + 2 × 6 = 36 epochs, the grid's 4 × 9
    expect(plan.totalEpochs).to.equal(36 + 36 + 36);
  });

  it('names the field and what is allowed for a bad value', () => {
    expect(() => checkExperimentConfig({ grid: [0.2, 1.2] })).to.throw(
      ConfigError,
      '--grid must be in [0, 1), got 1.2',
    );
    expect(() => checkExperimentConfig({ grid: [0.2, 0.2] })).to.throw(
      ConfigError,
      '--grid must not repeat a rate, got 0.2,0.2',
    );
    expect(() => checkExperimentConfig({ epochs: 0 })).to.throw(ConfigError, '--epochs must be an integer >= 1, got 0');
    expect(() => planExperiment({ ...TINY, options: { lr: -1 } })).to.throw(ConfigError, /^--lr must be in/);
  });
});

describe('experiment verdict', () => {
  /** Picks of `method` whose test accuracy is the grid's 0.9 plus `diffs[seed]`. */
  const picks = (method: string, diffs: number[], schedule = [[0.3]], epochs = 80): MethodPick[] =>
    diffs.map((d, seed) => ({
      method,
      seed,
      valAcc: 0.9,
      testAcc: 0.9 + d,
      epochs,
      schedule,
      from: `${method}/${seed}`,
    }));
  const grid = picks('grid', [0, 0, 0, 0, 0]);

  it('leaves the bandits out of the headline and compares one-run methods with the default-rate run', () => {
    const all = [
      ...grid,
      ...picks('ucb', [0.01, 0.012, 0.008, 0.011, 0.009]),
      ...picks('default', [-0.02, -0.02, -0.02, -0.02, -0.02], [[0.5]], 10),
      ...picks('policy', [0, 0, 0, 0, 0], [[0.3]], 10),
    ];
    const text = verdictText(all, ['grid', 'ucb', 'policy', 'default']);
    // ucb beats the grid here, yet is not in the headline's "beats the grid"
    expect(text).to.include('- beats the grid: none');
    expect(text).to.match(/- left out of the headline \(in G episodes .*\): ucb beats the grid$/m);
    expect(text).to.include(
      '- against one run at the default rate, at 1/G compute: policy +2.00 ± 0.00 pts (beats it)',
    );
  });

  it('gives the bandits the grid as arms, concrete-g one run per grid rate, default 0.5 (a CNN 0.25)', () => {
    const plan = planExperiment({
      ...TINY,
      grid: [0, 0.2, 0.4],
      methods: ['grid', 'ucb', 'concrete', 'concrete-g', 'default'],
      out: path.join(tmpdir(), 'droptune-plan-methods'),
    });
    const optionsOf = (method: string) =>
      plan.groups
        .filter((g) => g.seed === 0 && g.method.name === method)
        .flatMap((g) => g.tasks.map((t) => (typeof t.job === 'function' ? {} : t.job.options)));
    expect(optionsOf('ucb')[0]).to.include({ phases: 2, action: 'absolute', ucbC: 0.01 });
    expect(optionsOf('ucb')[0]!['arms']).to.deep.equal([0, 0.2, 0.4]);
    expect(optionsOf('concrete-g').map((o) => o['rate'])).to.deep.equal([0.05, 0.2, 0.4]);
    expect(optionsOf('concrete')[0]).to.include({ rate: 0.3, concreteDropout: true });
    expect(optionsOf('default')[0]).to.include({ agent: 'constant', rate: 0.5 });
    expect(defaultRate('cnn:16,32/64')).to.equal(0.25);
  });

  it('says "beats the grid" only when the paired 95% interval lies above 0', () => {
    const all = [
      ...grid,
      ...picks('up', [0.01, 0.012, 0.008, 0.011, 0.009]),
      ...picks('mixed', [0.02, -0.02, 0.01, -0.01, 0.005]),
      ...picks('down', [-0.01, -0.012, -0.008, -0.011, -0.009]),
    ];
    const verdicts = methodVerdicts(all, ['grid', 'up', 'mixed', 'down']);
    expect(verdicts.map((v) => [v.method, v.verdict])).to.deep.equal([
      ['up', 'beats the grid'],
      ['mixed', 'no detectable difference'],
      ['down', 'worse'],
    ]);
    expect(verdicts[0]!.diff!.mean).to.be.closeTo(0.01, 1e-12);
    expect(verdicts[0]!.wins).to.equal(5);
    expect(verdictOf(undefined)).to.equal('no detectable difference');
    expect(verdictText(all, ['grid', 'up', 'mixed', 'down'])).to.equal(
      [
        "Verdict (test accuracy, paired by seed against the grid's pick, 95% CI):",
        "- beats the grid: up (+1.00 ± 0.20 pts, 1.00× the grid's epochs)",
        "- worse than the grid: down (-1.00 ± 0.20 pts, 1.00× the grid's epochs)",
        '- no detectable difference: mixed',
      ].join('\n'),
    );
    // fewer than 5 seeds: said plainly
    expect(
      verdictText(
        all.filter((p) => p.seed < 3),
        ['grid', 'up'],
      ),
    ).to.match(
      /\n\(3 seeds: an interval rests on a spread estimated from 3 differences; read this as a smoke test, not a finding\)$/,
    );
  });

  it('prints the detectable effect, raw and Holm verdicts, and says when the seeds are too few', () => {
    const all = [
      ...grid,
      ...picks('up', [0.01, 0.012, 0.008, 0.011, 0.009]),
      ...picks('mixed', [0.02, -0.02, 0.01, -0.01, 0.005]),
    ];
    const [up, mixed] = methodVerdicts(all, ['grid', 'up', 'mixed']);
    // up: sd 0.00158 over 5 seeds, (t_{.975,4} + t_{.8,4}) = 2.776 + 0.941 = 3.717: 3.717 · 0.00158 / √5 = 0.00263
    expect(up!.detectable!).to.be.closeTo(0.00263, 2e-5);
    expect(up!.underpowered).to.equal(false);
    expect(up!.holmVerdict).to.equal('beats the grid');
    expect(mixed!.underpowered).to.equal(true);
    expect(mixed!.seedsNeeded!).to.be.above(5);
    const text = powerText(all, ['grid', 'up', 'mixed']);
    expect(text).to.match(
      /- up: detectable 0\.26 pts at 5 seeds; p 0\.000, Holm 0\.000; raw: beats the grid; Holm: beats the grid$/m,
    );
    expect(text).to.match(
      /- mixed: .*raw: no detectable difference; Holm: no detectable difference; underpowered: \d+ seeds would detect 0\.5 pts$/m,
    );
  });

  it("shows the epochs against the grid's and names methods that picked identical episodes", () => {
    const all = [
      ...grid,
      ...picks('ucb', [0.01, 0, 0, 0, 0], [[0.1]], 80),
      ...picks('random', [0.01, 0, 0, 0, 0], [[0.1]], 80),
      ...picks('policy', [0, 0, 0, 0, 0.01], [[0.2]], 10),
    ];
    const table = experimentTable(all, ['grid', 'ucb', 'random', 'policy'], 1);
    expect(table.rows.map((r) => [r[0], r[2], r[7]])).to.deep.equal([
      ['grid', '80', '—'],
      ['ucb', '80 (1.00×)', 'no detectable difference (same picks as random)'],
      ['random', '80 (1.00×)', 'no detectable difference (same picks as ucb)'],
      ['policy', '10 (0.13×)', 'no detectable difference'],
    ]);
  });
});
