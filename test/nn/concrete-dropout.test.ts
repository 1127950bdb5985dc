import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { ConfigError } from '../../src/core/errors.js';
import { createRng } from '../../src/core/rng.js';
import { loadDataset } from '../../src/data/dataset.js';
import { FusedAdam } from '../../src/nn/adam.js';
import { buildModel, parseModelSpec } from '../../src/nn/models.js';
import { trainEpoch } from '../../src/nn/trainer.js';
import { TunableDropout, dropoutLayersOf } from '../../src/nn/tunable-dropout.js';

const logitOf = (layer: TunableDropout) => layer.trainableWeights[0]!.read() as tf.Variable;

/** Frees a layer built outside a model (Layer.dispose wants one that was applied to symbolic inputs). */
const release = (layer: TunableDropout) => layer.weights.forEach((w) => w.dispose());

/** A built concrete layer for inputs of `shape` (one sample). */
function concreteLayer(rate: number, shape: number[], opts: { spatial?: boolean; seed?: number } = {}): TunableDropout {
  const layer = new TunableDropout({ rate, concrete: true, seed: opts.seed ?? 7, spatial: opts.spatial });
  layer.build([null, ...shape]);
  return layer;
}

/**
 * E[f(drop)] over the relaxed mask drop = sigmoid((logit + log u − log(1−u)) / t), u ~ U(0, 1), by the
 * midpoint rule on a fine grid of u (f is smooth and bounded; the error is far below the test's σ).
 */
function maskExpectation(rate: number, t: number, f: (drop: number) => number, n = 200_000): number {
  const logit = Math.log(rate) - Math.log(1 - rate);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const u = (i + 0.5) / n;
    sum += f(1 / (1 + Math.exp(-(logit + Math.log(u) - Math.log(1 - u)) / t)));
  }
  return sum / n;
}

