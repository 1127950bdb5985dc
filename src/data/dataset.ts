/**
 * Datasets as plain typed arrays, split into seeded, disjoint train / validation / test parts.
 * The test split is for the end-of-episode report only: envs never show it to agents.
 *
 * Built in: mnist, fashion-mnist, synthetic. A user's own: `csv:FILE` (csv.ts, features standardized
 * with the training split's mean and standard deviation) and `idx:DIR` (idx.ts, bytes / 255).
 */
import path from 'node:path';
import { checkInt } from '../core/check.js';
import { ConfigError } from '../core/errors.js';
import { createRng, permutation } from '../core/rng.js';
import { CSV_HEADER_MODES, checkCsvFile, loadCsv, type CsvHeaderMode } from './csv.js';
import { loadFashionMnist, DEFAULT_FASHION_DIR } from './fashion-mnist.js';
import { idxFiles, loadIdxDir } from './idx.js';
import { checkLabelNoise, corruptLabels, labelNoiseRng, type LabelNoiseKind } from './label-noise.js';
import { loadMnist } from './mnist.js';
import { makeSynthetic } from './synthetic.js';
import type { Dataset, Pool, Split } from './types.js';

export type { Dataset, Pool, Split } from './types.js';

/** The built-in datasets (what `--dataset` takes besides `csv:FILE` and `idx:DIR`). */
export const DATASETS = ['mnist', 'fashion-mnist', 'synthetic'] as const;
export type DatasetName = (typeof DATASETS)[number];
/** Every form `--dataset` takes, for help and errors. */
export const DATASET_FORMS = [...DATASETS, 'csv:FILE', 'idx:DIR'] as const;

/** What a `--dataset` value is: a built-in dataset, or a user's file or folder. */
export type DatasetKind = DatasetName | 'csv' | 'idx';

export interface DataConfig {
  /** A built-in name, `csv:FILE` or `idx:DIR` (checkDataConfig makes the path absolute). @default 'mnist' */
  dataset: string;
  /** @default 5000 */
  trainSize: number;
  /** @default 1000 */
  valSize: number;
  /** @default 2000 */
  testSize: number;
  /** Seed of the split (and of the synthetic samples). @default 0 */
  seed: number;
  /** Where fashion-mnist's IDX files are; fashion-mnist only. @default '/usr/share/datasets/fashion-mnist' */
  dataDir?: string;
  /** csv only: the label column, by name or 0-based index. @default the last column */
  csvLabel?: string | number;
  /** csv only: whether the first row is a header; auto: when a feature cell of it is not a number. @default 'auto' */
  csvHeader?: CsvHeaderMode;
  /** Fraction of training and validation labels corrupted (label-noise.ts); recorded only when above 0. @default 0 */
  labelNoise?: number;
  /** How a corrupted label changes: symmetric or pair; recorded only with labelNoise. @default 'symmetric' */
  labelNoiseKind?: LabelNoiseKind;
}

export const DATA_DEFAULTS: DataConfig = {
  dataset: 'mnist',
  trainSize: 5000,
  valSize: 1000,
  testSize: 2000,
  seed: 0,
};

/** The options that belong to one kind of dataset: given for another, they are refused (and never recorded). */
export const DATASET_OPTIONS = {
  dataDir: 'fashion-mnist',
  csvLabel: 'csv',
  csvHeader: 'csv',
} as const satisfies Partial<Record<keyof DataConfig, DatasetKind>>;
const DATASET_OPTION_FLAGS: Record<keyof typeof DATASET_OPTIONS, string> = {
  dataDir: '--data-dir',
  csvLabel: '--csv-label',
  csvHeader: '--csv-header',
};

/** The kind of a `--dataset` value and, for csv: / idx:, its path; throws a ConfigError for anything else. */
export function datasetKind(dataset: unknown): { kind: DatasetKind; path?: string } {
  if (typeof dataset === 'string') {
    if ((DATASETS as readonly string[]).includes(dataset)) return { kind: dataset as DatasetName };
    const match = /^(csv|idx):(.+)$/.exec(dataset);
    if (match) return { kind: match[1] as 'csv' | 'idx', path: match[2]! };
  }
  const shown = typeof dataset === 'string' ? `'${dataset}'` : JSON.stringify(dataset);
  throw new ConfigError(`--dataset must be one of ${DATASET_FORMS.join(', ')}, got ${shown}`);
}

