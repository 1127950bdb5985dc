import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { ConfigError } from '../../src/core/errors.js';
import type { StepInfo } from '../../src/core/types.js';
import { loadDataset, type Dataset } from '../../src/data/dataset.js';
import { saveModelFile } from '../../src/nn/model-file.js';
import { DropoutEnv, checkEnvConfig } from '../../envs/dropout-env.js';
import { checkEnv } from '../helpers/check_env.js';

/** synthetic: 8×8×1 samples, 6 classes. */
function userMlp(
  opts: { inputShape?: number[]; classes?: number; activation?: 'softmax' | 'linear'; dropout?: boolean } = {},
): tf.Sequential {
  const m = tf.sequential();
  const inputShape = opts.inputShape ?? [64];
  if (inputShape.length > 1) m.add(tf.layers.flatten({ inputShape }));
  m.add(
    tf.layers.dense({
      ...(inputShape.length > 1 ? {} : { inputShape }),
      units: 24,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
    }),
  );
  if (opts.dropout !== false) m.add(tf.layers.dropout({ rate: 0.2 }));
  m.add(
    tf.layers.dense({ units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
  );
  if (opts.dropout !== false) m.add(tf.layers.dropout({ rate: 0.4 }));
  m.add(
    tf.layers.dense({
      units: opts.classes ?? 6,
      activation: opts.activation ?? 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
    }),
  );
  return m;
}

const withoutTiming = ({ stepMs: _drop, ...rest }: StepInfo) => rest;

/** A whole episode under `seed`, with actions that move both rates; everything but timings. */
async function episode(env: DropoutEnv, seed: number) {
  const reset = await env.reset({ seed });
  const trace: unknown[] = [reset.observation, withoutTiming(reset.info)];
  for (let t = 0; ; t++) {
    const r = await env.step([t % 3, 2]);
    trace.push(r.observation, r.reward, r.truncated, withoutTiming(r.info));
    if (r.terminated || r.truncated) return trace;
  }
}

describe('DropoutEnv with your own model', () => {
  let data: Dataset;
  let dir: string;
  let file: string;
  const SMALL = { batchSize: 32, lr: 0.01, maxEpochs: 3 };
  before(async () => {
    data = loadDataset({ dataset: 'synthetic', trainSize: 256, valSize: 128, testSize: 128, seed: 1 });
    dir = mkdtempSync(path.join(tmpdir(), 'droptune-user-env-'));
    const m = userMlp();
    file = await saveModelFile(m, dir);
    m.dispose();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a saved model.json with two Dropout layers: two tunable rates, starting from its own', async () => {
    const env = new DropoutEnv(data, { ...SMALL, model: `file:${file}` });
    expect(env.numLayers).to.equal(2);
    expect(env.layerNames).to.have.length(2);
    expect(env.rates).to.deep.equal([0.2, 0.4]);
    const reset = await env.reset({ seed: 5 });
    expect(reset.info.rates).to.deep.equal([0.2, 0.4]);
    // discrete: layer 1 down by δ, layer 2 up by δ; the step trains at those rates and reports them
    const step = await env.step([0, 2]);
    expect(step.info.rates).to.deep.equal([0.15, 0.45]);
    expect(env.rates).to.deep.equal([0.15, 0.45]);
    expect(step.info.valAcc).to.be.within(0, 1);
    env.dispose();
  });

  it('records a model file by its absolute path, so a run resumes (or a queue worker trains) from any folder', () => {
    const relative = path.relative(process.cwd(), file);
    expect(path.isAbsolute(relative)).to.equal(false);
    expect(checkEnvConfig({ ...SMALL, model: `file:${relative}` }).model).to.equal(`file:${path.resolve(file)}`);
  });

  it('runs an episode deterministically: the same seed twice gives identical steps, another seed differs', async () => {
    const a = new DropoutEnv(data, { ...SMALL, model: `file:${file}` });
    const b = new DropoutEnv(data, { ...SMALL, model: `file:${file}` });
    const first = await episode(a, 11);
    expect(await episode(b, 11)).to.deep.equal(first);
    expect(await episode(a, 11)).to.deep.equal(first);
    expect(await episode(a, 12)).to.not.deep.equal(first);
    a.dispose();
    b.dispose();
  });

  it('starts every episode from the weights the model came with: reset measures the same untrained model whatever the seed', async () => {
    const env = new DropoutEnv(data, { ...SMALL, model: `file:${file}` });
    const one = await env.reset({ seed: 1 });
    await env.step([1, 1]);
    const two = await env.reset({ seed: 2 });
    expect(two.info).to.deep.equal(one.info);
    env.dispose();
  });

  it('takes a tf.LayersModel in code, passes the shared env check, and leaves the model as it was', async () => {
    const model = userMlp({ inputShape: [8, 8, 1] });
    const before = Array.from(model.weights[0]!.read().dataSync());
    const env = new DropoutEnv(data, { ...SMALL, model, initialRates: 0.3 });
    expect(env.rates).to.deep.equal([0.3, 0.3]);
    await checkEnv(env);
    expect(Array.from(model.weights[0]!.read().dataSync())).to.deep.equal(before);
    expect(model.layers.map((l) => l.getClassName())).to.include('Dropout');
    env.dispose();
    model.dispose();
  });

  it('snapshot and restore continue a user-model episode bit-identically', async () => {
    const a = new DropoutEnv(data, { ...SMALL, model: `file:${file}` });
    await a.reset({ seed: 3 });
    await a.step([2, 0]);
    const snap = a.snapshot();
    const rest = [withoutTiming((await a.step([0, 2])).info), withoutTiming((await a.step([1, 1])).info)];
    const b = new DropoutEnv(data, { ...SMALL, model: `file:${file}` });
    b.restore(snap);
    expect([withoutTiming((await b.step([0, 2])).info), withoutTiming((await b.step([1, 1])).info)]).to.deep.equal(
      rest,
    );
    a.dispose();
    b.dispose();
  });

  it('refuses a model with no dropout layer, one that does not fit the data, and one without a softmax output', () => {
    const refusal = (model: tf.LayersModel, extra: Record<string, unknown> = {}) => {
      try {
        new DropoutEnv(data, { ...SMALL, model, ...extra }).dispose();
      } catch (err) {
        expect(err).to.be.instanceOf(ConfigError);
        return (err as Error).message;
      } finally {
        model.dispose();
      }
      throw new Error('not refused');
    };
    expect(refusal(userMlp({ dropout: false }))).to.match(
      /has no Dropout, SpatialDropout1D or SpatialDropout2D layer: there is no rate to tune/,
    );
    expect(refusal(userMlp({ inputShape: [784] }))).to.match(
      /input shape \[784\] takes 784 values per sample, but synthetic has 64 features per sample \(8×8×1\)/,
    );
    expect(refusal(userMlp({ classes: 10 }))).to.match(/output has 10 units, but synthetic has 6 classes/);
    expect(refusal(userMlp({ activation: 'linear' }))).to.match(/must end in softmax .* has activation 'linear'/);
    expect(refusal(userMlp(), { batchNorm: true })).to.match(
      /--batch-norm applies to the built-in mlp:\/cnn: models only/,
    );
    expect(() => checkEnvConfig({ model: 'file:' })).to.throw(ConfigError, /file: needs the path of a model\.json/);
    expect(() => checkEnvConfig({ model: `file:${dir}/missing.json` })).to.throw(
      ConfigError,
      /--model file:.*missing\.json: no such file/,
    );
  });
});
