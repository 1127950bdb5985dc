import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ConfigError } from '../../src/core/errors.js';
import { loadCsv } from '../../src/data/csv.js';
import { checkDataConfig, loadDataset } from '../../src/data/dataset.js';
import { datasetFromArrays } from '../../src/data/from-arrays.js';
import { encodeIdx, loadIdxDir } from '../../src/data/idx.js';
import { makeSynthetic } from '../../src/data/synthetic.js';
import { datasetKey } from '../../src/data/cache.js';

const dir = mkdtempSync(path.join(tmpdir(), 'own-data-'));
const write = (name: string, text: string | Buffer) => {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
};

/** 12 rows: a, b, species; a = row, b = 10 × row, species cycles through three words. */
const SPECIES = ['setosa', 'versicolor', 'virginica'];
const rows = Array.from({ length: 12 }, (_, i) => [i, 10 * i, SPECIES[i % 3]!] as const);
const irisText = (header: boolean) => `${header ? 'a,b,species\n' : ''}${rows.map((r) => r.join(',')).join('\n')}\n`;

/** Every sample's features, keyed by its first feature, from all three splits of a raw (unstandardized) pool. */
const byFirst = (x: Float32Array, y: Int32Array, features: number) =>
  Array.from(y, (label, i) => [Array.from(x.subarray(i * features, (i + 1) * features)), label]);

after(() => rmSync(dir, { recursive: true, force: true }));

