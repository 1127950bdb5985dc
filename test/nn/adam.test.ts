import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';

import { FusedAdam } from '../../src/nn/adam.js';

/** Weights after `steps` updates of a least-squares problem, by `update`, from the same start. */
function train(steps: number, update: (vars: tf.Variable[], grads: tf.Tensor[]) => void): Float32Array[] {
  const [w, b] = tf.tidy(() => [tf.variable(tf.tensor2d([[0.5, -0.25, 1], [0.75, 0.1, -0.6]])), tf.variable(tf.tensor1d([0.05, -0.02, 0.3]))]);
  const x = tf.tensor2d([[1, 2], [-1, 0.5], [0.3, -2], [2, 1]]);
  const y = tf.tensor2d([[1, 0, 2], [0, 1, -1], [2, 2, 0], [-1, 0.5, 1]]);
  for (let i = 0; i < steps; i++) {
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(x, w), b), y))) as tf.Scalar, [w, b]);
      update([w, b], [grads[w.name]!, grads[b.name]!]);
    });
  }
  const out = [w.dataSync() as Float32Array, b.dataSync() as Float32Array];
  tf.dispose([w, b, x, y]);
  return out;
}

function maxRelDiff(a: Float32Array[], b: Float32Array[]): number {
  let diff = 0;
  let ref = 0;
  a.forEach((arr, i) => arr.forEach((v, j) => {
    diff = Math.max(diff, Math.abs(v - b[i]![j]!));
    ref = Math.max(ref, Math.abs(b[i]![j]!));
  }));
  return diff / ref;
}

describe('FusedAdam', () => {
  it('follows tf.train.adam step for step (float32 rounding apart)', () => {
    const reference = tf.train.adam(0.01);
    const expected = train(50, (vars, grads) => reference.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i]! }))));
    reference.dispose();
    const fused = new FusedAdam({ lr: 0.01 });
    const actual = train(50, (vars, grads) => fused.apply(vars, grads));
    expect(maxRelDiff(actual, expected)).to.be.at.most(1e-5);
    // And the weights did move: 50 steps of 0.01 on a loss far from its minimum.
    expect(maxRelDiff(actual, train(0, () => undefined))).to.be.above(0.1);
  });

  it('continues bit-identically from a saved state', () => {
    const first = new FusedAdam({ lr: 0.02 });
    let saved: ReturnType<FusedAdam['getState']> | undefined;
    let resumed: FusedAdam | undefined;
    const straight = train(20, (vars, grads) => first.apply(vars, grads));
    const second = new FusedAdam({ lr: 0.02 });
    const split = train(20, (vars, grads) => {
      if (saved === undefined && second.getState().step === 10) {
        saved = second.getState();
        resumed = new FusedAdam({ lr: 0.02 });
        resumed.setState(saved);
      }
      (resumed ?? second).apply(vars, grads);
    });
    expect(saved?.step).to.equal(10);
    split.forEach((arr, i) => expect(Array.from(arr)).to.deep.equal(Array.from(straight[i]!)));
  });

  it('leaves a weight without a gradient, and its moments, as they are', () => {
    const w = tf.variable(tf.tensor1d([1, 2, 3]));
    const fused = new FusedAdam({ lr: 0.1 });
    fused.apply([w], [undefined]);
    expect(Array.from(w.dataSync())).to.deep.equal([1, 2, 3]);
    expect(fused.getState().m).to.deep.equal([]);
    w.dispose();
  });

  it('leaks no tensors', () => {
    const fused = new FusedAdam({ lr: 0.01 });
    train(1, (vars, grads) => fused.apply(vars, grads));
    const before = tf.memory().numTensors;
    train(5, (vars, grads) => fused.apply(vars, grads));
    expect(tf.memory().numTensors).to.equal(before);
  });
});
