import { expect } from 'chai';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ConfigError } from '../../src/core/errors.js';
import { MAX_CSV_LINE, csvRows, loadCsv } from '../../src/data/csv.js';
import { checkDataConfig } from '../../src/data/dataset.js';
import { datasetFromArrays } from '../../src/data/from-arrays.js';
import { encodeIdx, loadIdxDir, readIdxFile } from '../../src/data/idx.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('data-input');
const csv = (name: string, text: string): string => {
  const file = path.join(tmp, name);
  writeFileSync(file, text);
  return file;
};

describe('unbounded reads (csv:, idx:)', () => {
  it('refuses a csv: that is not a regular file (a device, a FIFO) before reading it', () => {
    const link = path.join(tmp, 'zero.csv');
    symlinkSync('/dev/zero', link);
    for (const file of ['/dev/zero', link]) {
      expect(() => checkDataConfig({ dataset: `csv:${file}` }), file).to.throw(
        ConfigError,
        `--dataset csv:${file}: not a regular file (a device, FIFO or socket cannot be a CSV file)`,
      );
      expect(() => loadCsv(file), file).to.throw(ConfigError, 'not a regular file');
    }
  });

  it('caps the length of a CSV line', () => {
    const long = `${'1'.repeat(MAX_CSV_LINE + 10)},a\n`;
    expect(() => [...csvRows(long, 'long.csv')]).to.throw(
      ConfigError,
      `long.csv line 1: longer than ${MAX_CSV_LINE} characters: not a CSV file of samples`,
    );
  });

  it('gunzips an IDX file no further than its header declares, and rejects trailing bytes', () => {
    const images = encodeIdx([4, 2, 2], new Uint8Array(16).fill(9));
    // a bomb: a header declaring 16 bytes, then 50 MB of zeros
    const bomb = path.join(tmp, 'bomb-idx3-ubyte.gz');
    writeFileSync(bomb, gzipSync(Buffer.concat([images, Buffer.alloc(50_000_000)])));
    expect(() => readIdxFile(bomb)).to.throw(
      ConfigError,
      `${bomb}: more data than its header declares (dimensions 4×2×2, 16 bytes): not an IDX file`,
    );
    const trailing = path.join(tmp, 'trailing-idx3-ubyte');
    writeFileSync(trailing, Buffer.concat([images, Buffer.from([1, 2, 3])]));
    expect(() => readIdxFile(trailing)).to.throw(ConfigError, `${trailing}: 3 bytes after the data`);
    const fine = path.join(tmp, 'fine-idx3-ubyte.gz');
    writeFileSync(fine, gzipSync(images));
    expect(readIdxFile(fine).dims).to.deep.equal([4, 2, 2]);
    // a header that declares more than any dataset here could hold is refused before gunzipping
    const huge = path.join(tmp, 'huge-idx3-ubyte.gz');
    writeFileSync(huge, gzipSync(encodeIdx([100_000, 100_000, 100_000], [])));
    expect(() => readIdxFile(huge)).to.throw(
      ConfigError,
      /declares .* bytes of data, more than the 2147483647 allowed/,
    );
  });

  it('an idx: folder with a bomb fails with one line naming the file', () => {
    const dir = path.join(tmp, 'idx-bomb');
    mkdirSync(dir);
    const head = encodeIdx([4, 2, 2], new Uint8Array(16));
    writeFileSync(
      path.join(dir, 'train-images-idx3-ubyte.gz'),
      gzipSync(Buffer.concat([head, Buffer.alloc(1_000_000)])),
    );
    writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), encodeIdx([4], [0, 1, 0, 1]));
    expect(() => loadIdxDir(dir)).to.throw(
      ConfigError,
      'train-images-idx3-ubyte.gz: more data than its header declares',
    );
  });
});

describe('bad input accepted silently (csv, arrays)', () => {
  it('rejects CSV cells that are not decimal numbers (0x10, 0b1, 0o7)', () => {
    for (const cell of ['0x10', '0b1', '0o7', 'Infinity']) {
      const file = csv(`hex-${cell}.csv`, `a,b,label\n1,2,x\n${cell},3,y\n4,5,x\n`);
      expect(() => loadCsv(file), cell).to.throw(
        ConfigError,
        `${file} line 3, column 'a' (0): '${cell}' is not a number`,
      );
    }
    const ok = loadCsv(csv('decimal.csv', 'a,b,label\n-1.5e2,.5,x\n+3,4.,y\n'));
    expect([...ok.x]).to.deep.equal([-150, 0.5, 3, 4]);
  });

  it('rejects duplicate column names with --csv-label', () => {
    const file = csv('dup.csv', 'a,label,b,label\n1,x,2,y\n3,y,4,x\n');
    expect(() => loadCsv(file, { label: 'label' })).to.throw(
      ConfigError,
      `--csv-label 'label': ${file} line 1 has 2 columns of that name (1 and 3): column names must be unique`,
    );
    expect(() => loadCsv(csv('dup2.csv', 'a,a,label\n1,2,x\n3,4,y\n'), { label: 'label' })).to.throw(
      ConfigError,
      "column 'a' appears twice (columns 0 and 1)",
    );
  });

  it('datasetFromArrays rejects NaN and Infinity in x, and label rows that are not one-hot', () => {
    const y = [0, 1, 0, 1];
    for (const [bad, shown] of [
      [NaN, 'NaN'],
      [Infinity, 'Infinity'],
      [-Infinity, '-Infinity'],
    ] as const) {
      expect(() => datasetFromArrays({ name: 'n', x: [[1], [2], [bad], [4]], y })).to.throw(
        ConfigError,
        `datasetFromArrays: x[2][0] must be a finite number, got ${shown}`,
      );
      expect(() => datasetFromArrays({ name: 'n', x: Float32Array.from([1, 2, bad, 4]), y })).to.throw(
        ConfigError,
        `datasetFromArrays: x[2] must be a finite number, got ${shown}`,
      );
    }
    const oneHot = [
      [1, 0, 0],
      [0, 1, 0],
      [0.5, 0.5, 0],
      [0, 0, 1],
    ];
    expect(() => datasetFromArrays({ name: 'n', x: [[1], [2], [3], [4]], y: oneHot })).to.throw(
      ConfigError,
      'datasetFromArrays: y[2] must be a one-hot row (one 1, the rest 0), got [0.5,0.5,0]',
    );
  });
});