describe('csv: datasets', () => {
  it('reads a file with a header, the label by name, string labels as sorted classes', () => {
    const pool = loadCsv(write('iris-header.csv', irisText(true)), { label: 'species' });
    expect(pool.classNames).to.deep.equal(SPECIES);
    expect(pool.featureNames).to.deep.equal(['a', 'b']);
    expect(pool.imageShape).to.deep.equal([1, 2, 1]);
    expect(byFirst(pool.x, pool.y, 2)).to.deep.equal(rows.map(([a, b, s]) => [[a, b], SPECIES.indexOf(s)]));
  });

  it('reads the same file without a header (auto: every feature cell of the first row is a number) with the label last by default', () => {
    const pool = loadCsv(write('iris.csv', irisText(false)));
    expect(pool.y.length).to.equal(12);
    expect(byFirst(pool.x, pool.y, 2)).to.deep.equal(rows.map(([a, b, s]) => [[a, b], SPECIES.indexOf(s)]));
  });

  it('takes the label column by index, with or without a header; numeric labels 0..K-1 keep their values', () => {
    const text = 'label,p1,p2\n2,0.5,1\n0,1.5,2\n1,2.5,3\n2,3.5,4\n';
    const withHeader = loadCsv(write('digits.csv', text), { label: 0 });
    expect(Array.from(withHeader.y)).to.deep.equal([2, 0, 1, 2]);
    expect(Array.from(withHeader.x)).to.deep.equal([0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4]);
    expect(withHeader.featureNames).to.deep.equal(['p1', 'p2']);
    const noHeader = loadCsv(write('digits-nh.csv', text.split('\n').slice(1).join('\n')), {
      label: '0',
      header: 'false',
    });
    expect(Array.from(noHeader.y)).to.deep.equal([2, 0, 1, 2]);
    expect(Array.from(noHeader.x)).to.deep.equal(Array.from(withHeader.x));
    // an index that also appears as a value in the first (data) row is still an index
    const valueInFirstRow = loadCsv(write('index-as-value.csv', '1,0,5\n0,1,6\n1,1,7\n'), { label: '0' });
    expect(Array.from(valueInFirstRow.y)).to.deep.equal([1, 0, 1]);
    expect(Array.from(valueInFirstRow.x)).to.deep.equal([0, 5, 1, 6, 1, 7]);
  });

  it('maps numeric labels that are not 0..K-1 in numeric order, and reads quoted cells and CRLF', () => {
    const pool = loadCsv(write('quoted.csv', 'x,"the, label"\r\n1,10\r\n2,9\r\n"3",-1\r\n\r\n4,10\r\n'), {
      label: 'the, label',
      header: 'true',
    });
    expect(pool.classNames).to.deep.equal(['-1', '9', '10']);
    expect(Array.from(pool.y)).to.deep.equal([2, 1, 0, 2]);
    expect(Array.from(pool.x)).to.deep.equal([1, 2, 3, 4]);
  });

  it('standardizes every feature with the training split alone, and splits as the built-in datasets do', () => {
    const file = write('iris-split.csv', irisText(true));
    const data = loadDataset({
      dataset: `csv:${file}`,
      trainSize: 6,
      valSize: 3,
      testSize: 3,
      seed: 5,
      csvLabel: 'species',
    });
    expect(data.name).to.equal(`csv:${file}`);
    expect(data.classNames).to.deep.equal(SPECIES);
    expect([data.train.n, data.val.n, data.test.n]).to.deep.equal([6, 3, 3]);
    for (const f of [0, 1]) {
      const column = Array.from({ length: 6 }, (_, i) => data.train.x[i * 2 + f]!);
      const mean = column.reduce((s, v) => s + v, 0) / 6;
      expect(mean).to.be.closeTo(0, 1e-6);
      expect(Math.sqrt(column.reduce((s, v) => s + (v - mean) ** 2, 0) / 6)).to.be.closeTo(1, 1e-6);
    }
    // The split is the one datasetFromArrays draws from the raw rows with the same sizes and seed.
    const raw = loadCsv(file);
    const same = datasetFromArrays({ name: 'raw', x: raw.x, y: raw.y, trainSize: 6, valSize: 3, testSize: 3, seed: 5 });
    expect(Array.from(data.val.y)).to.deep.equal(Array.from(same.val.y));
    const a = Array.from(same.train.x.filter((_, i) => i % 2 === 0));
    const mean = a.reduce((s, v) => s + v, 0) / 6;
    const sd = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / 6);
    expect(data.test.x[0]).to.be.closeTo((same.test.x[0]! - mean) / sd, 1e-5);
  });

  it('records its path absolute and its own options only; another dataset refuses them', () => {
    const file = write('iris-rel.csv', irisText(true));
    const relative = path.relative(process.cwd(), file);
    const c = checkDataConfig({ dataset: `csv:${relative}`, csvLabel: '2' });
    expect(c).to.deep.equal({
      dataset: `csv:${file}`,
      trainSize: 5000,
      valSize: 1000,
      testSize: 2000,
      seed: 0,
      csvHeader: 'auto',
      csvLabel: 2,
    });
    expect(checkDataConfig({ dataset: 'mnist' })).to.not.have.property('dataDir');
    expect(checkDataConfig({ dataset: 'fashion-mnist' }).dataDir).to.equal('/usr/share/datasets/fashion-mnist');
    expect(() => checkDataConfig({ dataset: 'mnist', dataDir: '/tmp' })).to.throw(
      ConfigError,
      '--data-dir applies only to --dataset fashion-mnist, got --dataset mnist',
    );
    expect(() => checkDataConfig({ dataset: 'synthetic', csvHeader: 'true' })).to.throw(
      ConfigError,
      '--csv-header applies only to --dataset csv:FILE, got --dataset synthetic',
    );
    expect(() => checkDataConfig({ dataset: 'cifar' })).to.throw(
      ConfigError,
      "--dataset must be one of mnist, fashion-mnist, synthetic, csv:FILE, idx:DIR, got 'cifar'",
    );
  });

  it('keys the thread cache by the absolute path and the file, so a rewritten file is read again', () => {
    const file = write('cache.csv', irisText(true));
    const viaRelative = checkDataConfig({ dataset: `csv:${path.relative(process.cwd(), file)}` });
    const viaAbsolute = checkDataConfig({ dataset: `csv:${file}` });
    expect(datasetKey(viaRelative)).to.equal(datasetKey(viaAbsolute));
    const before = datasetKey(viaAbsolute);
    writeFileSync(file, irisText(true) + '12,120,setosa\n');
    expect(datasetKey(viaAbsolute)).to.not.equal(before);
  });

  describe('a bad file gets one line naming the file, the line and what is wrong', () => {
    const fails = (name: string, text: string, message: string, opts = {}) => {
      const file = write(name, text);
      expect(() => loadCsv(file, opts)).to.throw(ConfigError, message.replace('FILE', file));
    };
    it('a ragged row', () =>
      fails('ragged.csv', 'a,b,label\n1,2,x\n3,4,y\n5,z\n', 'FILE line 4: ragged row: expected 3 columns, got 2'));
    it('a non-numeric cell, named by column name (header) or index (none)', () => {
      fails('text-cell.csv', 'a,b,label\n1,2,x\n3,four,y\n', "FILE line 3, column 'b' (1): 'four' is not a number");
      fails('text-cell-nh.csv', '1,2,x\n3,2,y\n\n5,4e,y\n', "FILE line 4, column 1: '4e' is not a number");
    });
    it('an empty cell', () =>
      fails(
        'empty-cell.csv',
        'a,b,label\n1,,x\n',
        "FILE line 2, column 'b' (1): empty cell (missing values are not supported)",
      ));
    it('an empty file, and one with a header only', () => {
      fails('empty.csv', '', 'FILE line 1: empty file: no rows');
      fails('blank.csv', '\n\n', 'FILE line 1: empty file: no rows');
      fails('header-only.csv', 'a,b,label\n', 'FILE line 2: no data rows after the header');
    });
    it('an unclosed quote, a one-column file, a single class', () => {
      fails('quote.csv', 'a,b\n1,"x\n2,y\n', 'FILE line 2: a quoted cell is never closed');
      fails('one-column.csv', '1\n2\n', 'FILE line 1: only one column');
      fails(
        'one-class.csv',
        '1,x\n2,x\n',
        "label column 1: every sample has the label 'x': a classifier needs at least 2 classes",
      );
    });
    it('a label column that is not there', () => {
      fails(
        'no-such-label.csv',
        irisText(true),
        "--csv-label 'kind': FILE line 1 has no column of that name (columns: a, b, species)",
        { label: 'kind' },
      );
      fails('label-range.csv', irisText(true), '--csv-label 3: FILE has 3 columns (indices 0 to 2)', { label: 3 });
    });
    it('a missing file, before anything loads', () => {
      expect(() => checkDataConfig({ dataset: `csv:${dir}/nope.csv` })).to.throw(
        ConfigError,
        `--dataset csv:${dir}/nope.csv: no such file`,
      );
    });
    it('fewer rows than the sizes ask for', () => {
      const file = write('small.csv', irisText(false));
      expect(() => loadDataset({ dataset: `csv:${file}`, trainSize: 10, valSize: 2, testSize: 2 })).to.throw(
        ConfigError,
        `--train-size + --val-size + --test-size = 14 exceeds the 12 samples of csv:${file}`,
      );
    });
  });
});

