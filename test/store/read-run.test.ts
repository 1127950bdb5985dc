import { expect } from 'chai';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigError } from '../../src/core/errors.js';
import { findRunDirs, readRun, readRuns } from '../../src/store/read-run.js';
import { CORRUPT, FIXTURES, SWEEP, TRUNCATED_STEPS, hashTree } from '../helpers/run-fixtures.js';

/** The ConfigError `fn` throws (failing the test when it throws nothing or something else). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  expect.fail('expected a ConfigError');
}

describe('read-run', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'droptune-read-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  /** A copy of a fixture run that a test may damage. */
  const copyRun = (from: string): string => {
    const dir = join(tmp, 'run');
    cpSync(from, dir, { recursive: true });
    return dir;
  };

  it('reads a finished run: config, every step and episode, the summary', () => {
    const { value: run, warnings } = readRun(join(SWEEP, 'constant-s1'));
    expect(warnings).to.deep.equal([]);
    expect(run.name).to.equal('constant-s1');
    expect(run.config.options['agent']).to.equal('constant');
    expect(run.config.seed).to.equal(1);
    expect(run.steps).to.have.length(9);
    expect(run.episodes.map((e) => e.valAcc)).to.deep.equal([0.8, 0.84, 0.82]);
    expect(run.summary?.wallMs).to.equal(3500);
  });

  it('drops a truncated last line of episodes.jsonl with a warning and marks the run incomplete', () => {
    const { value: run, warnings } = readRun(join(SWEEP, 'thompson-s2'));
    expect(run.episodes.map((e) => e.episode)).to.deep.equal([1, 2]);
    expect(run.summary).to.equal(undefined);
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.match(/thompson-s2\/episodes\.jsonl:3: dropped a truncated last line/);
  });

  it('drops a truncated last line of steps.jsonl with a warning', () => {
    const { value: run, warnings } = readRun(TRUNCATED_STEPS);
    expect(run.steps.map((s) => s.epoch)).to.deep.equal([1, 2]);
    expect(run.episodes).to.have.length(1);
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.match(/truncated-steps\/steps\.jsonl:3: dropped a truncated last line/);
  });

  it('fails on a bad line in the middle, naming the file and line', () => {
    const err = configError(() => readRun(CORRUPT));
    expect(err.message).to.equal(`${join(CORRUPT, 'episodes.jsonl')}:2: not valid JSON`);
  });

  it('fails on a last line that does not parse although it ends with a newline', () => {
    const dir = copyRun(join(SWEEP, 'thompson-s2'));
    writeFileSync(join(dir, 'episodes.jsonl'), readFileSync(join(dir, 'episodes.jsonl'), 'utf8') + '\n');
    expect(configError(() => readRun(dir)).message).to.equal(`${join(dir, 'episodes.jsonl')}:3: not valid JSON`);
  });

  it('fails on a record missing a required field, naming file, line and field', () => {
    const dir = copyRun(join(SWEEP, 'constant-s1'));
    const lines = readFileSync(join(dir, 'episodes.jsonl'), 'utf8').split('\n');
    const second = JSON.parse(lines[1]!) as Record<string, unknown>;
    delete second['testAcc'];
    lines[1] = JSON.stringify(second);
    writeFileSync(join(dir, 'episodes.jsonl'), lines.join('\n'));
    expect(configError(() => readRun(dir)).message).to.equal(`${join(dir, 'episodes.jsonl')}:2: missing 'testAcc'`);
  });

  it('fails without config.json or episodes.jsonl', () => {
    const dir = copyRun(join(SWEEP, 'constant-s1'));
    rmSync(join(dir, 'episodes.jsonl'));
    expect(configError(() => readRun(dir)).message).to.match(/run\/episodes\.jsonl: no such file/);
    rmSync(join(dir, 'config.json'));
    expect(configError(() => readRun(dir)).message).to.match(/run\/config\.json: no such file/);
  });

  it('reads a diverged loss written as null as NaN, not 0', () => {
    const dir = copyRun(join(SWEEP, 'constant-s1'));
    const lines = readFileSync(join(dir, 'steps.jsonl'), 'utf8').split('\n');
    lines[0] = JSON.stringify({ ...(JSON.parse(lines[0]!) as object), valLoss: null });
    writeFileSync(join(dir, 'steps.jsonl'), lines.join('\n'));
    expect(Number.isNaN(readRun(dir).value.steps[0]!.valLoss)).to.equal(true);
  });

  it('finds runs in a folder of runs, in a list, or a mix, once each', () => {
    expect(findRunDirs([SWEEP]).map((d) => d.slice(SWEEP.length + 1))).to.deep.equal([
      'constant-s1',
      'constant-s2',
      'constant-s3',
      'thompson-s1',
      'thompson-s2',
    ]);
    expect(findRunDirs([join(SWEEP, 'thompson-s1'), TRUNCATED_STEPS])).to.have.length(2);
    expect(findRunDirs([SWEEP, join(SWEEP, 'thompson-s1'), TRUNCATED_STEPS])).to.have.length(6);
  });

  it('finds runs nested in a folder of runs (an experiment inside runs/), once each, and says what lies too deep', () => {
    const root = join(tmp, 'nested', 'runs');
    const place = (from: string, ...to: string[]) => cpSync(join(SWEEP, from), join(root, ...to), { recursive: true });
    place('constant-s1', 'mine');
    place('constant-s2', 'experiment-quick-2026-11-23-1109', 'runs', 's0', 'grid-0.1');
    place('constant-s3', 'experiment-quick-2026-11-23-1109', 'runs', 's1', 'grid-0.1');
    place('thompson-s1', 'a', 'b', 'c', 'd', 'e', 'too-deep');
    const experiment = join(root, 'experiment-quick-2026-11-23-1109');
    const { value: runs, warnings } = readRuns([root, experiment]);
    expect(runs.map((r) => r.name)).to.deep.equal(['s0/grid-0.1', 's1/grid-0.1', 'mine']);
    expect(warnings).to.deep.equal([
      `${join(root, 'a', 'b', 'c', 'd', 'e')}: not searched for runs (more than 5 levels down); name it to include the runs inside`,
    ]);
    expect(findRunDirs([join(root, 'a')])).to.deep.equal([join(root, 'a', 'b', 'c', 'd', 'e', 'too-deep')]);
  });

  it('fails when nothing is found', () => {
    expect(configError(() => findRunDirs([join(tmp, 'nope')])).message).to.equal(
      `no such folder: ${join(tmp, 'nope')}`,
    );
    expect(configError(() => findRunDirs([tmp])).message).to.match(/neither a run folder .* nor a folder of runs/);
    expect(configError(() => findRunDirs([])).message).to.equal('no run folders given');
  });

  it('names runs by folder, adding the parent when two share a name', () => {
    cpSync(join(SWEEP, 'thompson-s1'), join(tmp, 'thompson-s1'), { recursive: true });
    const names = readRuns([join(SWEEP, 'thompson-s1'), join(tmp, 'thompson-s1')]).value.map((r) => r.name);
    expect(names[0]).to.equal('sweep/thompson-s1');
    expect(names[1]).to.match(/^droptune-read-.*\/thompson-s1$/);
  });

  it('never modifies the run folders', () => {
    const before = hashTree(FIXTURES);
    readRuns([SWEEP, TRUNCATED_STEPS]);
    configError(() => readRun(CORRUPT));
    expect(hashTree(FIXTURES)).to.equal(before);
  });
});
