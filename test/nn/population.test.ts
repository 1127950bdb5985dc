import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';

import { DropoutEnv, type DropoutEnvConfig } from '../../envs/dropout-env.js';
import { ConfigError } from '../../src/core/errors.js';
import { createRng } from '../../src/core/rng.js';
import { loadDataset, type Dataset } from '../../src/data/dataset.js';
import { buildModel, parseModelSpec } from '../../src/nn/models.js';
import { PopulationTrainer, type MemberState } from '../../src/nn/population.js';

// 64 features, 6 classes; 100 samples in batches of 32 (the last one of 4).
const data: Dataset = loadDataset({ dataset: 'synthetic', trainSize: 100, valSize: 50, testSize: 50, seed: 3 });
const UNITS = [64, 24, 16, 6];
const SPEC = 'mlp:24,16';
const ENV: Partial<DropoutEnvConfig> = { model: SPEC, inputDropout: true, batchSize: 32, lr: 0.01, maxEpochs: 50 };
const CONFIG = { units: UNITS, inputDropout: true, batchSize: 32, lr: 0.01 };
/** Per member: seed and rates (input, hidden 1, hidden 2); one member has a rate-0 layer. */
const MEMBERS: { seed: number; rates: number[] }[] = [
  { seed: 1, rates: [0.2, 0.5, 0.3] },
  { seed: 2, rates: [0, 0.1, 0.6] },
  { seed: 3, rates: [0.4, 0.4, 0] },
];
const KEEP = [1, 1, 1];

async function envAt(seed: number, rates: number[], extra: Partial<DropoutEnvConfig> = {}): Promise<DropoutEnv> {
  const env = new DropoutEnv(data, { ...ENV, ...extra, initialRates: rates });
  await env.reset({ seed });
  return env;
}

