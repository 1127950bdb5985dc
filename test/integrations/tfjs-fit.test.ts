import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { ConfigError } from '../../src/core/errors.js';
import { createRng } from '../../src/core/rng.js';
import { dropoutLayersOf } from '../../src/nn/tunable-dropout.js';
import { makeDropoutTunable } from '../../src/nn/user-model.js';
import { compareRuns } from '../../src/analysis/compare.js';
import { readRun } from '../../src/store/read-run.js';
import { dropoutController } from '../../src/integrations/tfjs-fit.js';

/** Two Gaussian blobs per class in 10 dimensions, 3 classes, one-hot labels. */
function blobs(n: number, seed: number): [tf.Tensor2D, tf.Tensor2D] {
  const rng = createRng(seed);
  const x = new Float32Array(n * 10);
  const y = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    for (let j = 0; j < 10; j++) x[i * 10 + j] = (j % 3 === c ? 1.5 : 0) + (rng.next() - 0.5) * 2;
    y[i * 3 + c] = 1;
  }
  return [tf.tensor2d(x, [n, 10]), tf.tensor2d(y, [n, 3])];
}

function tunableModel(): tf.LayersModel {
  const m = tf.sequential();
  m.add(
    tf.layers.dense({
      inputShape: [10],
      units: 16,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
    }),
  );
  m.add(tf.layers.dropout({ rate: 0.1 }));
  m.add(
    tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
  );
  m.add(tf.layers.dropout({ rate: 0.1 }));
  m.add(
    tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
  );
  const model = makeDropoutTunable(m, { seed: 1 });
  m.dispose();
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

/** A callback that notes, at every batch, the rates the model's TunableDropout layers hold: what the epoch trains with. */
function rateRecorder(model: tf.LayersModel) {
  const perEpoch: number[][][] = [];
  const callback = new tf.CustomCallback({
    onEpochBegin: async () => {
      perEpoch.push([]);
    },
    onBatchEnd: async () => {
      perEpoch[perEpoch.length - 1]!.push(dropoutLayersOf(model).map((d) => d.rate));
    },
  });
  return { perEpoch, callback };
}

describe('dropoutController (a fit callback)', () => {
  let dir: string;
  let train: [tf.Tensor2D, tf.Tensor2D];
  let val: [tf.Tensor2D, tf.Tensor2D];
  before(() => {
    train = blobs(96, 1);
    val = blobs(48, 2);
  });
  after(() => tf.dispose([...train, ...val]));
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'droptune-controller-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("sets each epoch's rates as the schedule agent says, and logs a run that readRun and compareRuns read", async () => {
    const schedule = [
      [0.5, 0.1],
      [0.3, 0.2],
      [0.0, 0.4],
      [0.25, 0.05],
    ];
    const scheduleFile = path.join(dir, 'schedule.json');
    writeFileSync(scheduleFile, JSON.stringify({ rates: schedule }));
    const model = tunableModel();
    const out = path.join(dir, 'run');
    const controller = dropoutController({ schedule: scheduleFile, out, seed: 4 });
    const recorder = rateRecorder(model);
    await model.fit(train[0], train[1], {
      epochs: 4,
      batchSize: 32,
      shuffle: false,
      validationData: val,
      callbacks: [controller, recorder.callback],
      verbose: 0,
    });

    // every batch of epoch e trained at row e of the schedule
    expect(recorder.perEpoch).to.have.length(4);
    recorder.perEpoch.forEach((batches, e) => {
      expect(batches).to.have.length(3);
      for (const rates of batches) expect(rates, `epoch ${e + 1}`).to.deep.equal(schedule[e]);
    });

    const run = readRun(out).value;
    expect(run.config.options['agent']).to.equal('schedule');
    expect(run.config.layerNames).to.deep.equal(dropoutLayersOf(model).map((d) => d.name));
    expect(run.steps.map((s) => s.rates)).to.deep.equal(schedule);
    expect(run.steps.map((s) => s.epoch)).to.deep.equal([1, 2, 3, 4]);
    expect(run.steps.at(-1)!.truncated).to.equal(true);
    expect(run.episodes).to.have.length(1);
    expect(run.episodes[0]!.schedule).to.deep.equal(schedule);
    expect(run.summary!.episodes).to.equal(1);
    // fit's own validation metrics are what the log holds
    expect(run.steps.every((s) => s.valAcc >= 0 && s.valAcc <= 1 && Number.isFinite(s.valLoss))).to.equal(true);
    expect(run.steps[0]!.observation).to.have.length(10 + 2 + 1);

    const comparison = compareRuns([run]);
    expect(comparison.runs).to.have.length(1);
    expect(comparison.runs[0]!.bestValAcc).to.equal(run.episodes[0]!.valAcc);
    model.dispose();
  });

  it('is one episode per fit: a second fit continues the run, and the agent keeps what it learned', async () => {
    const model = tunableModel();
    const out = path.join(dir, 'run');
    const test = blobs(30, 3);
    const controller = dropoutController({ agent: 'ucb', out, seed: 1, testData: test });
    for (let k = 0; k < 2; k++)
      await model.fit(train[0], train[1], {
        epochs: 3,
        batchSize: 32,
        shuffle: false,
        validationData: val,
        callbacks: [controller],
        verbose: 0,
      });
    const run = readRun(out).value;
    expect(run.episodes.map((e) => e.episode)).to.deep.equal([1, 2]);
    expect(run.steps.map((s) => `${s.episode}:${s.epoch}`)).to.deep.equal(['1:1', '1:2', '1:3', '2:1', '2:2', '2:3']);
    expect(run.summary!.episodes).to.equal(2);
    expect(run.summary!.totalEpochs).to.equal(6);
    expect(run.episodes.every((e) => e.testAcc >= 0 && e.testAcc <= 1)).to.equal(true);
    // the UCB table holds both episodes' pulls: 2 layers × 3 steps × 2 episodes
    const state = JSON.parse(readFileSync(path.join(out, 'agent.json'), 'utf8')) as { table: { n: number[][][] } };
    expect(state.table.n.flat(2).reduce((a, b) => a + b, 0)).to.equal(12);
    tf.dispose(test);
    model.dispose();
  });

  it('the plateau rule, with discrete actions: each epoch trains at the rates the rule gives from the last validation loss', async () => {
    const model = tunableModel();
    const out = path.join(dir, 'run');
    const controller = dropoutController({
      plateau: { patience: 1, min: 0, max: 0.5 },
      out,
      actionMode: 'discrete',
      rateStep: 0.1,
    });
    await model.fit(train[0], train[1], {
      epochs: 6,
      batchSize: 32,
      shuffle: false,
      validationData: val,
      callbacks: [controller],
      verbose: 0,
    });
    const steps = readRun(out).value.steps;
    // the rule replayed on the logged validation losses: down by δ on a new best, else up by δ (patience 1)
    const expected: number[][] = [[0.1, 0.1]];
    let best = Infinity;
    for (const step of steps.slice(0, -1)) {
      const improved = step.valLoss < best;
      if (improved) best = step.valLoss;
      expected.push(
        expected.at(-1)!.map((r) => Math.round((improved ? Math.max(r - 0.1, 0) : Math.min(r + 0.1, 0.5)) * 1e9) / 1e9),
      );
    }
    expect(steps.map((s) => s.rates)).to.deep.equal(expected);
    expect(dropoutLayersOf(model).map((d) => d.rate)).to.deep.equal(expected.at(-1));
    model.dispose();
  });

  it('says what is missing: no validation, a model that is not tunable, two agents at once', async () => {
    const model = tunableModel();
    const noVal = dropoutController({ out: path.join(dir, 'a') });
    let message = '';
    await model
      .fit(train[0], train[1], { epochs: 1, callbacks: [noVal], verbose: 0 })
      .catch((err: Error) => (message = err.message));
    expect(message).to.match(/pass validationData \(or validationSplit\) to fit/);

    const plain = tf.sequential();
    plain.add(tf.layers.dense({ inputShape: [10], units: 4 }));
    plain.add(tf.layers.dropout({ rate: 0.2 }));
    plain.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
    plain.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    message = '';
    await plain
      .fit(train[0], train[1], {
        epochs: 1,
        validationData: val,
        callbacks: [dropoutController({ out: path.join(dir, 'b') })],
        verbose: 0,
      })
      .catch((err: Error) => (message = err.message));
    expect(message).to.match(/are not tunable: fit makeDropoutTunable\(model\) instead/);

    expect(() => dropoutController({ agent: 'ucb', plateau: true })).to.throw(
      ConfigError,
      /give one of agent, schedule, plateau, policy/,
    );
    // (a strict tsc refuses it already: pbt is not an agent)
    expect(() => dropoutController({ agent: 'pbt' as never })).to.throw(
      ConfigError,
      /scheduler over many runs, not one fit/,
    );
    model.dispose();
    plain.dispose();
  });
});