/** The options of `given` that do not apply to its dataset, dropped: for run logs written before they were checked. */
export function withoutForeignDataOptions<T extends Record<string, unknown>>(given: T): T {
  let kind: DatasetKind;
  try {
    kind = datasetKind(given['dataset'] ?? DATA_DEFAULTS.dataset).kind;
  } catch {
    return given; // resolving reports the bad name
  }
  const kept = { ...given };
  for (const [key, owner] of Object.entries(DATASET_OPTIONS)) if (owner !== kind) delete kept[key];
  return kept;
}

/** The files loadDataset reads for this config (none for the built-in datasets but fashion-mnist's folder). */
export function datasetFiles(c: DataConfig): string[] {
  const { kind, path: source } = datasetKind(c.dataset);
  if (kind === 'csv') return [source!];
  if (kind === 'idx') return idxFiles(source!);
  return [];
}

/**
 * The most samples a run may ask for, train + val + test. mnist (10,000) and fashion-mnist (70,000) are
 * bounded by their files; synthetic makes what it is asked for, and at this bound a run peaks near
 * 0.8 GB (8×8 samples, each held about three times: pool, split, tensor), far from the typed-array limit.
 */
export const MAX_SAMPLES = 1_000_000;

/**
 * The fully resolved data config. A csv: or idx: path is made absolute (a worker, a resumed run and the
 * dataset cache all mean the same file) and must exist; an option of another kind of dataset is refused,
 * and the options of this kind are recorded only for it (an mnist run records no --data-dir).
 */
export function checkDataConfig(partial: Partial<DataConfig>): DataConfig {
  const c = { ...DATA_DEFAULTS, ...partial };
  const { kind, path: source } = datasetKind(c.dataset);
  for (const [key, owner] of Object.entries(DATASET_OPTIONS) as [keyof typeof DATASET_OPTIONS, DatasetKind][]) {
    if (c[key] !== undefined && owner !== kind) {
      throw new ConfigError(
        `${DATASET_OPTION_FLAGS[key]} applies only to --dataset ${owner === 'csv' ? 'csv:FILE' : owner}, got --dataset ${String(c.dataset)}`,
      );
    }
  }
  const checked: DataConfig = {
    dataset: source === undefined ? kind : `${kind}:${path.resolve(source)}`,
    trainSize: checkInt('--train-size', c.trainSize, 1),
    valSize: checkInt('--val-size', c.valSize, 1),
    testSize: checkInt('--test-size', c.testSize, 1),
    seed: checkInt('--seed', c.seed, 0, 2 ** 32 - 1),
  };
  if (kind === 'fashion-mnist')
    checked.dataDir = c.dataDir === undefined ? DEFAULT_FASHION_DIR : checkPath('--data-dir', c.dataDir);
  if (kind === 'csv') {
    const file = source!;
    checkCsvFile(file);
    const header = typeof c.csvHeader === 'boolean' ? String(c.csvHeader) : (c.csvHeader ?? 'auto');
    if (!(CSV_HEADER_MODES as readonly string[]).includes(header))
      throw new ConfigError(
        `--csv-header must be one of ${CSV_HEADER_MODES.join(', ')}, got ${JSON.stringify(c.csvHeader)}`,
      );
    checked.csvHeader = header as CsvHeaderMode;
    if (c.csvLabel !== undefined) checked.csvLabel = checkCsvLabel(c.csvLabel);
  }
  if (kind === 'idx') idxFiles(source!); // the folder and its training pair exist
  // Recorded only when there is noise: a clean run's config.json stays as it was before the option existed.
  const noise = checkLabelNoise({ labelNoise: c.labelNoise, labelNoiseKind: c.labelNoiseKind });
  if (noise.labelNoise > 0) Object.assign(checked, noise);
  else if (noise.labelNoiseKind !== 'symmetric')
    throw new ConfigError(`--label-noise-kind ${noise.labelNoiseKind} needs --label-noise above 0, got 0`);

  // one bound on the sum: it also catches a single size too large, before anything is allocated
  const total = checked.trainSize + checked.valSize + checked.testSize;
  if (total > MAX_SAMPLES) {
    throw new ConfigError(
      `--train-size + --val-size + --test-size must be at most ${MAX_SAMPLES} in all, got ${total}`,
    );
  }
  return checked;
}

function checkPath(flag: string, value: unknown): string {
  if (typeof value !== 'string' || value === '')
    throw new ConfigError(`${flag} must be a path, got ${JSON.stringify(value)}`);
  return value;
}

