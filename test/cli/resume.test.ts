import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { killWhen } from '../helpers/processes.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
// Big enough that an epoch takes a visible moment (so a kill can land inside one), small enough for a test.
const RUN = [
  '--dataset',
  'synthetic',
  '--train-size',
  '384',
  '--val-size',
  '64',
  '--test-size',
  '64',
  '--model',
  'mlp:64,32',
  '--lr',
  '0.01',
  '--batch-size',
  '32',
  '--agent',
  'ucb',
  '--episodes',
  '2',
  '--epochs',
  '3',
  '--seed',
  '5',
];
const EPOCHS = 3;
const LOG_FILES = ['steps.jsonl', 'episodes.jsonl', 'agent.json', 'summary.json'];

function agent(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/agent.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

/** A file's JSON values (one per line for .jsonl) with every timing field (`*Ms`) removed. */
function withoutTimings(dir: string, file: string): unknown[] {
  const text = readFileSync(path.join(dir, file), 'utf8');
  const lines = file.endsWith('.jsonl') ? text.trim().split('\n') : [text];
  return lines.map((line) => JSON.parse(line, (key, value: unknown) => (key.endsWith('Ms') ? undefined : value)));
}

const lineCount = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').length - 1 : 0);

/** Starts the agent and SIGKILLs it once `when(dir)` holds. */
function killAgentWhen(dir: string, when: (dir: string) => boolean): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/agent.ts', ...RUN, '--out', dir], {
    cwd: ROOT,
    stdio: 'ignore',
  });
  return killWhen(child, () => when(dir));
}

