/**
 * One training epoch and one evaluation, written as a plain loop over optimizer.minimize.
 * Per-batch losses stay on the device and are read back once per epoch: reading a scalar inside the
 * batch loop would stall the backend on every batch.
 */
import * as tf from '@tensorflow/tfjs';
import type { Optimizer } from './optimizer.js';
import type { BuiltModel } from './models.js';
import { KernelRunner, mlpBatch, mlpLayout, viewAs, type MlpLayout } from './mlp-step.js';

export interface EpochStats {
  /** Mean and (population) standard deviation of the batch losses, with dropout on. */
  lossMean: number;
  lossStd: number;
  /** Fraction of training samples classified right while being trained on (dropout on). */
  acc: number;
  /** A batch loss or a weight became NaN or infinite. */
  diverged: boolean;
}

export interface EvalStats {
  loss: number;
  acc: number;
}

/** Concrete dropout's settings for the trainer. */
export interface ConcreteTraining {
  /** The logits' learning rate over the weights' (concreteLr / lr). */
  lrScale: number;
  /** The prior length-scale l of the weight regularizer. */
  lengthScale: number;
}

/** Gal et al.'s default length-scale, and no learning rate of the logits' own. */
export const CONCRETE_TRAINING_DEFAULTS: ConcreteTraining = { lrScale: 1, lengthScale: 1e-4 };

/**
 * Concrete dropout's regularizer weights for N training samples, from Gal, Hron & Kendall 2017 with a
 * prior length-scale l (their default 1e-4) and τ = 1: weightRegularizer = l²/(τN), dropoutRegularizer =
 * 2/(τN) are their values for the Euclidean (MSE) loss. Their code notes that the factor 2 is to be
 * dropped for cross-entropy: it comes from writing the Gaussian likelihood τ/2·‖y−ŷ‖² as MSE. With a
 * mean cross-entropy the objective is CE + KL/N, so here weightRegularizer = l²/(2N), dropoutRegularizer = 1/N.
 */
export function concreteRegularizers(trainSize: number, lengthScale = 1e-4): { weight: number; dropout: number } {
  return { weight: lengthScale ** 2 / (2 * trainSize), dropout: 1 / trainSize };
}

/** Mean categorical cross-entropy of softmax outputs against one-hot labels, plus L2 on the kernels. */
function lossOf(probs: tf.Tensor, labels: tf.Tensor, built: BuiltModel, l2: number): tf.Scalar {
  const ce = tf.mean(tf.metrics.categoricalCrossentropy(labels, probs)) as tf.Scalar;
  if (l2 === 0) return ce;
  const penalty = tf.addN(built.kernels.map((k) => tf.sum(tf.square(k.read()))));
  return tf.add(ce, tf.mul(penalty, l2));
}

/**
 * What training minimizes: the loss, plus each concrete dropout layer's regularizer (N = `trainSize`).
 * The regularizer stays out of the reported loss: its dropout term is negative, and the losses of
 * concrete and fixed-rate runs should measure the same thing.
 */
function objectiveOf(loss: tf.Scalar, built: BuiltModel, trainSize: number, lengthScale: number): tf.Scalar {
  const concrete = built.dropouts.flatMap((d, i) => (d.concrete ? [{ d, kernel: built.fedKernels[i]! }] : []));
  if (concrete.length === 0) return loss;
  const { weight, dropout } = concreteRegularizers(trainSize, lengthScale);
  return tf.addN([loss, ...concrete.map(({ d, kernel }) => d.concreteRegularizer(kernel.read(), weight, dropout))]);
}

function correctCount(probs: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(probs, -1), tf.argMax(labels, -1)), 'float32'));
}

/** One split's samples on the host, as the trainer reads them. */
export interface HostSplit {
  /** Row-major samples: sample i is x[i·features … (i+1)·features). */
  x: Float32Array;
  /** Class index per sample. */
  y: Int32Array;
  n: number;
}

/**
 * The samples order[start … start + size) of `train`: inputs row by row and one-hot labels. Fresh arrays
 * per batch: some backends keep a reference to the array a tensor was made from.
 */
