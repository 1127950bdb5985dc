import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';

import { FusedAdam } from '../../src/nn/adam.js';
import { maxRelDiff, train } from './least-squares.js';

describe('FusedAdam', () => {
  it('follows tf.train.adam step for step (float32 rounding apart)', () => {
    const reference = tf.train.adam(0.01);
    const expected = train(50, (vars, grads) =>
      reference.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i]! }))),
    );
    reference.dispose();
    const fused = new FusedAdam({ lr: 0.01 });
    const actual = train(50, (vars, grads) => fused.apply(vars, grads));
    expect(maxRelDiff(actual, expected)).to.be.at.most(1e-5);
    // And the weights did move: 50 steps of 0.01 on a loss far from its minimum.
    expect(
      maxRelDiff(
        actual,
        train(0, () => undefined),
      ),
    ).to.be.above(0.1);
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