describe('idx: datasets', () => {
  // 7 images of 3×4 pixels and 2 test images; labels 0..2
  const pixels = (n: number, salt: number) => Array.from({ length: n * 12 }, (_, i) => (i * 37 + salt) % 256);
  const trainLabels = [0, 1, 2, 0, 1, 2, 2];

  it('round-trips a generated plain pair and a gzipped one: the same pixels / 255 and labels', () => {
    const plain = path.join(dir, 'idx-plain');
    write('idx-plain/train-images-idx3-ubyte', encodeIdx([7, 3, 4], pixels(7, 0)));
    write('idx-plain/train-labels-idx1-ubyte', encodeIdx([7], trainLabels));
    const gz = path.join(dir, 'idx-gz');
    write('idx-gz/train-images-idx3-ubyte.gz', gzipSync(encodeIdx([7, 3, 4], pixels(7, 0))));
    write('idx-gz/train-labels-idx1-ubyte.gz', gzipSync(encodeIdx([7], trainLabels)));
    write('idx-gz/t10k-images-idx3-ubyte.gz', gzipSync(encodeIdx([2, 3, 4], pixels(2, 5))));
    write('idx-gz/t10k-labels-idx1-ubyte.gz', gzipSync(encodeIdx([2], [2, 1])));
    for (const folder of [plain, gz]) {
      const pool = loadIdxDir(folder);
      expect(pool.imageShape).to.deep.equal([3, 4, 1]);
      expect(pool.numClasses).to.equal(3);
      expect(Array.from(pool.y)).to.deep.equal(trainLabels);
      expect(Array.from(pool.x, (v) => Math.round(v * 255))).to.deep.equal(pixels(7, 0));
    }
    const withTest = loadIdxDir(gz);
    expect(Array.from(withTest.test!.y)).to.deep.equal([2, 1]);
    expect(Array.from(withTest.test!.x, (v) => Math.round(v * 255))).to.deep.equal(pixels(2, 5));
    // The test split comes from the t10k pair, train and validation from the training pair.
    const data = loadDataset({ dataset: `idx:${gz}`, trainSize: 4, valSize: 3, testSize: 2 });
    expect(data.name).to.equal(`idx:${gz}`);
    expect(Array.from(data.test.y).sort()).to.deep.equal([1, 2]);
  });

  it('refuses a bad magic number, a count mismatch, a missing folder or file, naming the file', () => {
    const bad = path.join(dir, 'idx-bad');
    const images = write('idx-bad/train-images-idx3-ubyte', Buffer.from([0x1f, 0x00, 0x08, 0x03, 0, 0, 0, 0]));
    write('idx-bad/train-labels-idx1-ubyte', encodeIdx([7], trainLabels));
    expect(() => loadIdxDir(bad)).to.throw(ConfigError, `${images}: bad IDX magic number 0x1f000803`);
    writeFileSync(images, encodeIdx([6, 3, 4], pixels(6, 0)));
    expect(() => loadIdxDir(bad)).to.throw(
      ConfigError,
      `${images} holds 6 images but ${path.join(bad, 'train-labels-idx1-ubyte')} holds 7 labels`,
    );
    expect(() => checkDataConfig({ dataset: `idx:${dir}/none` })).to.throw(
      ConfigError,
      `--dataset idx:${dir}/none: no such folder`,
    );
    expect(() => checkDataConfig({ dataset: `idx:${dir}` })).to.throw(
      ConfigError,
      `--dataset idx:${dir}: no train-images-idx3-ubyte (or .gz) in the folder`,
    );
  });
});

