import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigError } from '../../src/core/errors.js';
import { compareRuns } from '../../src/analysis/compare.js';
import { readRun, readRuns } from '../../src/store/read-run.js';
import { checkOutPath } from '../../src/analysis/report.js';
import { REPO, SWEEP } from '../helpers/run-fixtures.js';

const compare = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/compare.ts', ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });

describe('compare on damaged input', () => {
  let tmp: string;
  /** A copy of the sweep plus `killed`: a run killed during its first episode (config and two steps). */
  let sweep: string;
  let killed: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'droptune-compare-'));
    sweep = join(tmp, 'sweep');
    cpSync(SWEEP, sweep, { recursive: true });
    killed = join(sweep, 'killed');
    mkdirSync(killed);
    cpSync(join(SWEEP, 'constant-s1', 'config.json'), join(killed, 'config.json'));
    const steps = readFileSync(join(SWEEP, 'constant-s1', 'steps.jsonl'), 'utf8').split('\n');
    writeFileSync(join(killed, 'steps.jsonl'), steps.slice(0, 2).join('\n') + '\n');
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('reads a run killed in its first episode as incomplete, with no finished episode', () => {
    const { value: run } = readRun(killed);
    expect(run.episodes).to.deep.equal([]);
    expect(run.steps).to.have.length(2);
    expect(run.summary).to.equal(undefined);
  });

  it('still fails on a run whose summary.json exists but episodes.jsonl does not', () => {
    const dir = join(tmp, 'inconsistent');
    cpSync(join(SWEEP, 'constant-s1'), dir, { recursive: true });
    rmSync(join(dir, 'episodes.jsonl'));
    expect(() => readRun(dir)).to.throw(ConfigError, `${join(dir, 'episodes.jsonl')}: no such file`);
  });

  it('compares the other runs and names the killed one in a warning', () => {
    const read = readRuns([sweep]);
    const comparison = compareRuns(read.value);
    expect(comparison.runs.map((r) => r.run)).to.deep.equal(
      compareRuns(readRuns([SWEEP]).value).runs.map((r) => r.run),
    );
    expect(comparison.warnings).to.include(`${killed}: no finished episode; left out of the comparison`);
  });

  it('npm run compare exits 0 on a folder holding a killed run, with the warning on stderr', () => {
    const out = join(tmp, 'out-killed');
    const r = compare(sweep, '--out', out);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.include(`compare: warning: ${killed}: no finished episode; left out of the comparison\n`);
    expect(existsSync(join(out, 'report.html'))).to.equal(true);
  });

  it('checkOutPath rejects an empty path, a file, and a path under a file', () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, '');
    expect(() => checkOutPath('')).to.throw(ConfigError, "--out must be a folder path, got ''");
    expect(() => checkOutPath(file)).to.throw(ConfigError, `--out ${file} exists and is not a folder`);
    expect(() => checkOutPath(join(file, 'x'))).to.throw(
      ConfigError,
      `--out ${join(file, 'x')} lies under ${file}, which is a file`,
    );
    checkOutPath(join(tmp, 'new', 'deeper'));
    checkOutPath(sweep);
  });

  it('npm run compare --out <a file> exits 2 with one line before printing anything', () => {
    const file = join(tmp, 'out-file');
    writeFileSync(file, 'keep me\n');
    const r = compare(SWEEP, '--out', file);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.equal(`compare: --out ${file} exists and is not a folder: choose a folder\n`);
    expect(r.stdout).to.equal('');
    expect(readFileSync(file, 'utf8')).to.equal('keep me\n');
  });

  it('npm run compare with a closed stdout (`| head -1`) still writes its files and exits 0', async () => {
    const out = join(tmp, 'out-closed');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/compare.ts', SWEEP, '--out', out], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.once('data', () => child.stdout.destroy());
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.to.match(/EPIPE|\n\s+at /);
    expect(code, stderr).to.equal(0);
    expect(existsSync(join(out, 'report.html'))).to.equal(true);
  });
});
