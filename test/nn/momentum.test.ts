import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';

import { FusedAdam } from '../../src/nn/adam.js';
import { FusedMomentum, type MomentumState } from '../../src/nn/momentum.js';
import { createOptimizer } from '../../src/nn/optimizer.js';
import { maxRelDiff, train } from './least-squares.js';

/** Weights after `steps` updates by a tfjs reference optimizer. */
function trainReference(steps: number, optimizer: tf.Optimizer): Float32Array[] {
  const out = train(steps, (vars, grads) =>
    optimizer.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i]! }))),
  );
  optimizer.dispose();
  return out;
}

describe('FusedMomentum', () => {
  it('follows tf.train.momentum step for step (float32 rounding apart)', () => {
    const expected = trainReference(50, tf.train.momentum(0.01, 0.9));
    const fused = new FusedMomentum({ lr: 0.01, momentum: 0.9 });
    const actual = train(50, (vars, grads) => fused.apply(vars, grads));
    expect(maxRelDiff(actual, expected)).to.be.at.most(1e-5);
    // The momentum matters: without it the weights end elsewhere.
    expect(
      maxRelDiff(
        train(50, (vars, grads) => new FusedMomentum({ lr: 0.01, momentum: 0 }).apply(vars, grads)),
        expected,
      ),
    ).to.be.above(0.01);
  });

  it('is plain SGD with momentum 0', () => {
    const expected = trainReference(30, tf.train.sgd(0.05));
    const fused = new FusedMomentum({ lr: 0.05, momentum: 0 });
    expect(
      maxRelDiff(
        train(30, (vars, grads) => fused.apply(vars, grads)),
        expected,
      ),
    ).to.be.at.most(1e-5);
  });

  it('continues bit-identically from a saved state', () => {
    const first = new FusedMomentum({ lr: 0.02 });
    const straight = train(20, (vars, grads) => first.apply(vars, grads));
    const second = new FusedMomentum({ lr: 0.02 });
    let saved: MomentumState | undefined;
    let resumed: FusedMomentum | undefined;
    const split = train(20, (vars, grads) => {
      if (saved === undefined && second.getState().step === 10) {
        saved = second.getState();
        resumed = new FusedMomentum({ lr: 0.02 });
        resumed.setState(saved);
      }
      (resumed ?? second).apply(vars, grads);
    });
    expect(saved?.step).to.equal(10);
    expect(saved?.velocity).to.have.lengthOf(2);
    split.forEach((arr, i) => expect(Array.from(arr)).to.deep.equal(Array.from(straight[i]!)));
  });

  it('leaves a weight without a gradient, and its velocity, as they are', () => {
    const w = tf.variable(tf.tensor1d([1, 2, 3]));
    const fused = new FusedMomentum({ lr: 0.1 });
    fused.apply([w], [undefined]);
    expect(Array.from(w.dataSync())).to.deep.equal([1, 2, 3]);
    expect(fused.getState().velocity).to.deep.equal([]);
    w.dispose();
  });

  it("refuses Adam's state, and Adam refuses its state", () => {
    const adam = new FusedAdam({ lr: 0.01 });
    const sgd = new FusedMomentum({ lr: 0.01 });
    expect(() => sgd.setState(adam.getState() as never)).to.throw(/no velocity/);
    expect(() => adam.setState(sgd.getState() as never)).to.throw(/no moments/);
  });

  it('leaks no tensors', () => {
    const fused = new FusedMomentum({ lr: 0.01 });
    train(1, (vars, grads) => fused.apply(vars, grads));
    const before = tf.memory().numTensors;
    train(5, (vars, grads) => fused.apply(vars, grads));
    expect(tf.memory().numTensors).to.equal(before);
  });
});

describe('createOptimizer', () => {
  it('builds the named optimizer with the given settings', () => {
    const sgd = createOptimizer({ optimizer: 'sgd', lr: 0.05, momentum: 0.5 });
    expect(sgd).to.be.instanceOf(FusedMomentum);
    expect(sgd).to.include({ lr: 0.05, momentum: 0.5 });
    const adam = createOptimizer({ optimizer: 'adam', lr: 0.002, momentum: 0.5 });
    expect(adam).to.be.instanceOf(FusedAdam);
    expect(adam).to.include({ lr: 0.002 });
  });
});