describe('npm run agent --resume', function () {
  this.timeout(300_000);
  const tmp = mkdtempSync(path.join(tmpdir(), 'droptune-resume-'));
  const reference = path.join(tmp, 'reference');

  before(() => {
    const r = agent([...RUN, '--out', reference]);
    expect(r.status, r.stderr).to.equal(0);
  });

  const expectSameAsReference = (dir: string) => {
    for (const file of LOG_FILES)
      expect(withoutTimings(dir, file), file).to.deep.equal(withoutTimings(reference, file));
    expect(readdirSync(dir).sort(), 'no checkpoint or lock left').to.deep.equal([
      'agent.json',
      'config.json',
      'episodes.jsonl',
      'steps.jsonl',
      'summary.json',
    ]);
  };

  const points: [string, (dir: string) => boolean][] = [
    ['in the first epoch, before any checkpoint', (dir) => existsSync(path.join(dir, 'config.json'))],
    ['mid-episode, after two epochs', (dir) => lineCount(path.join(dir, 'steps.jsonl')) >= 2],
    ['between episodes', (dir) => lineCount(path.join(dir, 'episodes.jsonl')) >= 1],
  ];
  for (const [label, when] of points) {
    it(`continues a run SIGKILLed ${label} to the same logs`, async () => {
      const dir = path.join(tmp, label.replace(/\W+/g, '-'));
      await killAgentWhen(dir, when);
      const r = agent(['--resume', dir]);
      expect(r.status, r.stderr).to.equal(0);
      expectSameAsReference(dir);
    });
  }

  it('repairs a torn last line and takes over a stale lock, with warnings', async () => {
    const dir = path.join(tmp, 'torn');
    await killAgentWhen(dir, (d) => lineCount(path.join(d, 'steps.jsonl')) >= 3);
    // As if the process had died while writing: half a line, and the lock of a process that is gone.
    appendFileSync(path.join(dir, 'steps.jsonl'), '{"episode":0,"epoch":');
    writeFileSync(path.join(dir, 'run.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, hostname: hostname() }));
    const r = agent(['--resume', dir]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/steps\.jsonl: repaired a torn last line/);
    expect(r.stderr).to.match(/taking over the lock of .*: its process \d+ is gone/);
    expectSameAsReference(dir);
  });

  it('refuses a folder another live process is writing', () => {
    const dir = path.join(tmp, 'locked');
    cpSync(reference, dir, { recursive: true });
    writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ interrupted: true }));
    writeFileSync(path.join(dir, 'run.lock'), JSON.stringify({ pid: process.pid, hostname: 'x' }));
    const r = agent(['--resume', dir]);
    expect(r.status).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.match(/--out .* is being written by process \d+/);
  });

  it('says a finished run has nothing to resume, tidies what a kill after its summary left, and takes no other options', () => {
    const dir = path.join(tmp, 'finished-with-leftovers');
    cpSync(reference, dir, { recursive: true });
    // Killed after writing its summary, before removing its checkpoint and lock.
    for (const file of ['checkpoint.json', 'checkpoint-1-2.bin', '.summary.json.123.tmp'])
      writeFileSync(path.join(dir, file), '{}');
    writeFileSync(path.join(dir, 'run.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, hostname: hostname() }));
    const done = agent(['--resume', dir]);
    expect(done.status).to.equal(0);
    expect(done.stdout).to.match(/has finished: nothing to resume/);
    expect(readdirSync(dir).sort()).to.deep.equal(readdirSync(reference).sort());
    const mixed = agent(['--resume', reference, '--episodes', '9']);
    expect(mixed.status).to.equal(2);
    expect(mixed.stderr).to.match(/--resume takes no other options but --backend \(got --episodes\)/);
  });
});

describe('stopping npm run agent', function () {
  this.timeout(300_000);
  const tmp = mkdtempSync(path.join(tmpdir(), 'droptune-stop-'));
  const reference = path.join(tmp, 'reference');
  before(() => {
    expect(agent([...RUN, '--out', reference]).status).to.equal(0);
  });

  /** Runs `command` in its own process group and sends `signal` to the group once an episode is logged. */
  function stopAfterFirstEpisode(command: string, args: string[], dir: string, signal: NodeJS.Signals) {
    const child = spawn(command, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    const poll = setInterval(() => {
      if (lineCount(path.join(dir, 'episodes.jsonl')) >= 1) {
        clearInterval(poll);
        process.kill(-child.pid!, signal); // as a terminal does: the whole foreground group
      }
    }, 5);
    return new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) =>
      child.on('exit', (code, sig) => {
        clearInterval(poll);
        // npm exits on the signal itself; wait for the group's node process to finish its epoch.
        setTimeout(() => resolve({ code, signal: sig, output }), 100);
      }),
    );
  }

  it('Ctrl-C through npm finishes the epoch, flushes the logs, says how to resume, and resumes to the same run', async () => {
    const dir = path.join(tmp, 'sigint');
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = await stopAfterFirstEpisode(npm, ['run', '--silent', 'agent', '--', ...RUN, '--out', dir], dir, 'SIGINT');
    expect(r.code === 130 || r.signal === 'SIGINT', `exit ${r.code} ${r.signal}`).to.equal(true);
    expect(r.output).to.match(/interrupted: finishing the current epoch/);
    expect(r.output).to.match(/continue with: npm run agent -- --resume /);
    for (const file of ['episodes.jsonl', 'agent.json', 'summary.json', 'checkpoint.json'])
      expect(existsSync(path.join(dir, file)), file).to.equal(true);
    expect(JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')).interrupted).to.equal(true);
    const resumed = agent(['--resume', dir]);
    expect(resumed.status, resumed.stderr).to.equal(0);
    for (const file of LOG_FILES)
      expect(withoutTimings(dir, file), file).to.deep.equal(withoutTimings(reference, file));
  });

  it('SIGTERM stops like Ctrl-C, with exit code 143', async () => {
    const dir = path.join(tmp, 'sigterm');
    const r = await stopAfterFirstEpisode(
      process.execPath,
      ['--import', 'tsx', 'src/cli/agent.ts', ...RUN, '--out', dir],
      dir,
      'SIGTERM',
    );
    expect(r.code, r.output).to.equal(143);
    expect(r.output).to.match(/terminated: finishing the current epoch/);
    expect(JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')).episodes).to.be.at.least(1);
    // The stop took effect at the next epoch boundary: at most one epoch past the first episode.
    expect(lineCount(path.join(dir, 'steps.jsonl'))).to.be.at.most(EPOCHS + 1);
  });
});

describe('npm run agent --replay', function () {
  this.timeout(120_000);
  it('trains a recorded episode again under its seed and reproduces its accuracies and losses exactly, also when resumed', async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'droptune-replay-'));
    const source = path.join(tmp, 'source');
    expect(agent([...RUN, '--out', source]).status).to.equal(0);
    const replay = path.join(tmp, 'replay');
    // episodes count from 1: #2 is the second episode, episodes.jsonl's line [1]
    const r = agent(['--replay', `${source}#2`, '--out', replay]);
    expect(r.status, r.stderr).to.equal(0);
    const recorded = (withoutTimings(source, 'episodes.jsonl') as Record<string, unknown>[])[1]!;
    expect(r.stdout).to.contain(`under its env seed ${String(recorded['seed'])}`);
    expect(r.stdout).to.match(/reproduced exactly/);
    const again = (withoutTimings(replay, 'episodes.jsonl') as Record<string, unknown>[])[0]!;
    for (const key of ['seed', 'valAcc', 'valLoss', 'testAcc', 'testLoss', 'initialValAcc', 'schedule'])
      expect(again[key], key).to.deep.equal(recorded[key]);
    const steps = (dir: string, episode: number) =>
      (withoutTimings(dir, 'steps.jsonl') as Record<string, unknown>[])
        .filter((s) => s['episode'] === episode)
        .map((s) => [s['trainLoss'], s['valLoss'], s['rates']]);
    expect(steps(replay, 1)).to.deep.equal(steps(source, 2));
    // A replay killed in its first epoch, before any checkpoint, resumes under the seed it replays.
    const killed = path.join(tmp, 'killed-replay');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/agent.ts', '--replay', `${source}#2`, '--out', killed],
      { cwd: ROOT, stdio: 'ignore' },
    );
    await killWhen(child, () => existsSync(path.join(killed, 'config.json')));
    expect(agent(['--resume', killed]).status).to.equal(0);
    expect(withoutTimings(killed, 'episodes.jsonl')).to.deep.equal(withoutTimings(replay, 'episodes.jsonl'));
  });
});