function checkCsvLabel(value: unknown): string | number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && value.trim() !== '')
    return /^\d+$/.test(value.trim()) ? Number(value.trim()) : value;
  throw new ConfigError(`--csv-label must be a column name or a 0-based column index, got ${JSON.stringify(value)}`);
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
export function splitPool(name: string, pool: Pool, c: DataConfig): Dataset {
  const features = pool.imageShape[0] * pool.imageShape[1] * pool.imageShape[2];
  const available = pool.y.length;
  const rng = createRng(`split:${c.seed}`);
  const needed = c.trainSize + c.valSize + (pool.test ? 0 : c.testSize);
  if (needed > available) {
    const parts = pool.test ? '--train-size + --val-size' : '--train-size + --val-size + --test-size';
    throw new ConfigError(`${parts} = ${needed} exceeds the ${available} samples of ${name}`);
  }
  if (pool.test && c.testSize > pool.test.y.length) {
    throw new ConfigError(
      `--test-size must be at most ${pool.test.y.length} for ${name} (its test set), got ${c.testSize}`,
    );
  }
  const order = permutation(available, rng);
  const train = take(pool, features, order.subarray(0, c.trainSize));
  const val = take(pool, features, order.subarray(c.trainSize, c.trainSize + c.valSize));
  const test = pool.test
    ? take(pool.test, features, permutation(pool.test.y.length, rng).subarray(0, c.testSize))
    : take(pool, features, order.subarray(c.trainSize + c.valSize, needed));
  const data: Dataset = {
    name,
    imageShape: pool.imageShape,
    features,
    numClasses: pool.numClasses,
    ...(pool.classNames ? { classNames: pool.classNames } : {}),
    train,
    val,
    test,
  };
  return withLabelNoise(data, c);
}

/**
 * The dataset with a seeded fraction of its training and validation labels corrupted (label-noise.ts),
 * the test split untouched; the dataset itself when `labelNoise` is 0 or absent.
 */
export function withLabelNoise(data: Dataset, c: Pick<DataConfig, 'labelNoise' | 'labelNoiseKind' | 'seed'>): Dataset {
  const noise = checkLabelNoise(c);
  if (noise.labelNoise === 0) return data;
  const noisy = (split: Split, which: 'train' | 'val'): Split => ({
    ...split,
    y: corruptLabels(split.y, data.numClasses, noise, labelNoiseRng(c.seed, which)).labels,
  });
  return { ...data, train: noisy(data.train, 'train'), val: noisy(data.val, 'val') };
}

/**
 * Standardizes every feature in place with the training split's mean and standard deviation, so
 * validation and test are scaled as training is and never inform it. A constant feature is only centred.
 */
export function standardize(data: Dataset): { mean: Float64Array; std: Float64Array } {
  const { features, train } = data;
  const mean = new Float64Array(features);
  const std = new Float64Array(features);
  for (let i = 0; i < train.n; i++) for (let f = 0; f < features; f++) mean[f]! += train.x[i * features + f]!;
  for (let f = 0; f < features; f++) mean[f]! /= train.n;
  for (let i = 0; i < train.n; i++)
    for (let f = 0; f < features; f++) std[f]! += (train.x[i * features + f]! - mean[f]!) ** 2;
  for (let f = 0; f < features; f++) std[f] = Math.sqrt(std[f]! / train.n) || 1;
  for (const split of [data.train, data.val, data.test]) {
    for (let i = 0; i < split.n; i++)
      for (let f = 0; f < features; f++) split.x[i * features + f] = (split.x[i * features + f]! - mean[f]!) / std[f]!;
  }
  return { mean, std };
}

/** Loads a dataset and splits it. Everything is read from disk or made here: nothing downloads. */
export function loadDataset(partial: Partial<DataConfig> = {}): Dataset {
  const c = checkDataConfig(partial);
  const { kind, path: source } = datasetKind(c.dataset);
  if (kind === 'csv') {
    const data = splitPool(c.dataset, loadCsv(source!, { label: c.csvLabel, header: c.csvHeader }), c);
    standardize(data);
    return data;
  }
  const pool =
    kind === 'mnist'
      ? loadMnist()
      : kind === 'fashion-mnist'
        ? loadFashionMnist(c.dataDir)
        : kind === 'idx'
          ? loadIdxDir(source!)
          : makeSynthetic(c.trainSize + c.valSize + c.testSize, c.seed);
  return splitPool(c.dataset, pool, c);
}
