import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/core/errors.js';
import { readCheckpoint, writeCheckpoint } from '../../src/store/checkpoint.js';
import { acquireRunLock, cutLogsBack, truncateLines } from '../../src/store/run-folder.js';

const folder = () => mkdtempSync(path.join(tmpdir(), 'droptune-folder-'));

describe('run folder lock', () => {
  it('is taken once: a second taker in this process is refused in one line naming the file to delete', () => {
    const dir = folder();
    const release = acquireRunLock(dir, () => undefined);
    expect(() => acquireRunLock(dir, () => undefined)).to.throw(
      ConfigError,
      /is being written by process \d+: .*delete .*run\.lock/,
    );
    release();
    expect(existsSync(path.join(dir, 'run.lock'))).to.equal(false);
  });

  it('takes over a lock with our pid from an earlier process (a pid reused after a restart), with a warning', () => {
    const dir = folder();
    writeFileSync(
      path.join(dir, 'run.lock'),
      JSON.stringify({ pid: process.pid, hostname: hostname(), token: 'an earlier process' }),
    );
    const warnings: string[] = [];
    acquireRunLock(dir, (m) => warnings.push(m))();
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.match(/taking over the lock/);
  });

  it('keeps a lock held on another host', () => {
    const dir = folder();
    writeFileSync(path.join(dir, 'run.lock'), JSON.stringify({ pid: 1, hostname: `not-${hostname()}` }));
    expect(() => acquireRunLock(dir, () => undefined)).to.throw(ConfigError, /process 1 on host not-/);
  });
});

describe('checkpoints and log repair', () => {
  it('keeps one binary per checkpoint even for writes in the same millisecond, and reads the last', () => {
    const dir = folder();
    for (let i = 0; i < 5; i++) writeCheckpoint(dir, 'c', { i, values: new Float32Array([i, Number.NaN]) });
    expect(readdirSync(dir).filter((f) => f.endsWith('.bin'))).to.have.length(1);
    const read = readCheckpoint(dir, 'c') as { i: number; values: Float32Array };
    expect(read.i).to.equal(4);
    expect(Array.from(read.values)).to.deep.equal([4, Number.NaN]);
  });

  it('cuts a log back to the lines a checkpoint counts, reporting a torn last line', () => {
    const dir = folder();
    const file = path.join(dir, 'steps.jsonl');
    writeFileSync(file, '{"a":1}\n{"a":2}\n{"a":3}\n{"a":');
    expect(truncateLines(file, 2)).to.deep.equal({ dropped: 2, torn: true });
    expect(() => truncateLines(file, 3)).to.throw(ConfigError, /2 complete lines, but the checkpoint counts 3/);
  });

  it('cuts several logs back at a resume, one note per log that lost lines, naming the unit in progress', () => {
    const dir = folder();
    const steps = path.join(dir, 'steps.jsonl');
    const lineage = path.join(dir, 'lineage.jsonl');
    const episodes = path.join(dir, 'episodes.jsonl');
    writeFileSync(steps, '{"a":1}\n{"a":2}\n{"a":3}\n');
    writeFileSync(lineage, '{"b":1}\n{"b":');
    writeFileSync(episodes, '{"c":1}\n');
    const notes: string[] = [];
    cutLogsBack(
      [
        [steps, 1],
        [lineage, 1],
        [episodes, 1],
      ],
      'generation',
      (m) => notes.push(m),
    );
    expect(notes).to.deep.equal([
      `${steps}: dropped 2 lines of the generation that was in progress`,
      `${lineage}: repaired a torn last line (the process died while writing it)`,
    ]);
    expect(readFileSync(steps, 'utf8')).to.equal('{"a":1}\n');
    expect(readFileSync(lineage, 'utf8')).to.equal('{"b":1}\n');
  });
});
