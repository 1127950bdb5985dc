import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';

import { createRng, permutation } from '../../src/core/rng.js';
import { loadDataset } from '../../src/data/dataset.js';
import { mlpLayout } from '../../src/nn/mlp-step.js';
import { buildModel, parseModelSpec, type BuiltModel } from '../../src/nn/models.js';
import { createOptimizer, type OptimizerName } from '../../src/nn/optimizer.js';
import { profileKernels } from '../../src/nn/profile.js';
import { trainEpoch, type EpochStats, type TrainingPath } from '../../src/nn/trainer.js';

// 64 features, 6 classes; 100 samples in batches of 32 (the last one of 4).
const data = loadDataset({ dataset: 'synthetic', trainSize: 100, valSize: 10, testSize: 10, seed: 5 });

interface Case {
  spec: string;
  rates: number[];
  inputDropout: boolean;
  l2: number;
  optimizer: OptimizerName;
}

function build(c: Case): BuiltModel {
  return buildModel(parseModelSpec(c.spec), {
    imageShape: data.imageShape,
    numClasses: data.numClasses,
    rates: c.rates,
    inputDropout: c.inputDropout,
    rng: createRng(11).fork(),
  });
}

/** Trains `epochs` epochs on one path; the weights' bytes, the mask streams and each epoch's statistics. */
async function train(c: Case, path: TrainingPath, epochs = 2) {
  const built = build(c);
  const optimizer = createOptimizer({ optimizer: c.optimizer, lr: 0.01, momentum: 0.9 });
  const shuffle = createRng(3);
  const stats: EpochStats[] = [];
  for (let e = 0; e < epochs; e++) {
    const order = permutation(data.train.n, shuffle);
    stats.push(
      await trainEpoch(
        built,
        optimizer,
        data.train,
        [data.features],
        data.numClasses,
        order,
        32,
        c.l2,
        undefined,
        path,
      ),
    );
  }
  const weights = built.model.weights.map((w) => Buffer.from((w.read().dataSync() as Float32Array).buffer));
  const streams = built.dropouts.map((d) => d.streamState);
  built.model.dispose();
  return { weights, streams, stats, optimizer: optimizer.getState() };
}

const CASES: Case[] = [
  { spec: 'mlp:24,16', rates: [0.2, 0.5, 0.3], inputDropout: true, l2: 0, optimizer: 'adam' },
  // a rate-0 layer draws no mask; no input dropout; L2 on the kernels
  { spec: 'mlp:24,16', rates: [0, 0.4], inputDropout: false, l2: 0.01, optimizer: 'adam' },
  { spec: 'mlp:20', rates: [0.3, 0.1], inputDropout: true, l2: 0, optimizer: 'sgd' },
];

describe('tape-free MLP training (mlpBatch)', () => {
  for (const c of CASES) {
    it(`trains ${c.spec}, rates ${c.rates.join('/')}, L2 ${c.l2}, ${c.optimizer} bit for bit as the tape does`, async () => {
      const tape = await train(c, 'tape');
      const fast = await train(c, 'auto');
      tape.weights.forEach((w, i) => expect(fast.weights[i]!.equals(w), `weight ${i}`).to.equal(true));
      expect(fast.stats).to.deep.equal(tape.stats);
      expect(fast.streams).to.deep.equal(tape.streams);
      expect(fast.optimizer).to.deep.equal(tape.optimizer);
      // It did train: the loss fell and the weights moved from their initial values.
      expect(tape.stats[1]!.lossMean).to.be.below(tape.stats[0]!.lossMean);
    });
  }

  it('keeps the tensor count flat over 20 epochs', async () => {
    const c = CASES[1]!;
    const built = build(c);
    const optimizer = createOptimizer({ optimizer: 'adam', lr: 0.01, momentum: 0 });
    const order = Int32Array.from({ length: data.train.n }, (_, i) => i);
    const counts: number[] = [];
    for (let e = 0; e < 20; e++) {
      await trainEpoch(built, optimizer, data.train, [data.features], data.numClasses, order, 32, c.l2);
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size, `tensor counts ${counts.join(' ')}`).to.equal(1);
    built.model.dispose();
  });

  it("is seen by the bench's profile: each direct kernel call, and the wasm Adam pass", async () => {
    const built = build(CASES[0]!);
    const optimizer = createOptimizer({ optimizer: 'adam', lr: 0.01, momentum: 0 });
    const order = Int32Array.from({ length: data.train.n }, (_, i) => i);
    const profile = await profileKernels(() =>
      trainEpoch(built, optimizer, data.train, [data.features], data.numClasses, order, 32),
    );
    built.model.dispose();
    const calls = (kernel: string) => profile.kernels.find((k) => k.kernel === kernel)?.calls ?? 0;
    // 4 batches: per batch 2 hidden products and 5 in the backward pass, the output layer's fused one
    expect([calls('BatchMatMul'), calls('_FusedMatMul'), calls('Softmax')]).to.deep.equal([28, 4, 4]);
    if (tf.getBackend() === 'wasm') expect(calls('Adam (wasm SIMD, moments copied in and out)')).to.equal(4 * 6);
    expect(profile.kernelMs).to.be.above(0).and.below(profile.wallMs);
  });

  it('takes only plain dense stacks: not BatchNorm, concrete or conv models', () => {
    const model = (spec: string, extra: object = {}) =>
      buildModel(parseModelSpec(spec), {
        imageShape: data.imageShape,
        numClasses: data.numClasses,
        rates: [0.2, 0.2],
        rng: createRng(1),
        ...extra,
      });
    const plain = model('mlp:8,8');
    expect(mlpLayout(plain.model)?.weights.length).to.equal(3);
    for (const other of [model('mlp:8,8', { batchNorm: true }), model('mlp:8,8', { concrete: true })]) {
      expect(mlpLayout(other.model)).to.equal(null);
      other.model.dispose();
    }
    plain.model.dispose();
  });
});
