import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/core/errors.js';
import { resolveRun } from '../../src/run/run.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TINY = [
  '--dataset',
  'synthetic',
  '--train-size',
  '128',
  '--val-size',
  '64',
  '--test-size',
  '64',
  '--model',
  'mlp:16,8',
  '--lr',
  '0.01',
  '--batch-size',
  '32',
];

function agent(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/agent.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

/** A run's log lines with every timing field (`*Ms`) removed. */
function logWithoutTimings(dir: string, file: string): unknown[] {
  return readFileSync(path.join(dir, file), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line, (key, value: unknown) => (key.endsWith('Ms') ? undefined : value)));
}

describe('npm run agent', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'droptune-cli-'));

  it('writes the same steps.jsonl and episodes.jsonl for the same seed, and different ones for another', () => {
    const dirs = ['a', 'b', 'c'].map((d) => path.join(tmp, d));
    const stdout: string[] = [];
    for (const [dir, seed] of [
      [dirs[0]!, '3'],
      [dirs[1]!, '3'],
      [dirs[2]!, '4'],
    ] as const) {
      const r = agent([...TINY, '--episodes', '2', '--epochs', '3', '--seed', seed, '--out', dir]);
      expect(r.status, r.stderr).to.equal(0);
      stdout.push(r.stdout);
    }
    for (const file of ['steps.jsonl', 'episodes.jsonl']) {
      expect(logWithoutTimings(dirs[1]!, file)).to.deep.equal(logWithoutTimings(dirs[0]!, file));
      expect(logWithoutTimings(dirs[2]!, file)).to.not.deep.equal(logWithoutTimings(dirs[0]!, file));
    }
    const steps = logWithoutTimings(dirs[0]!, 'steps.jsonl') as Record<string, unknown>[];
    expect(steps).to.have.length(6);
    expect(Object.keys(steps[0]!)).to.include.members([
      'episode',
      'epoch',
      'rates',
      'action',
      'reward',
      'trainLoss',
      'valLoss',
      'valAcc',
      'trainAcc',
      'observation',
    ]);
    const summary = JSON.parse(readFileSync(path.join(dirs[0]!, 'summary.json'), 'utf8'));
    const episodes = logWithoutTimings(dirs[0]!, 'episodes.jsonl') as { valAcc: number; schedule: number[][] }[];
    const best = episodes.reduce((b, e) => (e.valAcc > b.valAcc ? e : b));
    expect(summary.best.schedule).to.deep.equal(best.schedule);
    // one numbering, from 1, in the files and in what is printed
    expect(steps.map((s) => s['episode'])).to.deep.equal([1, 1, 1, 2, 2, 2]);
    expect((episodes as unknown as { episode: number }[]).map((e) => e.episode)).to.deep.equal([1, 2]);
    expect([summary.first.episode, summary.last.episode]).to.deep.equal([1, 2]);
    expect(stdout[0])
      .to.match(/^episode 1\/2 epoch 1\/3/m)
      .and.match(/^episode 2\/2 done/m);
    expect(stdout[0])
      .to.include(`Best schedule: episode ${summary.best.episode},`)
      .and.include(`--replay ${dirs[0]}#${summary.best.episode}`);
    const config = JSON.parse(readFileSync(path.join(dirs[0]!, 'config.json'), 'utf8'));
    expect(config).to.include({ seed: 3 });
    expect(config.options).to.include({
      agent: 'thompson',
      episodes: 2,
      epochs: 3,
      dataset: 'synthetic',
      model: 'mlp:16,8',
    });
    expect(config.versions).to.have.property('@tensorflow/tfjs');
  });

  it('replays a best schedule with --agent schedule --schedule summary.json', () => {
    const dir = path.join(tmp, 'replay');
    const r = agent([
      ...TINY,
      '--agent',
      'schedule',
      '--schedule',
      path.join(tmp, 'a', 'summary.json'),
      '--episodes',
      '1',
      '--epochs',
      '3',
      '--seed',
      '3',
      '--out',
      dir,
    ]);
    expect(r.status, r.stderr).to.equal(0);
    const best = JSON.parse(readFileSync(path.join(tmp, 'a', 'summary.json'), 'utf8')).best;
    const replayed = logWithoutTimings(dir, 'episodes.jsonl') as { schedule: number[][] }[];
    expect(replayed[0]!.schedule).to.deep.equal(best.schedule);
  });

  it('rejects a bad option with one line on stderr, exit code 2, and no run folder', () => {
    const dir = path.join(tmp, 'bad');
    for (const [args, message] of [
      [['--agent', 'constant', '--rate', '1.5'], 'agent: --rate must be in [0, 1), got 1.5\n'],
      [
        ['--dataset', 'cifar'],
        "agent: --dataset must be one of mnist, fashion-mnist, synthetic, csv:FILE, idx:DIR, got 'cifar'\n",
      ],
      [['--train-size', '-3'], 'agent: --train-size must be an integer >= 1, got -3\n'],
    ] as const) {
      const r = agent([...args, '--out', dir]);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.equal(message);
      expect(existsSync(dir)).to.equal(false);
    }
  });

  it('on Ctrl-C finishes the epoch, flushes the log, says what was saved and exits non-zero', async () => {
    const dir = path.join(tmp, 'sigint');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/agent.ts',
        ...TINY,
        '--train-size',
        '2000',
        '--episodes',
        '500',
        '--epochs',
        '4',
        '--out',
        dir,
      ],
      { cwd: ROOT },
    );
    let stdout = '';
    let signalled = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!signalled && /episode 2\/500 epoch 1\/4/.test(stdout)) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).to.equal(130);
    expect(stdout).to.match(/saved: /);
    // The signal lands an epoch or two after the line that triggered it; the run stops within that.
    const steps = logWithoutTimings(dir, 'steps.jsonl') as { episode: number; epoch: number }[];
    expect(steps.length).to.be.within(5, 12);
    const episodes = logWithoutTimings(dir, 'episodes.jsonl');
    const summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    expect(summary).to.include({ interrupted: true, episodes: episodes.length, totalEpochs: steps.length });
    expect(episodes.length).to.equal(Math.floor(steps.length / 4));
  });
});

describe('resolveRun (the checks behind every agent option)', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ agent: 'nope' }, '--agent must be one of'],
    [{ episodes: 0 }, '--episodes must be an integer >= 1, got 0'],
    [{ epochs: 2.5 }, '--epochs must be an integer >= 1, got 2.5'],
    [{ model: 'mlp:' }, "--model must look like 'mlp:256,128' or 'cnn:16,32/64'"],
    [{ backend: 'tpu' }, "--backend must be one of auto, tensorflow, wasm, cpu, got 'tpu'"],
    [{ agent: 'ucb', epsilon: 0.1 }, '--epsilon does not apply to --agent ucb'],
    [{ initialRate: [0.1, 0.2, 0.3] }, '--initial-rate needs 1 or 2 values for mlp:256,128, got 3'],
    [{ loadAgent: '/nonexistent/agent.json' }, '--load-agent /nonexistent/agent.json: no such file'],
  ];
  for (const [given, message] of cases) {
    it(`rejects ${JSON.stringify(given)}`, () => {
      expect(() => resolveRun({ ...given, out: path.join(tmpdir(), 'droptune-never-written') })).to.throw(
        ConfigError,
        message,
      );
    });
  }

  it('refuses an --out folder that already holds files', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'droptune-out-'));
    writeFileSync(path.join(dir, 'x'), '');
    expect(() => resolveRun({ out: dir })).to.throw(ConfigError, 'already exists and is not empty');
    expect(readdirSync(dir)).to.deep.equal(['x']);
  });
});
