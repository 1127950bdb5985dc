/**
 * What a tfjs user meets in their first hour with dropoutController (issue 23): refits that start from
 * the same model, the model's own rates, the best schedule, progress lines, code-named errors, and the
 * way back to stock Dropout.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { ConfigError } from '../../src/core/errors.js';
import { createRng } from '../../src/core/rng.js';
import { makeDropoutTunable } from '../../src/nn/user-model.js';
import { toStockDropout } from '../../src/nn/stock-dropout.js';
import { readRun } from '../../src/store/read-run.js';
import { dropoutController } from '../../src/integrations/tfjs-fit.js';

function blobs(n: number, seed: number): [tf.Tensor2D, tf.Tensor2D] {
  const rng = createRng(seed);
  const x = new Float32Array(n * 6);
  const y = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    for (let j = 0; j < 6; j++) x[i * 6 + j] = (j % 3 === c ? 1.5 : 0) + (rng.next() - 0.5) * 2;
    y[i * 3 + c] = 1;
  }
  return [tf.tensor2d(x, [n, 6]), tf.tensor2d(y, [n, 3])];
}

/** A Keras-style model with its own rates (0.6 and 0.6 unless told), made tunable and compiled with Adam. */
function userModel(rates = [0.6, 0.6]): tf.LayersModel {
  const m = tf.sequential();
  m.add(
    tf.layers.dense({
      inputShape: [6],
      units: 12,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
    }),
  );
  m.add(tf.layers.dropout({ rate: rates[0]! }));
  m.add(
    tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
  );
  m.add(tf.layers.dropout({ rate: rates[1]! }));
  m.add(
    tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
  );
  const model = makeDropoutTunable(m, { seed: 1 });
  m.dispose();
  model.compile({ optimizer: tf.train.adam(0.02), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

describe('dropoutController in a first hour (issue 23)', () => {
  let dir: string;
  let train: [tf.Tensor2D, tf.Tensor2D];
  let val: [tf.Tensor2D, tf.Tensor2D];
  before(() => {
    train = blobs(120, 1);
    val = blobs(30, 2);
  });
  after(() => tf.dispose([...train, ...val]));
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'droptune-first-hour-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const fit = (model: tf.LayersModel, callbacks: (tf.Callback | tf.CustomCallback)[], epochs = 3) =>
    model.fit(train[0], train[1], {
      epochs,
      batchSize: 12,
      shuffle: false,
      validationData: val,
      callbacks,
      verbose: 0,
    });

  it('starts every fit from the model the first fit found: same starting loss, same starting rates', async () => {
    const model = userModel();
    const controller = dropoutController({ agent: 'ucb', actionMode: 'discrete', out: path.join(dir, 'run'), seed: 3 });
    const starts: { loss: number }[] = [];
    // after the controller's onTrainBegin: what the episode's first epoch starts from
    const probe = new tf.CustomCallback({
      onTrainBegin: async () => {
        const loss = model.evaluate(train[0], train[1]) as tf.Scalar[];
        starts.push({ loss: loss[0]!.dataSync()[0]! });
        tf.dispose(loss);
      },
    });
    const first = await fit(model, [controller, probe]);
    const afterFirst = (model.evaluate(train[0], train[1]) as tf.Scalar[])[0]!.dataSync()[0]!;
    await fit(model, [controller, probe]);
    expect(starts).to.have.length(2);
    // the first fit trained (loss moved), the second started from where the first started, not where it ended
    expect(Math.abs(afterFirst - starts[0]!.loss)).to.be.greaterThan(0.05);
    expect(starts[1]!.loss).to.equal(starts[0]!.loss);
    const run = readRun(path.join(dir, 'run')).value;
    expect(run.episodes).to.have.length(2);
    // the rates each episode starts from: its first epoch's rates less its first discrete step (δ 0.05)
    const firstSteps = run.steps.filter((s) => s.epoch === 1);
    const starting = firstSteps.map((s) =>
      s.rates.map((r, i) => Math.round((r - (s.action[i]! - 1) * 0.05) * 100) / 100),
    );
    expect(starting).to.deep.equal([
      [0.6, 0.6],
      [0.6, 0.6],
    ]);
    expect(first.history['loss']).to.have.length(3);
    model.dispose();
  });

  it('runs the constant agent at the model’s own rate (Dropout(0.6) runs 0.6) and a named schedule from it', async () => {
    const model = userModel();
    const out = path.join(dir, 'constant');
    await fit(model, [dropoutController({ out })]);
    const run = readRun(out).value;
    expect(run.steps.map((s) => s.rates)).to.deep.equal([
      [0.6, 0.6],
      [0.6, 0.6],
      [0.6, 0.6],
    ]);
    expect(run.config.options['rate']).to.equal(0.6);

    const annealed = path.join(dir, 'annealed');
    await fit(model, [dropoutController({ schedule: 'annealed', options: { annealEpochs: 2 }, out: annealed })]);
    expect(readRun(annealed).value.steps.map((s) => s.rates[0])).to.deep.equal([0.6, 0.3, 0]);
    // a rate given wins
    const given = path.join(dir, 'given');
    await fit(model, [dropoutController({ agent: 'constant', options: { rate: 0.2 }, out: given })], 1);
    expect(readRun(given).value.steps[0]!.rates).to.deep.equal([0.2, 0.2]);
    model.dispose();
  });

  it('gives the best schedule so far, one line per epoch when verbose, and a warning for too few batches', async () => {
    const model = userModel();
    const lines: string[] = [];
    const warnings: string[] = [];
    const controller = dropoutController({
      agent: 'random',
      out: path.join(dir, 'run'),
      verbose: (line) => lines.push(line),
      warn: (w) => warnings.push(w),
    });
    expect(controller.bestSchedule).to.equal(undefined);
    await fit(model, [controller], 2);
    await fit(model, [controller], 2);
    const episodes = readRun(path.join(dir, 'run')).value.episodes;
    const best = episodes.reduce((a, b) => (b.valAcc > a.valAcc ? b : a));
    expect(controller.bestSchedule).to.deep.equal(best.schedule);
    expect(lines).to.have.length(4);
    expect(lines[0]).to.match(
      /^episode 1 epoch 1\/2 - \d+ms - loss: \d\.\d{4} - acc: \d\.\d{4} - val_loss: \d\.\d{4} - val_acc: \d\.\d{4} - rates: \d\.\d\d, \d\.\d\d$/,
    );
    expect(lines[3]).to.match(/^episode 2 epoch 2\/2 /);
    // 120 samples in batches of 12: 10 batches, not too few
    expect(warnings).to.deep.equal([]);
    const few: string[] = [];
    await model.fit(train[0], train[1], {
      epochs: 1,
      batchSize: 64,
      validationData: val,
      verbose: 0,
      callbacks: [dropoutController({ out: path.join(dir, 'few'), warn: (w) => few.push(w) })],
    });
    expect(few).to.have.length(1);
    expect(few[0]).to.match(/an epoch is 2 batches \(120 samples, batchSize 64\): too few steps/);
    model.dispose();
  });

  it('refuses unknown keys with the nearest one, and names code keys in errors', () => {
    const bad = (o: unknown) => () => dropoutController(o as never);
    expect(bad({ agnet: 'ucb' })).to.throw(ConfigError, /unknown option 'agnet': did you mean 'agent'\?/);
    expect(bad({ agent: 'ucbb' })).to.throw(ConfigError, /got "ucbb": did you mean 'ucb'\?/);
    expect(bad({ agent: 'ucbb' })).to.throw(ConfigError, /^(?!.*pbt).*$/);
    expect(bad({ agent: 'ucb', options: { ucbc: 1 } })).to.throw(
      ConfigError,
      /agent ucb: unknown option 'ucbc': did you mean 'ucbC'\?/,
    );
    expect(bad({ plateau: { patiense: 2 } })).to.throw(
      ConfigError,
      /unknown option 'patiense': did you mean 'patience'\?/,
    );
    // a value error raised by the agent's check, in code's key
    expect(bad({ agent: 'ucb', options: { ucbC: -1 } })).to.throw(ConfigError, /^ucbC must/);
  });

  it('overwrite replaces an earlier run folder given as out, and never a folder of anything else', async () => {
    const model = userModel();
    const out = path.join(dir, 'run');
    await fit(model, [dropoutController({ out })], 1);
    let message = '';
    await fit(model, [dropoutController({ out })], 1).catch((e: Error) => (message = e.message));
    expect(message).to.match(/already exists and is not empty/);
    await fit(model, [dropoutController({ out, overwrite: true })], 2);
    expect(readRun(out).value.steps).to.have.length(2);
    const other = path.join(dir, 'photos');
    mkdirSync(other);
    writeFileSync(path.join(other, 'cat.jpg'), 'x');
    message = '';
    await fit(model, [dropoutController({ out: other, overwrite: true })], 1).catch(
      (e: Error) => (message = e.message),
    );
    expect(message).to.match(/is not a run folder \(no config\.json\)/);
    expect(readdirSync(other)).to.deep.equal(['cat.jpg']);
    model.dispose();
  });

  it('toStockDropout gives tfjs Dropout layers at the last rates, the same predictions, and a model plain tfjs can rebuild', async () => {
    const model = userModel([0.6, 0.4]);
    const schedule = path.join(dir, 'schedule.json');
    writeFileSync(
      schedule,
      JSON.stringify({
        rates: [
          [0.5, 0.3],
          [0.25, 0.1],
        ],
      }),
    );
    await fit(model, [dropoutController({ schedule, out: path.join(dir, 'run') })], 2);
    const stock = await toStockDropout(model);
    expect(stock.layers.map((l) => l.getClassName())).to.deep.equal(['Dense', 'Dropout', 'Dense', 'Dropout', 'Dense']);
    expect(stock.layers.filter((l) => l.getClassName() === 'Dropout').map((l) => l.getConfig()['rate'])).to.deep.equal([
      0.25, 0.1,
    ]);
    const [a, b] = [model.predict(val[0]) as tf.Tensor, stock.predict(val[0]) as tf.Tensor];
    expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).to.equal(0);
    // its JSON names no droptune class, so tfjs builds it with nothing of droptune registered
    expect(JSON.stringify(stock.toJSON(null, false))).to.not.include('TunableDropout');
    const rates = (await toStockDropout(model, 0.2)).layers.filter((l) => l.getClassName() === 'Dropout');
    expect(rates.map((l) => l.getConfig()['rate'])).to.deep.equal([0.2, 0.2]);
    let message = '';
    await toStockDropout(model, [0.1]).catch((e: Error) => (message = e.message));
    expect(message).to.match(/rates needs 1 or 2 values/);
    tf.dispose([a, b]);
    model.dispose();
    stock.dispose();
  });
});
