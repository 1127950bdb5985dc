import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigError } from '../../src/core/errors.js';
import { checkRunDir } from '../../src/store/run-writer.js';
import { REPO } from '../helpers/run-fixtures.js';

/** The ConfigError message `fn` throws (failing the test when it throws nothing or something else). */
function configErrorMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  expect.fail('expected a ConfigError');
}

const canWrite = (dir: string): boolean => {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
};

describe('checkRunDir (--out of a new run)', () => {
  let tmp: string;
  let file: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'droptune-out-'));
    file = join(tmp, 'a-file');
    writeFileSync(file, 'not a folder\n');
  });
  after(() => {
    chmodSync(tmp, 0o755);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('accepts an absent path (however deep) and an empty folder', () => {
    checkRunDir(join(tmp, 'new', 'deeper', 'run'));
    mkdirSync(join(tmp, 'empty'));
    checkRunDir(join(tmp, 'empty'));
  });

  it('rejects an empty path', () => {
    expect(configErrorMessage(() => checkRunDir(''))).to.equal("--out must be a folder path, got ''");
  });

  it('rejects a path that is a file, and a path under a file', () => {
    expect(configErrorMessage(() => checkRunDir(file))).to.equal(
      `--out ${file} exists and is not a folder: choose a new or empty folder`,
    );
    const under = join(file, 'sub', 'run');
    expect(configErrorMessage(() => checkRunDir(under))).to.equal(
      `--out ${under} lies under ${file}, which is a file: choose a folder path`,
    );
  });

  it('rejects a folder that is not empty', () => {
    mkdirSync(join(tmp, 'full'));
    writeFileSync(join(tmp, 'full', 'x'), '');
    expect(configErrorMessage(() => checkRunDir(join(tmp, 'full')))).to.match(
      /^--out .*full already exists and is not empty/,
    );
  });

  it('rejects a path whose nearest existing folder is not writable', function () {
    // root may write in a chmod 555 folder; a read-only file system (/proc/sys in a container) stops it too
    const readOnly = join(tmp, 'read-only');
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o555);
    const blocked = [readOnly, '/proc/sys'].find((dir) => !canWrite(dir));
    if (blocked === undefined) this.skip();
    const out = join(blocked, 'droptune-run', 'deeper');
    expect(configErrorMessage(() => checkRunDir(out))).to.match(
      new RegExp(`^--out ${out}: ${blocked} is not writable \\(E[A-Z]+\\): choose a folder you can write to$`),
    );
  });

  it('rejects /proc and /sys, which pass a permission check as root but take no new folder', () => {
    for (const dir of ['/proc', '/sys']) {
      expect(configErrorMessage(() => checkRunDir(`${dir}/droptune-run`))).to.match(
        new RegExp(
          `^--out ${dir}/droptune-run: ${dir} is not writable \\(E[A-Z]+\\): choose a folder you can write to$`,
        ),
      );
    }
  });

  it('stops `npm run agent` with one line and exit code 2 before the backend starts', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/agent.ts', '--dataset', 'synthetic', '--out', file],
      { cwd: REPO, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status, r.stderr).to.equal(2);
    expect(r.stderr).to.equal(`agent: --out ${file} exists and is not a folder: choose a new or empty folder\n`);
    expect(r.stdout).to.equal('');
  });
});
