import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { createRng } from '../../src/core/rng.js';
import { loadDataset, type Dataset } from '../../src/data/dataset.js';
import { buildModel, parseModelSpec } from '../../src/nn/models.js';
import { DropoutEnv } from '../../envs/dropout-env.js';
import { checkEnv } from '../helpers/check_env.js';

const CNN = { model: 'cnn:4,8/16', batchSize: 32, lr: 0.01, maxEpochs: 3 };

describe('DropoutEnv with a CNN', () => {
  let data: Dataset;
  before(() => {
    data = loadDataset({ dataset: 'synthetic', trainSize: 192, valSize: 64, testSize: 64, seed: 2 });
  });

  it('has one controllable rate per conv block and per dense block', () => {
    const env = new DropoutEnv(data, CNN);
    expect(env.numLayers).to.equal(3);
    expect(env.observationNames.filter((n) => n.startsWith('rate_'))).to.deep.equal(['rate_1', 'rate_2', 'rate_3']);
    env.dispose();
  });

  it('passes the shared env check (same seed → same observations)', async () => {
    const env = new DropoutEnv(data, CNN);
    await checkEnv(env, { seed: 3, steps: 3 });
    env.dispose();
  });

  it('leaks no tensors over episodes of training and evaluation', async () => {
    const before = tf.memory().numTensors;
    const env = new DropoutEnv(data, { ...CNN, batchNorm: true });
    for (let episode = 0; episode < 2; episode++) {
      await env.reset({ seed: episode });
      for (let t = 0; t < 3; t++) await env.step([2, 1, 0]);
    }
    env.dispose();
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('drops whole channels of the conv maps while training and nothing while evaluating', () => {
    const { model, dropouts } = buildModel(parseModelSpec('cnn:6,8/16'), {
      imageShape: [8, 8, 1],
      numClasses: 4,
      rates: [0.5, 0.5, 0.5],
      rng: createRng(1),
    });
    const spatial = dropouts[0]!;
    expect(spatial.spatial).to.equal(true);
    expect(dropouts[2]!.spatial, 'the dense block uses ordinary dropout').to.equal(false);
    const x = tf.randomUniform([16, 4, 4, 6], 0.5, 1, 'float32', 7); // a post-pool map, all nonzero
    const trained = spatial.apply(x, { training: true }) as tf.Tensor;
    const maps = trained.arraySync() as number[][][][];
    let dropped = 0;
    for (const sample of maps) {
      for (let c = 0; c < 6; c++) {
        const values = sample.flatMap((row) => row.map((px) => px[c]!));
        const zeros = values.filter((v) => v === 0).length;
        expect(zeros === 0 || zeros === values.length, 'a channel is dropped whole or not at all').to.equal(true);
        if (zeros > 0) dropped += 1;
      }
    }
    // 96 channels dropped with p = 0.5: within 4 binomial σ of 48.
    expect(Math.abs(dropped - 48)).to.be.below(4 * Math.sqrt(96 * 0.25));
    const evaluated = spatial.apply(x, { training: false }) as tf.Tensor;
    expect(evaluated.arraySync()).to.deep.equal(x.arraySync());
    // The whole model in inference mode is deterministic: dropout is off.
    const input = tf.randomUniform([2, 8, 8, 1], 0, 1, 'float32', 3);
    const [a, b] = [model.predict(input) as tf.Tensor, model.predict(input) as tf.Tensor];
    expect(a.arraySync()).to.deep.equal(b.arraySync());
    tf.dispose([x, trained, evaluated, input, a, b]);
    model.dispose();
  });
});