describe('TunableDropout, concrete (Gal et al. 2017)', () => {
  it('holds its rate as a trainable scalar logit, p = sigmoid(logit)', () => {
    const layer = concreteLayer(0.1, [8]);
    expect(layer.trainableWeights).to.have.lengthOf(1);
    expect(layer.trainableWeights[0]!.shape).to.deep.equal([]);
    expect(logitOf(layer).dataSync()[0]).to.be.closeTo(Math.log(0.1 / 0.9), 1e-6);
    expect(layer.rate).to.be.closeTo(0.1, 1e-7);
    layer.rate = 0.35;
    expect(layer.rate).to.be.closeTo(0.35, 1e-7);
    release(layer);
  });

  it('is the identity when evaluating', () => {
    const layer = concreteLayer(0.4, [16]);
    const x = tf.randomNormal([8, 16], 0, 1, 'float32', 3);
    for (const out of [layer.apply(x, { training: false }) as tf.Tensor, layer.apply(x) as tf.Tensor]) {
      expect(out.arraySync()).to.deep.equal(x.arraySync());
      out.dispose();
    }
    tf.dispose(x);
    release(layer);
  });

  for (const rate of [0.1, 0.3, 0.7]) {
    it(`keeps the mean in training at p = ${rate}: x·(1−drop)/(1−p) averages ≈ x (4 σ of the mean)`, () => {
      const N = 200 * 500;
      const layer = concreteLayer(rate, [500], { seed: 11 });
      const out = layer.apply(tf.ones([200, 500]), { training: true }) as tf.Tensor;
      const mean = tf.tidy(() => tf.mean(out).dataSync()[0]!);
      // The relaxation is not exactly unbiased: its expectation and spread, from the mask's distribution.
      const expected = maskExpectation(rate, 0.1, (d) => (1 - d) / (1 - rate));
      const sd = Math.sqrt(maskExpectation(rate, 0.1, (d) => ((1 - d) / (1 - rate)) ** 2) - expected ** 2);
      expect(Math.abs(expected - 1), 'the relaxed mask is within 0.5% of unbiased').to.be.below(0.005);
      expect(Math.abs(mean - expected)).to.be.below((4 * sd) / Math.sqrt(N));
      // At t = 0.1 most entries are near 0 or 1/(1−p), as a Bernoulli mask's: a fraction ≈ p below half.
      const lowFraction = tf.tidy(() => tf.mean(tf.cast(tf.less(out, 0.5 / (1 - rate)), 'float32')).dataSync()[0]!);
      expect(Math.abs(lowFraction - rate)).to.be.below(4 * Math.sqrt((rate * (1 - rate)) / N));
      tf.dispose(out);
      release(layer);
    });
  }

  it('draws the same masks for the same seed, new ones on every call', () => {
    const a = concreteLayer(0.3, [50], { seed: 5 });
    const b = concreteLayer(0.3, [50], { seed: 5 });
    const x = tf.ones([4, 50]);
    const [a1, a2, b1] = [a, a, b].map((l) => (l.apply(x, { training: true }) as tf.Tensor).arraySync());
    expect(b1).to.deep.equal(a1);
    expect(a2).to.not.deep.equal(a1);
    tf.dispose(x);
    release(a);
    release(b);
  });

  it('spatial mode draws one noise value per channel of an NHWC map', () => {
    const layer = concreteLayer(0.5, [5, 5, 16], { spatial: true, seed: 9 });
    const out = layer.apply(tf.ones([6, 5, 5, 16]), { training: true }) as tf.Tensor;
    const values = out.arraySync() as number[][][][];
    for (const sample of values) {
      for (let c = 0; c < 16; c++)
        expect(new Set(sample.flatMap((row) => row.map((px) => px[c]!))).size, 'one value per channel').to.equal(1);
    }
    tf.dispose(out);
    release(layer);
  });

  it('passes the gradient to the logit: one SGD step on the output changes p', () => {
    const layer = concreteLayer(0.3, [64], { seed: 2 });
    const x = tf.randomNormal([32, 64], 1, 0.5, 'float32', 4);
    const logit = logitOf(layer);
    // mean(output²): its expectation E[(1−drop)²]/(1−p)² ≈ 1/(1−p) grows with p, so descent should lower p.
    const { grads } = tf.variableGrads(
      () => tf.mean(tf.square(layer.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar,
      [logit],
    );
    const g = grads[logit.name]!.dataSync()[0]!;
    expect(Number.isFinite(g) && g !== 0, `gradient ${g}`).to.equal(true);
    const before = layer.rate;
    tf.tidy(() => logit.assign(tf.sub(logit, tf.mul(grads[logit.name]!, 0.1))));
    expect(layer.rate).to.be.below(before);
    tf.dispose([x, ...Object.values(grads)]);
    release(layer);
  });

  it("adds Gal's regularizer: weight term over the fed kernel, minus K/N times the entropy, pulling p toward 0.5", () => {
    const K = 20;
    const kernel = tf.tensor2d(
      Array.from({ length: K * 3 }, (_, i) => (i % 7) / 10 - 0.3),
      [K, 3],
    );
    const sumSq = tf.sum(tf.square(kernel)).dataSync()[0]!;
    const [wReg, dReg] = [1e-3, 1 / 200];
    for (const rate of [0.1, 0.7]) {
      const layer = concreteLayer(rate, [K]);
      const logit = logitOf(layer);
      const { value, grads } = tf.variableGrads(() => layer.concreteRegularizer(kernel, wReg, dReg), [logit]);
      const negEntropy = rate * Math.log(rate) + (1 - rate) * Math.log(1 - rate);
      expect(value.dataSync()[0]!).to.be.closeTo((wReg * sumSq) / (1 - rate) + dReg * K * negEntropy, 1e-5);
      // Without the weight term, d/dlogit of K·(p log p + (1−p) log(1−p)) = K·p(1−p)·logit: descent moves p toward 0.5.
      const { grads: entropyOnly } = tf.variableGrads(
        () => layer.concreteRegularizer(tf.zerosLike(kernel), wReg, dReg),
        [logit],
      );
      const logitValue = Math.log(rate / (1 - rate));
      expect(entropyOnly[logit.name]!.dataSync()[0]!).to.be.closeTo(dReg * K * rate * (1 - rate) * logitValue, 1e-6);
      expect(Math.sign(entropyOnly[logit.name]!.dataSync()[0]!)).to.equal(rate < 0.5 ? -1 : 1);
      tf.dispose([value, ...Object.values(grads), ...Object.values(entropyOnly)]);
      release(layer);
    }
    // Spatial: K is the number of channels.
    const spatial = concreteLayer(0.1, [4, 4, 6], { spatial: true });
    const reg = spatial.concreteRegularizer(tf.zeros([3]), 0, 1);
    expect(reg.dataSync()[0]!).to.be.closeTo(6 * (0.1 * Math.log(0.1) + 0.9 * Math.log(0.9)), 1e-5);
    tf.dispose([kernel, reg]);
    release(spatial);
  });

  it('knows the kernel each dropout layer feeds, through pooling and flatten (buildModel)', () => {
    const built = buildModel(parseModelSpec('cnn:4,8/16'), {
      imageShape: [8, 8, 1],
      numClasses: 3,
      rates: [0.1, 0.2, 0.3, 0.4],
      inputDropout: true,
      concrete: true,
      rng: createRng(1),
    });
    const layerOf = (kernel: tf.LayerVariable) =>
      built.model.layers.find((l) => l.trainableWeights[0] === kernel)!.name;
    expect(built.fedKernels.map(layerOf)).to.deep.equal(['conv_1', 'conv_2', 'dense_3', 'output']);
    expect(built.dropouts.map((d) => d.concrete)).to.deep.equal([true, true, true, true]);
    // Each logit is a trainable weight of the model, so the optimizer updates it.
    expect(built.model.trainableWeights.filter((w) => w.originalName.endsWith('logit'))).to.have.lengthOf(4);
    built.model.dispose();
  });

  it('rejects p = 0 (it has no logit) with a ConfigError', () => {
    expect(() => new TunableDropout({ rate: 0, concrete: true })).to.throw(
      ConfigError,
      'rate must be in (0, 1) for concrete dropout, got 0',
    );
    const layer = concreteLayer(0.2, [4]);
    expect(() => (layer.rate = 0)).to.throw(ConfigError, 'for concrete dropout');
    expect(layer.rate).to.be.closeTo(0.2, 1e-7);
    release(layer);
  });

  it('keeps concrete mode and the learned p through a save and load', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [4], units: 3 }),
        new TunableDropout({ rate: 0.25, concrete: true, seed: 3, name: 'drop_c' }),
      ],
    });
    const layer = dropoutLayersOf(model)[0]!;
    layer.rate = 0.4;
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    const [back] = dropoutLayersOf(loaded);
    expect([back!.concrete, back!.temperature, back!.seed]).to.deep.equal([true, 0.1, 3]);
    expect(back!.rate).to.equal(layer.rate);
    model.dispose();
    loaded.dispose();
  });
});

