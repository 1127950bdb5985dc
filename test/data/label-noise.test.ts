import { expect } from 'chai';
import { ConfigError } from '../../src/core/errors.js';
import { createRng } from '../../src/core/rng.js';
import { checkDataConfig, loadDataset } from '../../src/data/dataset.js';
import { datasetFromArrays } from '../../src/data/from-arrays.js';
import { corruptLabels, pairPartner } from '../../src/data/label-noise.js';

const K = 6;
const n = 4000;
const clean = Int32Array.from({ length: n }, (_, i) => i % K);

describe('label noise', () => {
  it('corrupts a fraction within binomial bounds of η, and a corrupted label never keeps its class', () => {
    for (const eta of [0.2, 0.4]) {
      const { labels, corrupted } = corruptLabels(
        clean,
        K,
        { labelNoise: eta, labelNoiseKind: 'symmetric' },
        createRng(`t${eta}`),
      );
      const changed = labels.reduce((s, y, i) => s + (y !== clean[i] ? 1 : 0), 0);
      // every corrupted label changed class, so the changed count is the corrupted count
      expect(changed).to.equal(corrupted);
      // 4 binomial standard deviations: fails by chance about once in 16,000
      const sd = Math.sqrt(n * eta * (1 - eta));
      expect(Math.abs(corrupted - n * eta)).to.be.below(4 * sd);
    }
  });

  it('symmetric: spreads the corrupted labels over every other class', () => {
    const { labels } = corruptLabels(clean, K, { labelNoise: 0.5, labelNoiseKind: 'symmetric' }, createRng(1));
    const targets = new Set<number>();
    labels.forEach((y, i) => {
      if (clean[i] === 0 && y !== 0) targets.add(y);
    });
    expect([...targets].sort()).to.deep.equal([1, 2, 3, 4, 5]);
  });

  it('pair: maps each class to its fixed partner (c + 1) mod K', () => {
    const { labels, corrupted } = corruptLabels(clean, K, { labelNoise: 0.3, labelNoiseKind: 'pair' }, createRng(2));
    expect(corrupted).to.be.above(0);
    labels.forEach((y, i) => {
      if (y !== clean[i]) expect(y).to.equal(pairPartner(clean[i]!, K));
    });
    expect(pairPartner(K - 1, K)).to.equal(0);
  });

  it('corrupts training and validation labels, never the test split, the same way for the same seed', () => {
    const base = { dataset: 'synthetic', trainSize: 600, valSize: 400, testSize: 400, seed: 3 };
    const plain = loadDataset(base);
    const noisy = loadDataset({ ...base, labelNoise: 0.4 });
    const again = loadDataset({ ...base, labelNoise: 0.4 });
    const changed = (a: Int32Array, b: Int32Array) => a.reduce((s, y, i) => s + (y !== b[i] ? 1 : 0), 0);
    expect(changed(noisy.train.y, plain.train.y)).to.be.above(0.3 * 600);
    expect(changed(noisy.val.y, plain.val.y)).to.be.above(0.3 * 400);
    expect(Array.from(noisy.test.y)).to.deep.equal(Array.from(plain.test.y));
    expect(Array.from(noisy.train.x)).to.deep.equal(Array.from(plain.train.x));
    expect(Array.from(again.train.y)).to.deep.equal(Array.from(noisy.train.y));
    expect(Array.from(again.val.y)).to.deep.equal(Array.from(noisy.val.y));
    const other = loadDataset({ ...base, seed: 4, labelNoise: 0.4 });
    expect(Array.from(other.train.y)).to.not.deep.equal(Array.from(noisy.train.y));
  });

  it('applies to a dataset from arrays too', () => {
    const x = Array.from({ length: 200 }, (_, i) => [i, i % 3]);
    const y = Array.from({ length: 200 }, (_, i) => i % 4);
    const a = datasetFromArrays({ name: 'mine', x, y, seed: 1 });
    const b = datasetFromArrays({ name: 'mine', x, y, seed: 1, labelNoise: 0.5, labelNoiseKind: 'pair' });
    expect(Array.from(b.test.y)).to.deep.equal(Array.from(a.test.y));
    b.train.y.forEach((label, i) => {
      if (label !== a.train.y[i]) expect(label).to.equal((a.train.y[i]! + 1) % 4);
    });
  });

  it('is recorded only when above 0, and refuses η outside [0, 1) naming --label-noise', () => {
    expect(checkDataConfig({ dataset: 'synthetic' })).to.not.have.property('labelNoise');
    expect(checkDataConfig({ dataset: 'synthetic', labelNoise: 0.3 })).to.include({
      labelNoise: 0.3,
      labelNoiseKind: 'symmetric',
    });
    expect(() => checkDataConfig({ dataset: 'synthetic', labelNoise: 1 })).to.throw(
      ConfigError,
      '--label-noise must be in [0, 1), got 1',
    );
    expect(() => checkDataConfig({ dataset: 'synthetic', labelNoise: 0.2, labelNoiseKind: 'flip' as never })).to.throw(
      ConfigError,
      /--label-noise-kind must be one of symmetric, pair/,
    );
  });
});
