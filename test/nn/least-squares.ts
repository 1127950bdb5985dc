/** What the optimizer tests share: a small least-squares problem trained by any update rule. */
import * as tf from '@tensorflow/tfjs';

/** Weights after `steps` updates of a least-squares problem, by `update`, from the same start. */
export function train(steps: number, update: (vars: tf.Variable[], grads: tf.Tensor[]) => void): Float32Array[] {
  const [w, b] = tf.tidy(() => [
    tf.variable(
      tf.tensor2d([
        [0.5, -0.25, 1],
        [0.75, 0.1, -0.6],
      ]),
    ),
    tf.variable(tf.tensor1d([0.05, -0.02, 0.3])),
  ]);
  const x = tf.tensor2d([
    [1, 2],
    [-1, 0.5],
    [0.3, -2],
    [2, 1],
  ]);
  const y = tf.tensor2d([
    [1, 0, 2],
    [0, 1, -1],
    [2, 2, 0],
    [-1, 0.5, 1],
  ]);
  for (let i = 0; i < steps; i++) {
    tf.tidy(() => {
      const { grads } = tf.variableGrads(
        () => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(x, w), b), y))) as tf.Scalar,
        [w, b],
      );
      update([w, b], [grads[w.name]!, grads[b.name]!]);
    });
  }
  const out = [w.dataSync() as Float32Array, b.dataSync() as Float32Array];
  tf.dispose([w, b, x, y]);
  return out;
}

/** max |a − b| / max |b| over all tensors (b is the reference). */
export function maxRelDiff(a: Float32Array[], b: Float32Array[]): number {
  let diff = 0;
  let ref = 0;
  a.forEach((arr, i) =>
    arr.forEach((v, j) => {
      diff = Math.max(diff, Math.abs(v - b[i]![j]!));
      ref = Math.max(ref, Math.abs(b[i]![j]!));
    }),
  );
  return diff / ref;
}
