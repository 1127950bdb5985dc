import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { defaultOutDir, parseArgs } from '../../src/cli/compare.js';
import { ConfigError } from '../../src/core/errors.js';
import { CORRUPT, FIXTURES, REPO, SWEEP, hashTree } from '../helpers/run-fixtures.js';

/** `npm run compare -- ...args`, without npm's own output. */
const compare = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/compare.ts', ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });

describe('compare CLI', () => {
  let out: string;
  before(() => {
    out = mkdtempSync(join(tmpdir(), 'droptune-cli-'));
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  it('exits 2 with one line for a missing folder', () => {
    const r = compare('no/such/run');
    expect(r.status).to.equal(2);
    expect(r.stderr).to.equal('compare: no such folder: no/such/run\n');
    expect(r.stdout).to.equal('');
  });

  it('exits 2 with file and line for a corrupt run', () => {
    const r = compare(CORRUPT, '--out', join(out, 'corrupt'));
    expect(r.status).to.equal(2);
    expect(r.stderr).to.equal(`compare: ${join(CORRUPT, 'episodes.jsonl')}:2: not valid JSON\n`);
    expect(existsSync(join(out, 'corrupt'))).to.equal(false);
  });

  it('prints warnings to stderr, the tables and the files written to stdout, and modifies no run', () => {
    const before = hashTree(FIXTURES);
    const r = compare(SWEEP, '--out', join(out, 'sweep'), '--baseline', 'constant');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr.trim().split('\n')).to.deep.equal([
      `compare: warning: ${join(SWEEP, 'thompson-s2', 'episodes.jsonl')}:3: dropped a truncated last line (the run was cut off mid-write)`,
    ]);
    expect(r.stdout).to.match(/^Runs\n/);
    expect(r.stdout).to.include("Paired difference vs baseline 'constant rate=0.3'");
    for (const file of [
      'compare.json',
      'compare.md',
      'schedules.svg',
      'val-acc.svg',
      'val-loss.svg',
      'learning-curve.svg',
      'report.html',
    ]) {
      expect(r.stdout).to.include(`  ${join(out, 'sweep', file)}\n`);
      expect(existsSync(join(out, 'sweep', file)), file).to.equal(true);
    }
    expect(r.stdout).not.to.include('\x1b');
    expect(hashTree(FIXTURES)).to.equal(before);
  });

  it('shows help and rejects unknown options', () => {
    const help = compare('--help');
    expect(help.status).to.equal(0);
    expect(help.stdout).to.include('usage: npm run compare');
    const bad = compare(SWEEP, '--colour');
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.equal('compare: unknown option --colour (known: --out, --baseline, --help)\n');
  });

  it('parses arguments and picks the default output folder', () => {
    expect(parseArgs(['a', '--out=o', '--baseline', 'constant', 'b'])).to.deep.equal({
      paths: ['a', 'b'],
      out: 'o',
      baseline: 'constant',
      help: false,
    });
    expect(() => parseArgs(['a', '--out'])).to.throw(ConfigError, '--out needs a value');
    expect(defaultOutDir([SWEEP])).to.equal(join(SWEEP, 'compare'));
    const now = new Date('2025-01-31T12:05:09.123Z');
    expect(defaultOutDir([join(SWEEP, 'thompson-s1')], now)).to.equal(join('runs', 'compare-2025-01-31T12-05-09'));
    expect(defaultOutDir([SWEEP, join(SWEEP, 'thompson-s1')], now)).to.equal(
      join('runs', 'compare-2025-01-31T12-05-09'),
    );
  });
});