function valTensors(): { x: tf.Tensor; labels: tf.Tensor } {
  return tf.tidy(() => ({
    x: tf.tensor2d(data.val.x, [data.val.n, data.features]),
    labels: tf.oneHot(tf.tensor1d(data.val.y, 'int32'), data.numClasses).toFloat(),
  }));
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

describe('PopulationTrainer', () => {
  it("gives each member exactly its single run's gradients", async () => {
    const envs = await Promise.all(MEMBERS.map((m) => envAt(m.seed, m.rates)));
    const population = new PopulationTrainer(
      CONFIG,
      envs.map((e) => e.snapshot()),
    );
    const batches = MEMBERS.map((_, p) => Int32Array.from({ length: 20 }, (_, i) => (i * 7 + p * 13) % data.train.n));
    const batched = population.gradients(data.train, batches);
    MEMBERS.forEach(({ seed, rates }, p) => {
      // The single run's model, built as DropoutEnv.reset builds it, and its loss as trainEpoch takes it.
      const built = buildModel(parseModelSpec(SPEC), {
        imageShape: data.imageShape,
        numClasses: data.numClasses,
        rates,
        inputDropout: true,
        rng: createRng(seed).fork(),
      });
      const order = batches[p]!;
      const x = new Float32Array(order.length * data.features);
      order.forEach((s, i) =>
        x.set(data.train.x.subarray(s * data.features, (s + 1) * data.features), i * data.features),
      );
      const single = tf.tidy(() => {
        const xs = tf.tensor2d(x, [order.length, data.features]);
        const ys = tf
          .oneHot(
            tf.tensor1d(
              Int32Array.from(order, (s) => data.train.y[s]!),
              'int32',
            ),
            6,
          )
          .toFloat();
        const vars = built.model.trainableWeights.map((w) => w.read() as tf.Variable);
        const { grads } = tf.variableGrads(() => {
          const probs = built.model.apply(xs, { training: true }) as tf.Tensor;
          return tf.mean(tf.metrics.categoricalCrossentropy(ys, probs)) as tf.Scalar;
        }, vars);
        return vars.map((v) => grads[v.name]!);
      });
      const expected = single.map((g) => g.dataSync() as Float32Array);
      tf.dispose(single);
      built.model.dispose();
      expect(batched[p]!.length).to.equal(expected.length);
      expected.forEach((g, i) => {
        expect(maxAbsDiff(batched[p]![i]!, g), `member ${p} weight ${i}`).to.equal(0);
        expect(g.some((v) => v !== 0)).to.equal(true);
      });
    });
    population.dispose();
    envs.forEach((e) => e.dispose());
  });

  it('trains two epochs as the single runs do, bit for bit: weights, streams, statistics, validation', async () => {
    // Member 0 joins one epoch in (its own Adam step count, as a PBT copy would); the others fresh.
    const envs = await Promise.all(MEMBERS.map((m) => envAt(m.seed, m.rates)));
    await envs[0]!.step(KEEP);
    const population = new PopulationTrainer(
      CONFIG,
      envs.map((e) => e.snapshot()),
    );
    const val = valTensors();
    for (const action of [KEEP, [2, 0, 2]]) {
      const infos = await Promise.all(envs.map(async (e) => (await e.step(action)).info));
      envs.forEach((e, p) => {
        if (action !== KEEP) population.setRates(p, infos[p]!.rates);
      });
      // The env applies the action before its epoch: so does the population.
      const stats = await population.trainEpoch(data.train);
      const valStats = await population.evaluate(val.x, val.labels);
      envs.forEach((env, p) => {
        const expected = env.snapshot();
        const actual = population.memberState(p);
        expected.weights.forEach((w, i) => {
          expect(actual.weights[i]!.name).to.equal(w.name);
          expect(actual.weights[i]!.shape).to.deep.equal(w.shape);
          expect(maxAbsDiff(actual.weights[i]!.values, w.values), `member ${p} ${w.name}`).to.equal(0);
        });
        expect(actual.rng).to.deep.equal(expected.rng);
        expect(actual.dropouts).to.deep.equal(expected.dropouts);
        expect(actual.optimizer).to.deep.equal(expected.optimizer);
        const info = infos[p]!;
        expect([stats[p]!.lossMean, stats[p]!.lossStd, stats[p]!.acc]).to.deep.equal([
          info.trainLoss,
          info.trainLossStd,
          info.trainAcc,
        ]);
        expect([valStats[p]!.loss, valStats[p]!.acc]).to.deep.equal([info.valLoss, info.valAcc]);
      });
    }
    // The members did differ: different weights and rates after the same number of epochs.
    expect(population.rates(1)).to.deep.equal([0.05, 0.05, 0.65]);
    const w = [0, 1].map((p) => population.memberState(p).weights[0]!.values);
    expect(maxAbsDiff(w[0]!, w[1]!)).to.be.above(0.01);
    tf.dispose([val.x, val.labels]);
    population.dispose();
    envs.forEach((e) => e.dispose());
  });

  it('applies L2 as the single run does', async () => {
    const envs = await Promise.all(MEMBERS.slice(0, 2).map((m) => envAt(m.seed, m.rates, { l2: 0.01 })));
    const population = new PopulationTrainer(
      { ...CONFIG, l2: 0.01 },
      envs.map((e) => e.snapshot()),
    );
    const infos = await Promise.all(envs.map(async (e) => (await e.step(KEEP)).info));
    const stats = await population.trainEpoch(data.train);
    envs.forEach((env, p) => {
      expect(stats[p]!.lossMean).to.equal(infos[p]!.trainLoss);
      const expected = env.snapshot().weights;
      population
        .memberState(p)
        .weights.forEach((w, i) => expect(maxAbsDiff(w.values, expected[i]!.values)).to.equal(0));
    });
    population.dispose();
    envs.forEach((e) => e.dispose());
  });

  it('hands a member back to an env, which then trains on as its single run does', async () => {
    const { seed, rates } = MEMBERS[0]!;
    const [single, start, resumed] = await Promise.all([0, 1, 2].map(() => envAt(seed, rates)));
    const population = new PopulationTrainer(CONFIG, [start!.snapshot()]);
    await population.trainEpoch(data.train);
    await single!.step(KEEP);
    resumed!.restore({ ...resumed!.snapshot(), ...population.memberState(0) });
    const [a, b] = await Promise.all([single!, resumed!].map(async (e) => (await e.step(KEEP)).info));
    expect([b!.trainLoss, b!.valLoss, b!.valAcc]).to.deep.equal([a!.trainLoss, a!.valLoss, a!.valAcc]);
    const expected = single!.snapshot().weights;
    resumed!.snapshot().weights.forEach((w, i) => expect(maxAbsDiff(w.values, expected[i]!.values)).to.equal(0));
    population.dispose();
    [single, start, resumed].forEach((e) => e!.dispose());
  });

  it('keeps the tensor count flat over 20 epochs', async () => {
    const envs = await Promise.all(MEMBERS.map((m) => envAt(m.seed, m.rates)));
    const population = new PopulationTrainer(
      CONFIG,
      envs.map((e) => e.snapshot()),
    );
    envs.forEach((e) => e.dispose());
    const val = valTensors();
    const counts: number[] = [];
    for (let epoch = 0; epoch < 20; epoch++) {
      await population.trainEpoch(data.train);
      await population.evaluate(val.x, val.labels);
      population.memberState(epoch % 3);
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size, `tensor counts ${counts.join(' ')}`).to.equal(1);
    const before = tf.memory().numTensors;
    population.dispose();
    expect(tf.memory().numTensors).to.equal(before - 2 * (UNITS.length - 1));
    tf.dispose([val.x, val.labels]);
  });

  it('refuses an SGD state and a member of another architecture, naming them', async () => {
    const sgd = await envAt(1, MEMBERS[0]!.rates, { optimizer: 'sgd' });
    await sgd.step(KEEP);
    expect(() => new PopulationTrainer(CONFIG, [sgd.snapshot()])).to.throw(ConfigError, /member 0: .*Adam only/);
    const wide = await envAt(1, [0.1, 0.1, 0.1], { model: 'mlp:32,16' });
    const state: MemberState = wide.snapshot();
    expect(() => new PopulationTrainer(CONFIG, [state])).to.throw(ConfigError, /dense_1\/kernel has shape \[64, 32\]/);
    sgd.dispose();
    wide.dispose();
  });
});
