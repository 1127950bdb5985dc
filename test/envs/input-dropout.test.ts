import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { ConfigError } from '../../src/core/errors.js';
import { createRng } from '../../src/core/rng.js';
import { loadDataset, type Dataset } from '../../src/data/dataset.js';
import { buildModel, countDropoutLayers, parseModelSpec } from '../../src/nn/models.js';
import { DropoutEnv } from '../../envs/dropout-env.js';
import { checkEnv } from '../helpers/check_env.js';

const layerNames = (model: tf.LayersModel) => model.layers.map((l) => l.name);

describe('input dropout', () => {
  let data: Dataset;
  before(() => {
    data = loadDataset({ dataset: 'synthetic', trainSize: 192, valSize: 64, testSize: 64, seed: 4 });
  });

  it('leaves the layers of a model without it as they were', () => {
    const { model } = buildModel(parseModelSpec('mlp:8,4'), {
      imageShape: [4, 4, 1],
      numClasses: 3,
      rates: [0.1, 0.2],
      rng: createRng(1),
    });
    expect(layerNames(model)).to.deep.equal(['dense_1', 'dropout_1', 'dense_2', 'dropout_2', 'output']);
    model.dispose();
  });

  it('puts a dropout layer first, numbered dropout_1, with the first rate (MLP and CNN)', () => {
    const mlp = buildModel(parseModelSpec('mlp:8,4'), {
      imageShape: [4, 4, 1],
      numClasses: 3,
      rates: [0.2, 0.3, 0.4],
      inputDropout: true,
      rng: createRng(1),
    });
    expect(layerNames(mlp.model)).to.deep.equal([
      'dropout_1',
      'dense_1',
      'dropout_2',
      'dense_2',
      'dropout_3',
      'output',
    ]);
    expect(mlp.dropouts.map((d) => d.rate)).to.deep.equal([0.2, 0.3, 0.4]);
    expect(mlp.model.inputs[0]!.shape).to.deep.equal([null, 16]);
    const cnn = buildModel(parseModelSpec('cnn:4/8'), {
      imageShape: [4, 4, 1],
      numClasses: 3,
      rates: [0.2, 0.3, 0.4],
      inputDropout: true,
      rng: createRng(1),
    });
    expect(layerNames(cnn.model).slice(0, 3)).to.deep.equal(['dropout_1', 'conv_1', 'pool_1']);
    expect(cnn.dropouts.map((d) => d.spatial)).to.deep.equal([false, true, false]);
    expect(countDropoutLayers(parseModelSpec('cnn:4/8'), true)).to.equal(3);
    mlp.model.dispose();
    cnn.model.dispose();
  });

  it('drops single pixels of the image while training, never whole images, and nothing while evaluating', () => {
    const { model, dropouts } = buildModel(parseModelSpec('cnn:4/8'), {
      imageShape: [8, 8, 1],
      numClasses: 3,
      rates: [0.3, 0, 0],
      inputDropout: true,
      rng: createRng(2),
    });
    const x = tf.ones([16, 8, 8, 1]);
    const trained = dropouts[0]!.apply(x, { training: true }) as tf.Tensor;
    const values = trained.dataSync();
    const zeros = values.filter((v) => v === 0).length;
    // 1,024 pixels dropped with p = 0.3: within 4 binomial σ of 307.2.
    expect(Math.abs(zeros - 0.3 * 1024)).to.be.below(4 * Math.sqrt(1024 * 0.3 * 0.7));
    const perImage = Array.from(
      { length: 16 },
      (_, i) => values.slice(i * 64, (i + 1) * 64).filter((v) => v === 0).length,
    );
    expect(Math.max(...perImage), 'no image dropped whole').to.be.below(64);
    const evaluated = dropouts[0]!.apply(x, { training: false }) as tf.Tensor;
    expect(Array.from(evaluated.dataSync())).to.deep.equal(Array.from(x.dataSync()));
    tf.dispose([x, trained, evaluated]);
    model.dispose();
  });

  it('gives the env one more rate, the first, and passes the shared env check', async () => {
    const env = new DropoutEnv(data, { model: 'mlp:16,8', inputDropout: true, batchSize: 32, lr: 0.01, maxEpochs: 3 });
    expect(env.numLayers).to.equal(3);
    expect(env.observationNames.filter((n) => n.startsWith('rate_'))).to.deep.equal(['rate_1', 'rate_2', 'rate_3']);
    await checkEnv(env, { seed: 3, steps: 3 });
    env.dispose();
  });

  it('trains differently when only the input rate changes (the agent controls it)', async () => {
    const firstEpoch = async (rates: number[]) => {
      const env = new DropoutEnv(data, {
        model: 'mlp:16,8',
        inputDropout: true,
        actionMode: 'absolute',
        batchSize: 32,
        lr: 0.01,
        maxEpochs: 2,
      });
      await env.reset({ seed: 5 });
      const { info } = await env.step(rates);
      env.dispose();
      return info;
    };
    const off = await firstEpoch([0, 0.2, 0.2]);
    const on = await firstEpoch([0.5, 0.2, 0.2]);
    expect(on.rates).to.deep.equal([0.5, 0.2, 0.2]);
    expect(on.trainLoss).to.not.equal(off.trainLoss);
    expect(await firstEpoch([0, 0.2, 0.2])).to.deep.include({ trainLoss: off.trainLoss, valAcc: off.valAcc });
  });

  it('counts the input layer when checking initial rates', () => {
    expect(() => new DropoutEnv(data, { model: 'mlp:16,8', inputDropout: true, initialRates: [0.1, 0.2] })).to.throw(
      ConfigError,
      '--initial-rate needs 1 or 3 values for mlp:16,8 with input dropout, got 2',
    );
    expect(() => new DropoutEnv(data, { inputDropout: 'yes' as never })).to.throw(
      ConfigError,
      '--input-dropout must be true or false',
    );
  });
});