describe('concrete dropout logits at their own learning rate', () => {
  it('Adam moves weight i by lr · lrScales[i] per step under a constant gradient (m̂/√v̂ = 1)', () => {
    const a = tf.variable(tf.zeros([3]));
    const b = tf.variable(tf.zeros([]));
    const adam = new FusedAdam({ lr: 0.001 });
    for (let step = 0; step < 5; step++) {
      const grads = [tf.ones([3]), tf.scalar(-1)];
      adam.apply([a, b], grads, [1, 50]);
      tf.dispose(grads);
    }
    for (const v of a.dataSync()) expect(v).to.be.closeTo(-0.005, 1e-6);
    expect(b.dataSync()[0]).to.be.closeTo(0.25, 1e-5);
    tf.dispose([a, b]);
  });

  it("moves a model's logits faster than lr per step with lrScale 50, and within lr per step without", async () => {
    const data = loadDataset({ dataset: 'synthetic', trainSize: 256, valSize: 64, testSize: 64, seed: 3 });
    const steps = 256 / 32;
    const lr = 0.001;
    const moved = async (lrScale: number): Promise<number[]> => {
      const built = buildModel(parseModelSpec('mlp:32,16'), {
        imageShape: data.imageShape,
        numClasses: data.numClasses,
        rates: [0.3, 0.3],
        concrete: true,
        rng: createRng(5),
      });
      const logit = (d: TunableDropout) => d.logitVariable!.dataSync()[0]!;
      const before = built.dropouts.map(logit);
      const order = Int32Array.from({ length: data.train.n }, (_, i) => i);
      const shape = [data.features];
      await trainEpoch(built, new FusedAdam({ lr }), data.train, shape, data.numClasses, order, 32, 0, {
        lrScale,
        lengthScale: 1e-4,
      });
      const after = built.dropouts.map(logit);
      built.model.dispose();
      return after.map((v, i) => Math.abs(v - before[i]!));
    };
    // Adam's step is at most about lr (×1.0 plus float rounding) per step: the cap the issue measured
    for (const d of await moved(1)) expect(d).to.be.at.most(steps * lr * 1.01);
    const fast = await moved(50);
    // past the weights' cap, and within the logits' own
    for (const d of fast)
      expect(d)
        .to.be.above(steps * lr)
        .and.at.most(steps * lr * 50 * 1.01);
  });
});

describe('buildModel with concrete dropout', () => {
  it("uses Gal et al.'s temperatures: 0.1 for dense layers, 2/3 for spatial ones", () => {
    const built = buildModel(parseModelSpec('cnn:4/8'), {
      imageShape: [8, 8, 1],
      numClasses: 3,
      rates: [0.2, 0.2],
      concrete: true,
      rng: createRng(1),
    });
    expect(built.dropouts.map((d) => [d.spatial, d.temperature])).to.deep.equal([
      [true, 2 / 3],
      [false, 0.1],
    ]);
    built.model.dispose();
  });
});