function gatherBatch(train: HostSplit, order: Int32Array, start: number, size: number, numClasses: number) {
  const features = train.x.length / train.n;
  const xb = new Float32Array(size * features);
  const yb = new Float32Array(size * numClasses);
  for (let i = 0; i < size; i++) {
    const sample = order[start + i]!;
    xb.set(train.x.subarray(sample * features, (sample + 1) * features), i * features);
    yb[i * numClasses + train.y[sample]!] = 1;
  }
  return { xb, yb };
}

/**
 * Trains one epoch over `train`, visiting the samples in `order` (a permutation), with dropout at the
 * layers' current rates. Each batch is gathered on the host and uploaded as one tensor: on wasm a
 * device-side gather and per-batch slices cost more than the batch's matmuls.
 */
export async function trainEpoch(
  built: BuiltModel,
  optimizer: Optimizer,
  train: HostSplit,
  sampleShape: readonly number[],
  numClasses: number,
  order: Int32Array,
  batchSize: number,
  l2 = 0,
  concrete: ConcreteTraining = CONCRETE_TRAINING_DEFAULTS,
  path: TrainingPath = 'auto',
): Promise<EpochStats> {
  const layout = path === 'auto' && TAPE_FREE_BACKENDS.includes(tf.getBackend()) ? mlpLayout(built.model) : null;
  if (layout) return trainMlpEpoch(layout, optimizer, train, numClasses, order, batchSize, l2);
  const n = order.length;
  const vars = built.model.trainableWeights.map((w) => w.read() as tf.Variable);
  // concrete dropout's logits at their own learning rate, every other weight at the optimizer's
  const logits = new Set(built.dropouts.flatMap((d) => (d.logitVariable ? [d.logitVariable] : [])));
  const lrScales = logits.size === 0 ? undefined : vars.map((v) => (logits.has(v) ? concrete.lrScale : 1));
  const batchLosses: tf.Scalar[] = [];
  const batchCorrect: tf.Scalar[] = [];
  try {
    for (let start = 0; start < n; start += batchSize) {
      // Back to the event loop between batches: a signal handler (a second Ctrl-C) runs within a batch.
      if (start > 0) await new Promise((resolve) => setImmediate(resolve));
      const size = Math.min(batchSize, n - start);
      const { xb, yb } = gatherBatch(train, order, start, size, numClasses);
      tf.tidy(() => {
        const xs = tf.tensor(xb, [size, ...sampleShape], 'float32');
        const ys = tf.tensor2d(yb, [size, numClasses], 'float32');
        const { grads } = tf.variableGrads(() => {
          const probs = built.model.apply(xs, { training: true }) as tf.Tensor;
          batchCorrect.push(tf.keep(correctCount(probs, ys)));
          const loss = lossOf(probs, ys, built, l2);
          batchLosses.push(tf.keep(loss));
          return objectiveOf(loss, built, train.n, concrete.lengthScale);
        }, vars);
        optimizer.apply(
          vars,
          vars.map((v) => grads[v.name]),
          lrScales,
        );
      });
    }
    return await epochSummary(vars, batchLosses, batchCorrect, n);
  } finally {
    tf.dispose([...batchLosses, ...batchCorrect]);
  }
}

/**
 * One read-back per epoch: the batch losses, the total of correct predictions, and whether every
 * weight is finite (the loss clips probabilities, so NaN weights can hide behind a finite loss).
 */
async function epochSummary(
  vars: tf.Variable[],
  batchLosses: tf.Tensor[],
  batchCorrect: tf.Tensor[],
  n: number,
): Promise<EpochStats> {
  const summary = tf.tidy(() => {
    const weightsFinite = tf.all(tf.stack(vars.map((v) => tf.all(tf.isFinite(v))))).toFloat();
    return tf.concat([
      tf.reshape(tf.stack(batchLosses), [-1]),
      tf.reshape(tf.addN(batchCorrect), [1]),
      tf.reshape(weightsFinite, [1]),
    ]);
  });
  const values = Array.from(await summary.data());
  summary.dispose();
  const weightsFinite = values.pop() === 1;
  const correct = values.pop()!;
  const lossMean = values.reduce((a, b) => a + b, 0) / values.length;
  const lossVar = values.reduce((a, b) => a + (b - lossMean) ** 2, 0) / values.length;
  return {
    lossMean,
    lossStd: Math.sqrt(lossVar),
    acc: correct / n,
    diverged: !weightsFinite || !values.every(Number.isFinite),
  };
}

