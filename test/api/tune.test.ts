import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { DropoutEnv } from '../../envs/dropout-env.js';
import { ConfigError } from '../../src/core/errors.js';
import { loadDataset } from '../../src/data/dataset.js';
import { datasetFromArrays } from '../../src/data/from-arrays.js';
import { readRun } from '../../src/store/read-run.js';
import { makeAgent } from '../../src/run/make-agent.js';
import { tune } from '../../src/api/tune.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TASK = {
  dataset: 'synthetic',
  trainSize: 192,
  valSize: 96,
  testSize: 96,
  model: 'mlp:32,16',
  batchSize: 32,
  epochs: 3,
  seed: 5,
};

/** A log file's JSON values without timings (`*Ms`) and the folder's own name. */
function logOf(dir: string, file: string): unknown[] {
  const text = readFileSync(path.join(dir, file), 'utf8');
  const lines = file.endsWith('.jsonl') ? text.split('\n').filter(Boolean) : [text];
  return lines.map((line) =>
    JSON.parse(line, (key, value: unknown) => (key.endsWith('Ms') || key === 'out' ? undefined : value)),
  );
}

describe('tune()', () => {
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync(path.join(tmpdir(), 'droptune-tune-'))));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('writes the same run folder as npm run agent given the same options', async () => {
    const fromCode = await tune({ ...TASK, agent: 'epsilon-greedy', episodes: 2, out: path.join(tmp, 'code') });
    expect(fromCode.out).to.equal(path.join(tmp, 'code'));
    expect(fromCode.records.map((r) => r.epochs)).to.deep.equal([3, 3]);
    const flags = [
      '--agent',
      'epsilon-greedy',
      '--episodes',
      '2',
      '--dataset',
      'synthetic',
      '--train-size',
      '192',
      '--val-size',
      '96',
      '--test-size',
      '96',
      '--model',
      'mlp:32,16',
      '--batch-size',
      '32',
      '--epochs',
      '3',
      '--seed',
      '5',
    ];
    const cli = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/agent.ts', ...flags, '--out', path.join(tmp, 'cli')],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(cli.status, cli.stderr).to.equal(0);
    for (const file of ['config.json', 'steps.jsonl', 'episodes.jsonl', 'summary.json', 'agent.json']) {
      expect(logOf(fromCode.out, file), file).to.deep.equal(logOf(path.join(tmp, 'cli'), file));
    }
  });

  it('trains on a dataset given in memory and records it as memory:<name>', async () => {
    // two well-separated blobs in 4 features: any model learns them
    const x = Array.from({ length: 120 }, (_, i) => [i % 2 ? 1 : -1, (i % 7) / 7, i % 2 ? 0.5 : -0.5, 0]);
    const y = Array.from({ length: 120 }, (_, i) => i % 2);
    const data = datasetFromArrays({ name: 'blobs', x, y, valSize: 20, testSize: 20 });
    const result = await tune({
      dataset: data,
      agent: 'constant',
      rate: 0.1,
      episodes: 1,
      epochs: 3,
      model: 'mlp:8',
      lr: 0.05,
      batchSize: 16,
      seed: 2,
      out: path.join(tmp, 'blobs'),
    });
    const { value: run } = readRun(result.out);
    expect(run.config.options).to.include({ dataset: 'memory:blobs', trainSize: 80, valSize: 20, testSize: 20 });
    expect(run.steps).to.have.length(3);
    expect(result.summary!.best.testAcc).to.equal(1);
    let error: unknown;
    await tune({ dataset: data, trainSize: 10, out: path.join(tmp, 'sized') }).catch((err: unknown) => (error = err));
    expect((error as Error).message).to.equal(
      'trainSize does not apply to a dataset given in memory: it is already split (80/20/20)',
    );
  });

  it('throws a ConfigError naming the option, before training', async () => {
    let error: unknown;
    // (a strict tsc refuses it already: rate is not an option of ucb)
    await tune({ ...TASK, agent: 'ucb', rate: 0.3, out: path.join(tmp, 'bad') } as never).catch(
      (err: unknown) => (error = err),
    );
    expect(error).to.be.instanceOf(ConfigError);
    // in code's keys, not the CLI's flags
    expect((error as Error).message).to.equal(
      'rate does not apply to agent ucb (its options: ucbC, perEpoch, phases, arms, credit, poolPulls)',
    );
    const refused = async (options: Record<string, unknown>) =>
      tune({ ...TASK, out: path.join(tmp, 'never'), ...options } as never).then(
        () => 'trained',
        (err: unknown) => (err instanceof ConfigError ? err.message : `not a ConfigError: ${String(err)}`),
      );
    expect(await refused({ episdoes: 1 })).to.equal(
      "tune(): unknown option 'episdoes': did you mean 'episodes'? (tune() takes the options of npm run agent keyed as in code, e.g. trainSize)",
    );
    expect(await refused({ replay: 'runs/x#1' })).to.match(
      /^tune\(\): 'replay' is not an option here: tune\(\) starts a new run/,
    );
    expect(await refused({ resume: 'runs/x' })).to.equal(
      'tune(): resume takes the data its run recorded: give no dataset',
    );
    expect(await refused({ dashboard: true })).to.match(/^tune\(\): unknown option 'dashboard'/);
  });
});

describe('makeAgent()', () => {
  let env: DropoutEnv;
  before(
    () =>
      (env = new DropoutEnv(loadDataset({ dataset: 'synthetic', trainSize: 96, valSize: 48, testSize: 48 }), {
        model: 'mlp:16,8',
        maxEpochs: 2,
        actionMode: 'absolute',
      })),
  );
  after(() => env.dispose());

  it("builds any registered agent for an env, its options checked and seeded by the agent's name", () => {
    const agent = makeAgent('constant', env, { rate: 0.25 });
    expect(agent.name).to.equal('constant');
    const obs = new Array<number>(env.observationNames.length).fill(0);
    expect(agent.act(obs, { epoch: 0, rates: [0.5, 0.5] } as never)).to.deep.equal([0.25, 0.25]);
    const draws = (seed: number) => {
      const a = makeAgent('random', env, {}, seed);
      return [0, 1, 2].map(() => a.act(obs, { epoch: 0, rates: [0, 0] } as never));
    };
    expect(draws(1)).to.deep.equal(draws(1));
    expect(draws(1)).to.not.deep.equal(draws(2));
  });

  it('refuses an unknown agent, a foreign option and a population agent in one line each', () => {
    expect(() => makeAgent('ucbb', env)).to.throw(ConfigError, /^--agent must be one of .*ucb.*, got 'ucbb'$/);
    expect(() => makeAgent('ucb', env, { rate: 0.2 })).to.throw(ConfigError, /^--rate does not apply to --agent ucb/);
    expect(() => makeAgent('pbt', env)).to.throw(ConfigError, /not an agent.*scheduler over many runs/);
  });
});
