/**
 * A Dataset from a user's own arrays or tensors, split as the built-in datasets are (same seeded
 * permutation for the same sizes and seed). Values are used as given: no scaling.
 */
import { checkInt } from '../core/check.js';
import { ConfigError } from '../core/errors.js';
import { splitPool, type Dataset, type Pool } from './dataset.js';
import { checkLabelNoise, type LabelNoiseKind } from './label-noise.js';

/** What a tf.Tensor offers here (any tfjs tensor fits; src/data does not import tfjs). */
export interface TensorLike {
  readonly shape: number[];
  dataSync(): ArrayLike<number>;
}

export type NestedNumbers = number | readonly NestedNumbers[];

export interface ArraysDatasetArgs {
  /** Any name: it is what run logs and comparisons call the dataset. */
  name: string;
  /**
   * The samples: a tensor of shape [n, ...features], nested arrays of that shape, or a flat array or
   * typed array of n × features values (n is the number of labels).
   */
  x: TensorLike | readonly NestedNumbers[] | ArrayLike<number>;
  /** Labels: class indices [n], or one-hot rows [n, classes]; as an array, a typed array or a tensor. */
  y: TensorLike | ArrayLike<number> | readonly (readonly number[])[];
  /** @default one-hot width, else the largest index + 1 */
  numClasses?: number;
  /**
   * One sample as an image, [height, width, channels] (what cnn: models need).
   * @default from x's shape: [h, w, c] as is, [h, w] as [h, w, 1], a flat sample as [1, features, 1]
   */
  imageShape?: [number, number, number];
  /** @default the samples left after validation and test */
  trainSize?: number;
  /** @default 15% of the samples (at least 1) */
  valSize?: number;
  /** @default 15% of the samples (at least 1) */
  testSize?: number;
  /** Seed of the split (and of the label noise). @default 0 */
  seed?: number;
  /** Fraction of training and validation labels corrupted, in [0, 1) (label-noise.ts). @default 0 */
  labelNoise?: number;
  /** @default 'symmetric' */
  labelNoiseKind?: LabelNoiseKind;
}

const isTensor = (v: unknown): v is TensorLike =>
  typeof v === 'object' &&
  v !== null &&
  Array.isArray((v as TensorLike).shape) &&
  typeof (v as TensorLike).dataSync === 'function';

/** Flattens nested arrays of one shape (the first element's at every depth), naming the first ragged entry. */
function flattenNested(rows: readonly NestedNumbers[], what: string): { shape: number[]; values: Float32Array } {
  const shape: number[] = [];
  for (let v: NestedNumbers = rows; Array.isArray(v); v = (v as readonly NestedNumbers[])[0]!)
    shape.push((v as readonly NestedNumbers[]).length);
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let at = 0;
  const walk = (v: NestedNumbers, depth: number, where: string): void => {
    if (depth === shape.length) {
      if (typeof v !== 'number')
        throw new ConfigError(
          `datasetFromArrays: ${where} must be a number, got ${Array.isArray(v) ? 'an array' : JSON.stringify(v)}`,
        );
      if (!Number.isFinite(v)) throw new ConfigError(`datasetFromArrays: ${where} must be a finite number, got ${v}`);
      values[at++] = v;
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new ConfigError(
        `datasetFromArrays: ${where} must have ${shape[depth]} entries (as ${what}${'[0]'.repeat(depth)} has), got ${Array.isArray(v) ? v.length : typeof v}`,
      );
    }
    (v as readonly NestedNumbers[]).forEach((child, i) => walk(child, depth + 1, `${where}[${i}]`));
  };
  walk(rows, 0, what);
  return { shape, values };
}

function valuesOf(v: ArraysDatasetArgs['x'], what: string): { shape?: number[]; values: Float32Array } {
  if (isTensor(v)) {
    const values = Float32Array.from(v.dataSync());
    const bad = values.findIndex((x) => !Number.isFinite(x));
    if (bad !== -1)
      throw new ConfigError(
        `datasetFromArrays: ${what} value ${bad} (flat) must be a finite number, got ${values[bad]}`,
      );
    return { shape: [...v.shape], values };
  }
  if (Array.isArray(v) && v.length > 0 && Array.isArray(v[0]))
    return flattenNested(v as readonly NestedNumbers[], what);
  const flat = v as ArrayLike<number>;
  for (let i = 0; i < flat.length; i++) {
    if (typeof flat[i] !== 'number')
      throw new ConfigError(`datasetFromArrays: ${what}[${i}] must be a number, got ${JSON.stringify(flat[i])}`);
    if (!Number.isFinite(flat[i]))
      throw new ConfigError(`datasetFromArrays: ${what}[${i}] must be a finite number, got ${flat[i]}`);
  }
  return { values: Float32Array.from(flat) };
}