/**
 * 'auto' trains a built-in-shaped MLP (see mlpLayout) without the gradient tape on wasm and cpu, and
 * anything else on it; 'tape' always takes tf.variableGrads (the reference the tape-free path is tested
 * against, bit for bit).
 */
export type TrainingPath = 'auto' | 'tape';
const TAPE_FREE_BACKENDS = ['wasm', 'cpu'];

/** trainEpoch for an MLP, each batch by mlpBatch (src/nn/mlp-step.ts): the same numbers, a fifth of the kernel calls. */
async function trainMlpEpoch(
  layout: MlpLayout,
  optimizer: Optimizer,
  train: HostSplit,
  numClasses: number,
  order: Int32Array,
  batchSize: number,
  l2: number,
): Promise<EpochStats> {
  const n = order.length;
  const features = train.x.length / train.n;
  const vars = layout.weights.flatMap((w) => [w.kernel, w.bias]);
  const units = [features, ...layout.weights.map((w) => w.kernel.shape[1]!)];
  // Per dropout layer the width of its input: the features for an input dropout, else a hidden layer's.
  const dropoutUnits = layout.inputDropout ? units.slice(0, -1) : units.slice(1, -1);
  // The weights as one member of a population: views, no copies ([in, out] as [1, in, out], [out] as [1, 1, out]).
  const views = () =>
    layout.weights.map((w) => ({
      kernel: viewAs(w.kernel, [1, ...w.kernel.shape]),
      bias: viewAs(w.bias, [1, 1, w.bias.shape[0]!]),
    }));
  const runner = new KernelRunner();
  const batchLosses: tf.Tensor[] = [];
  const batchCorrect: tf.Tensor[] = [];
  try {
    for (let start = 0; start < n; start += batchSize) {
      if (start > 0) await new Promise((resolve) => setImmediate(resolve));
      const size = Math.min(batchSize, n - start);
      const { xb, yb } = gatherBatch(train, order, start, size, numClasses);
      // In layer order, as the layers' training calls draw them.
      const maskValues = layout.dropouts.map((d, l) => d.nextMask([size, dropoutUnits[l]!]));
      tf.tidy(() => {
        const x = tf.tensor3d(xb, [1, size, features]);
        const labels = tf.tensor3d(yb, [1, size, numClasses]);
        const masks = maskValues.map((m, l) => (m ? tf.tensor3d(m, [1, size, dropoutUnits[l]!]) : null));
        const result = mlpBatch(
          runner,
          views(),
          { x, labels, masks },
          layout.inputDropout,
          l2,
          vars.map((v) => v.shape),
        );
        runner.release();
        batchLosses.push(tf.keep(result.loss));
        batchCorrect.push(tf.keep(result.correct));
        optimizer.apply(vars, result.grads);
      });
    }
    return await epochSummary(vars, batchLosses, batchCorrect, n);
  } finally {
    runner.dispose();
    tf.dispose([...batchLosses, ...batchCorrect]);
  }
}

/** Loss and accuracy with dropout off (training: false), in chunks to bound memory. */
export async function evaluate(built: BuiltModel, x: tf.Tensor, labels: tf.Tensor, chunk = 1000): Promise<EvalStats> {
  const n = x.shape[0]!;
  const totals = tf.tidy(() => {
    let lossSum: tf.Tensor = tf.scalar(0);
    let correct: tf.Tensor = tf.scalar(0);
    for (let start = 0; start < n; start += chunk) {
      const size = Math.min(chunk, n - start);
      // A slice copies on wasm; one chunk needs none.
      const yb = size === n ? labels : tf.slice(labels, start, size);
      const probs = built.model.apply(size === n ? x : tf.slice(x, start, size), { training: false }) as tf.Tensor;
      lossSum = tf.add(lossSum, tf.sum(tf.metrics.categoricalCrossentropy(yb, probs)));
      correct = tf.add(correct, correctCount(probs, yb));
    }
    return tf.stack([lossSum, correct]);
  });
  const [lossSum, correct] = await totals.data();
  totals.dispose();
  return { loss: lossSum! / n, acc: correct! / n };
}