describe('datasetFromArrays', () => {
  it('splits plain arrays exactly as loadDataset splits a built-in dataset (same sizes, same seed)', () => {
    const builtIn = loadDataset({ dataset: 'synthetic', trainSize: 40, valSize: 10, testSize: 10, seed: 3 });
    const pool = makeSynthetic(60, 3); // the samples loadDataset draws for these sizes and seed
    const ours = datasetFromArrays({
      name: 'mine',
      x: Array.from(pool.x),
      y: Array.from(pool.y),
      imageShape: [8, 8, 1],
      trainSize: 40,
      valSize: 10,
      testSize: 10,
      seed: 3,
    });
    expect(ours).to.deep.equal({ ...builtIn, name: 'mine' });
    const otherSeed = datasetFromArrays({
      name: 'mine',
      x: pool.x,
      y: pool.y,
      trainSize: 40,
      valSize: 10,
      testSize: 10,
      seed: 4,
    });
    expect(otherSeed.train.y).to.not.deep.equal(ours.train.y);
    expect(otherSeed.imageShape).to.deep.equal([1, 64, 1]);
  });

  it('takes nested arrays and tensors, indices or one-hot, and gives the same dataset', () => {
    const n = 20;
    const images = Array.from({ length: n }, (_, i) =>
      Array.from({ length: 2 }, (_, r) => Array.from({ length: 3 }, (_, c) => i + r / 10 + c / 100)),
    );
    const labels = Array.from({ length: n }, (_, i) => i % 4);
    const fromArrays = datasetFromArrays({ name: 'nested', x: images, y: labels, seed: 2 });
    expect(fromArrays.imageShape).to.deep.equal([2, 3, 1]);
    expect([fromArrays.train.n, fromArrays.val.n, fromArrays.test.n]).to.deep.equal([14, 3, 3]);
    expect(fromArrays.numClasses).to.equal(4);
    const x = tf.tensor3d(images);
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 4);
    const fromTensors = datasetFromArrays({ name: 'nested', x, y, seed: 2 });
    x.dispose();
    y.dispose();
    expect(fromTensors).to.deep.equal(fromArrays);
    fromArrays.train.y.forEach((label, i) => expect(label).to.equal(Math.floor(fromArrays.train.x[i * 6]!) % 4));
  });

  it('refuses what cannot be a dataset, naming the field', () => {
    expect(() => datasetFromArrays({ name: 'r', x: [[1, 2], [3, 4], [5]], y: [0, 1, 0] })).to.throw(
      ConfigError,
      'x[2] must have 2 entries (as x[0] has), got 1',
    );
    expect(() => datasetFromArrays({ name: 'c', x: [[1], [2], [3], [4]], y: [0, 1, 2] })).to.throw(
      ConfigError,
      'x holds 4 samples but y holds 3 labels',
    );
    expect(() => datasetFromArrays({ name: 'k', x: [1, 2, 3, 4], y: [0, 1, 5, 1], numClasses: 3 })).to.throw(
      ConfigError,
      'y[2] is class 5, but numClasses is 3',
    );
    expect(() => datasetFromArrays({ name: 's', x: [1, 2, 3, 4], y: [0, 1, 0, 1], imageShape: [2, 2, 1] })).to.throw(
      ConfigError,
      'imageShape must be [height, width, channels] holding the 1 values',
    );
  });
});
