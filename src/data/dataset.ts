/**
 * Datasets as plain typed arrays, split into seeded, disjoint train / validation / test parts.
 * The test split is for the end-of-episode report only: envs never show it to agents.
 */
import { checkInt, checkOneOf } from '../core/check.js';
import { ConfigError } from '../core/errors.js';
import { createRng, permutation } from '../core/rng.js';
import { loadFashionMnist, DEFAULT_FASHION_DIR } from './fashion-mnist.js';
import { loadMnist } from './mnist.js';
import { makeSynthetic } from './synthetic.js';

/** Samples stored row-major: sample i is x[i*features … (i+1)*features). */
export interface Split {
  x: Float32Array;
  /** Class index of each sample. */
  y: Int32Array;
  n: number;
}

export interface Dataset {
  name: DatasetName;
  /** Shape of one sample as an image, NHWC without the batch: [height, width, channels]. */
  imageShape: [number, number, number];
  /** Values per sample (height × width × channels). */
  features: number;
  numClasses: number;
  train: Split;
  val: Split;
  test: Split;
}

/** All samples of a source before splitting. `test`, when given, is an official held-out set. */
export interface Pool {
  imageShape: [number, number, number];
  numClasses: number;
  x: Float32Array;
  y: Int32Array;
  test?: { x: Float32Array; y: Int32Array };
}

export const DATASETS = ['mnist', 'fashion-mnist', 'synthetic'] as const;
export type DatasetName = (typeof DATASETS)[number];

export interface DataConfig {
  /** @default 'mnist' */
  dataset: DatasetName;
  /** @default 5000 */
  trainSize: number;
  /** @default 1000 */
  valSize: number;
  /** @default 2000 */
  testSize: number;
  /** Seed of the split (and of the synthetic samples). @default 0 */
  seed: number;
  /** Where fashion-mnist's IDX files are. @default '/usr/share/datasets/fashion-mnist' */
  dataDir: string;
}

export const DATA_DEFAULTS: DataConfig = {
  dataset: 'mnist',
  trainSize: 5000,
  valSize: 1000,
  testSize: 2000,
  seed: 0,
  dataDir: DEFAULT_FASHION_DIR,
};

/**
 * The most samples a run may ask for, train + val + test. mnist (10,000) and fashion-mnist (70,000) are
 * bounded by their files; synthetic makes what it is asked for, and at this bound a run peaks near
 * 0.8 GB (8×8 samples, each held about three times: pool, split, tensor), far from the typed-array limit.
 */
export const MAX_SAMPLES = 1_000_000;

export function checkDataConfig(partial: Partial<DataConfig>): DataConfig {
  const c = { ...DATA_DEFAULTS, ...partial };
  const checked: DataConfig = {
    dataset: checkOneOf('--dataset', c.dataset, DATASETS),
    trainSize: checkInt('--train-size', c.trainSize, 1),
    valSize: checkInt('--val-size', c.valSize, 1),
    testSize: checkInt('--test-size', c.testSize, 1),
    seed: checkInt('--seed', c.seed, 0, 2 ** 32 - 1),
    dataDir: c.dataDir,
  };
  // one bound on the sum: it also catches a single size too large, before anything is allocated
  const total = checked.trainSize + checked.valSize + checked.testSize;
  if (total > MAX_SAMPLES) {
    throw new ConfigError(`--train-size + --val-size + --test-size must be at most ${MAX_SAMPLES} in all, got ${total}`);
  }
  return checked;
}

function take(pool: { x: Float32Array; y: Int32Array }, features: number, indices: Int32Array): Split {
  const x = new Float32Array(indices.length * features);
  const y = new Int32Array(indices.length);
  indices.forEach((src, i) => {
    x.set(pool.x.subarray(src * features, (src + 1) * features), i * features);
    y[i] = pool.y[src]!;
  });
  return { x, y, n: indices.length };
}

/** Draws disjoint splits from a pool; the test split comes from the pool's own test set when it has one. */
export function splitPool(name: DatasetName, pool: Pool, c: DataConfig): Dataset {
  const features = pool.imageShape[0] * pool.imageShape[1] * pool.imageShape[2];
  const available = pool.y.length;
  const rng = createRng(`split:${c.seed}`);
  const needed = c.trainSize + c.valSize + (pool.test ? 0 : c.testSize);
  if (needed > available) {
    const parts = pool.test ? '--train-size + --val-size' : '--train-size + --val-size + --test-size';
    throw new ConfigError(`${parts} = ${needed} exceeds the ${available} samples of ${name}`);
  }
  if (pool.test && c.testSize > pool.test.y.length) {
    throw new ConfigError(`--test-size must be at most ${pool.test.y.length} for ${name} (its test set), got ${c.testSize}`);
  }
  const order = permutation(available, rng);
  const train = take(pool, features, order.subarray(0, c.trainSize));
  const val = take(pool, features, order.subarray(c.trainSize, c.trainSize + c.valSize));
  const test = pool.test
    ? take(pool.test, features, permutation(pool.test.y.length, rng).subarray(0, c.testSize))
    : take(pool, features, order.subarray(c.trainSize + c.valSize, needed));
  return { name, imageShape: pool.imageShape, features, numClasses: pool.numClasses, train, val, test };
}

/** Loads a dataset and splits it. Everything is read from disk or made here: nothing downloads. */
export function loadDataset(partial: Partial<DataConfig> = {}): Dataset {
  const c = checkDataConfig(partial);
  const pool =
    c.dataset === 'mnist'
      ? loadMnist()
      : c.dataset === 'fashion-mnist'
        ? loadFashionMnist(c.dataDir)
        : makeSynthetic(c.trainSize + c.valSize + c.testSize, c.seed);
  return splitPool(c.dataset, pool, c);
}
