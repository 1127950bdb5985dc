import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { StorageError } from '../../src/core/errors.js';
import { readCheckpoint, writeFileAtomic } from '../../src/store/checkpoint.js';
import { TINY, cli, mountTmpfs, oneLine, tempDir } from './helpers.js';

const withoutTimings = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line, (key, value: unknown) => (key.endsWith('Ms') ? undefined : value)) as unknown);

describe('a full disk', () => {
  let disk: ReturnType<typeof mountTmpfs>;
  before(() => {
    disk = mountTmpfs('200k');
  });
  after(() => disk.unmount());

  it('writeFileAtomic writes every byte or throws, and never renames a short file into place', () => {
    const file = path.join(disk.dir, 'big.bin');
    expect(() => writeFileAtomic(file, new Uint8Array(400_000).fill(7))).to.throw(
      StorageError,
      `cannot write ${file}: no space left on device; free space and --resume continues`,
    );
    expect(existsSync(file)).to.equal(false);
    expect(readdirSync(disk.dir).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('stops a run with one line and exit 1, leaves a whole checkpoint, and --resume finishes the same run', function () {
    this.timeout(60_000);
    const out = path.join(disk.dir, 'a');
    const args = [...TINY, '--model', 'mlp:64,64', '--agent', 'thompson', '--episodes', '3', '--epochs', '4'];
    const full = cli('agent', [...args, '--out', out]);
    expect(full.status, full.stderr).to.equal(1);
    const lines = oneLine(full.stderr);
    expect(lines, full.stderr.slice(0, 2000)).to.have.length(1);
    expect(lines[0]).to.match(/^agent: cannot write \S+: no space left on device; free space and --resume continues$/);
    expect(existsSync(path.join(out, 'summary.json'))).to.equal(false);
    // The checkpoint names a binary of the right length (readCheckpoint checks it).
    expect(() => readCheckpoint(out, 'checkpoint')).to.not.throw();

    disk.remount('8m');
    const resumed = cli('agent', ['--resume', out]);
    expect(resumed.status, resumed.stderr).to.equal(0);
    const reference = path.join(tempDir('full-disk-ref'), 'a');
    expect(cli('agent', [...args, '--out', reference]).status).to.equal(0);
    for (const file of ['steps.jsonl', 'episodes.jsonl'])
      expect(withoutTimings(path.join(out, file))).to.deep.equal(withoutTimings(path.join(reference, file)));
  });
});