/** The split Dataset of a user's samples and labels. Throws a ConfigError naming the field on a mistake. */
export function datasetFromArrays(args: ArraysDatasetArgs): Dataset {
  if (typeof args.name !== 'string' || args.name === '')
    throw new ConfigError(`datasetFromArrays: name must be a non-empty string, got ${JSON.stringify(args.name)}`);

  // labels: indices, or one-hot rows (exactly one 1 each: a soft label is not a class)
  const labels = valuesOf(args.y, 'y');
  const oneHot = labels.shape !== undefined && labels.shape.length === 2;
  if (labels.shape && labels.shape.length > 2)
    throw new ConfigError(
      `datasetFromArrays: y must be class indices [n] or one-hot [n, classes], got shape [${labels.shape.join(', ')}]`,
    );
  const width = oneHot ? labels.shape![1]! : 1;
  const n = labels.values.length / width;
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (oneHot) {
      const row = labels.values.subarray(i * width, (i + 1) * width);
      const hot = row.indexOf(1);
      if (hot === -1 || row.some((v, k) => v !== (k === hot ? 1 : 0)))
        throw new ConfigError(
          `datasetFromArrays: y[${i}] must be a one-hot row (one 1, the rest 0), got ${JSON.stringify([...row])}`,
        );
      y[i] = hot;
    } else {
      const label = labels.values[i]!;
      if (!Number.isInteger(label) || label < 0)
        throw new ConfigError(`datasetFromArrays: y[${i}] must be a class index (an integer >= 0), got ${label}`);
      y[i] = label;
    }
  }
  if (n < 3)
    throw new ConfigError(`datasetFromArrays: needs at least 3 samples (train, validation and test), got ${n}`);
  const numClasses =
    args.numClasses === undefined
      ? oneHot
        ? width
        : y.reduce((a, b) => Math.max(a, b), 0) + 1
      : checkInt('datasetFromArrays: numClasses', args.numClasses, 2);
  if (numClasses < 2)
    throw new ConfigError(`datasetFromArrays: y holds only class 0: a classifier needs at least 2 classes`);
  const outside = y.findIndex((label) => label >= numClasses);
  if (outside !== -1)
    throw new ConfigError(`datasetFromArrays: y[${outside}] is class ${y[outside]}, but numClasses is ${numClasses}`);

  // samples: n of them, each of the image shape
  const samples = valuesOf(args.x, 'x');
  if (samples.shape && samples.shape[0] !== n)
    throw new ConfigError(`datasetFromArrays: x holds ${samples.shape[0]} samples but y holds ${n} labels`);
  if (samples.values.length % n !== 0)
    throw new ConfigError(
      `datasetFromArrays: x has ${samples.values.length} values, not a whole number per sample for ${n} labels`,
    );
  const features = samples.values.length / n;
  const sampleShape = samples.shape ? samples.shape.slice(1) : [features];
  let imageShape = args.imageShape;
  if (imageShape === undefined) {
    if (sampleShape.length > 3)
      throw new ConfigError(
        `datasetFromArrays: a sample of shape [${sampleShape.join(', ')}] has more than 3 dimensions: give imageShape`,
      );
    imageShape =
      sampleShape.length === 3
        ? (sampleShape as [number, number, number])
        : sampleShape.length === 2
          ? [sampleShape[0]!, sampleShape[1]!, 1]
          : [1, features, 1];
  } else if (
    imageShape.length !== 3 ||
    imageShape.some((d) => !Number.isInteger(d) || d < 1) ||
    imageShape[0] * imageShape[1] * imageShape[2] !== features
  ) {
    throw new ConfigError(
      `datasetFromArrays: imageShape must be [height, width, channels] holding the ${features} values of a sample, got ${JSON.stringify(imageShape)}`,
    );
  }

  const part = Math.max(1, Math.floor(0.15 * n));
  const valSize = checkInt('datasetFromArrays: valSize', args.valSize ?? part, 1);
  const testSize = checkInt('datasetFromArrays: testSize', args.testSize ?? part, 1);
  const trainSize = checkInt('datasetFromArrays: trainSize', args.trainSize ?? n - valSize - testSize, 1);
  const seed = checkInt('datasetFromArrays: seed', args.seed ?? 0, 0, 2 ** 32 - 1);
  const pool: Pool = { imageShape: [...imageShape], numClasses, x: samples.values, y };
  const noise = checkLabelNoise({ labelNoise: args.labelNoise, labelNoiseKind: args.labelNoiseKind });
  return splitPool(args.name, pool, { dataset: args.name, trainSize, valSize, testSize, seed, ...noise });
}
