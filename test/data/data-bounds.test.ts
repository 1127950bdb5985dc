import { expect } from 'chai';

import { ConfigError } from '../../src/core/errors.js';
import { MAX_SAMPLES, checkDataConfig, loadDataset } from '../../src/data/dataset.js';

describe('data sizes', () => {
  it('reject a size beyond MAX_SAMPLES before anything is allocated', () => {
    const sum = `--train-size + --val-size + --test-size must be at most ${MAX_SAMPLES} in all`;
    expect(() =>
      checkDataConfig({ dataset: 'synthetic', trainSize: 100_000_000, valSize: 1000, testSize: 2000 }),
    ).to.throw(ConfigError, `${sum}, got 100003000`);
    expect(() => loadDataset({ dataset: 'synthetic', trainSize: 10, valSize: 10, testSize: MAX_SAMPLES })).to.throw(
      ConfigError,
      `${sum}, got ${MAX_SAMPLES + 20}`,
    );
  });

  it('reject train + val + test above MAX_SAMPLES, and accept exactly MAX_SAMPLES', () => {
    const sizes = { dataset: 'synthetic' as const, trainSize: MAX_SAMPLES - 2000, valSize: 1000, testSize: 1001 };
    expect(() => checkDataConfig(sizes)).to.throw(
      ConfigError,
      `--train-size + --val-size + --test-size must be at most ${MAX_SAMPLES} in all, got ${MAX_SAMPLES + 1}`,
    );
    expect(checkDataConfig({ ...sizes, testSize: 1000 }).trainSize).to.equal(MAX_SAMPLES - 2000);
  });
});
