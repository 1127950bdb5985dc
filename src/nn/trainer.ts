/**
 * One training epoch and one evaluation, written as a plain loop over optimizer.minimize.
 * Per-batch losses stay on the device and are read back once per epoch: reading a scalar inside the
 * batch loop would stall the backend on every batch.
 */
import * as tf from '@tensorflow/tfjs';
import type { BuiltModel } from './models.js';

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

/** Mean categorical cross-entropy of softmax outputs against one-hot labels, plus L2 on the kernels. */
function lossOf(probs: tf.Tensor, labels: tf.Tensor, built: BuiltModel, l2: number): tf.Scalar {
  const ce = tf.mean(tf.metrics.categoricalCrossentropy(labels, probs)) as tf.Scalar;
  if (l2 === 0) return ce;
  const penalty = tf.addN(built.kernels.map((k) => tf.sum(tf.square(k.read()))));
  return tf.add(ce, tf.mul(penalty, l2));
}

function correctCount(probs: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(probs, -1), tf.argMax(labels, -1)), 'float32'));
}

/**
 * Trains one epoch over `x`/`labels` (one-hot) in the order given (a permutation of the samples).
 * Dropout layers use their current rates.
 */
export async function trainEpoch(
  built: BuiltModel,
  optimizer: tf.Optimizer,
  x: tf.Tensor,
  labels: tf.Tensor,
  order: Int32Array,
  batchSize: number,
  l2 = 0,
): Promise<EpochStats> {
  const n = order.length;
  const vars = built.model.trainableWeights.map((w) => w.read() as tf.Variable);
  const batchLosses: tf.Scalar[] = [];
  const batchCorrect: tf.Scalar[] = [];
  // Shuffle once per epoch on the device; batches are then cheap slices.
  const [xs, ys] = tf.tidy(() => {
    const idx = tf.tensor1d(order, 'int32');
    return [tf.gather(x, idx), tf.gather(labels, idx)];
  });
  try {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      tf.tidy(() => {
        const xb = tf.slice(xs!, start, size);
        const yb = tf.slice(ys!, start, size);
        const loss = optimizer.minimize(() => {
          const probs = built.model.apply(xb, { training: true }) as tf.Tensor;
          batchCorrect.push(tf.keep(correctCount(probs, yb)));
          return lossOf(probs, yb, built, l2);
        }, true, vars);
        batchLosses.push(tf.keep(loss!));
      });
    }
    // One read-back per epoch: the batch losses, the total of correct predictions, and whether every
    // weight is finite (the loss clips probabilities, so NaN weights can hide behind a finite loss).
    const summary = tf.tidy(() => {
      const weightsFinite = tf.all(tf.stack(vars.map((v) => tf.all(tf.isFinite(v))))).toFloat();
      return tf.concat([tf.stack(batchLosses), tf.reshape(tf.addN(batchCorrect), [1]), tf.reshape(weightsFinite, [1])]);
    });
    const values = Array.from(await summary.data());
    summary.dispose();
    const weightsFinite = values.pop() === 1;
    const correct = values.pop()!;
    const lossMean = values.reduce((a, b) => a + b, 0) / values.length;
    const lossVar = values.reduce((a, b) => a + (b - lossMean) ** 2, 0) / values.length;
    return { lossMean, lossStd: Math.sqrt(lossVar), acc: correct / n, diverged: !weightsFinite || !values.every(Number.isFinite) };
  } finally {
    tf.dispose([xs!, ys!, ...batchLosses, ...batchCorrect]);
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
      const yb = tf.slice(labels, start, size);
      const probs = built.model.apply(tf.slice(x, start, size), { training: false }) as tf.Tensor;
      lossSum = tf.add(lossSum, tf.sum(tf.metrics.categoricalCrossentropy(yb, probs)));
      correct = tf.add(correct, correctCount(probs, yb));
    }
    return tf.stack([lossSum, correct]);
  });
  const [lossSum, correct] = await totals.data();
  totals.dispose();
  return { loss: lossSum! / n, acc: correct! / n };
}
