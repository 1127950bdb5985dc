import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { ConfigError } from '../../src/core/errors.js';
import { createRng } from '../../src/core/rng.js';
import { dropoutLayersOf } from '../../src/nn/tunable-dropout.js';
import { loadModelFile, readModelFile, saveModelFile } from '../../src/nn/model-file.js';
import { buildUserModel, makeDropoutTunable, userModelOf } from '../../src/nn/user-model.js';

const init = (seed: number) => tf.initializers.glorotUniform({ seed });

/** Dense(12) → Dropout(0.2) → Dense(8) → Dropout(0.4) → Dense(3, softmax), seeded. */
function twoDropoutMlp(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [6], units: 12, activation: 'relu', kernelInitializer: init(1) }));
  m.add(tf.layers.dropout({ rate: 0.2 }));
  m.add(tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: init(2) }));
  m.add(tf.layers.dropout({ rate: 0.4 }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(3) }));
  return m;
}

const predict = (m: tf.LayersModel, x: tf.Tensor) => tf.tidy(() => Array.from((m.predict(x) as tf.Tensor).dataSync()));

describe('user models (src/nn/user-model)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'droptune-user-model-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('makeDropoutTunable replaces both Dropout layers at their rates and predicts exactly as before with dropout off', () => {
    const original = twoDropoutMlp();
    const tunable = makeDropoutTunable(original, { seed: 3 });
    expect(tunable.layers.map((l) => l.getClassName())).to.deep.equal([
      'Dense',
      'TunableDropout',
      'Dense',
      'TunableDropout',
      'Dense',
    ]);
    expect(dropoutLayersOf(tunable).map((d) => d.rate)).to.deep.equal([0.2, 0.4]);
    const x = tf.randomNormal([5, 6], 0, 1, 'float32', 9);
    expect(predict(tunable, x)).to.deep.equal(predict(original, x));
    // the original is untouched, and the copy's weights are its own
    expect(original.layers[1]!.getClassName()).to.equal('Dropout');
    expect(tunable.weights[0]!.read().dataId).to.not.equal(original.weights[0]!.read().dataId);
    tf.dispose(x);
    original.dispose();
    tunable.dispose();
  });

  it('functional models too: the dropout layer in the middle of a conv net becomes tunable', () => {
    const input = tf.input({ shape: [4, 4, 2] });
    let h = tf.layers
      .conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(4) })
      .apply(input) as tf.SymbolicTensor;
    h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
    h = tf.layers.dropout({ rate: 0.3 }).apply(h) as tf.SymbolicTensor;
    const output = tf.layers
      .dense({ units: 2, activation: 'softmax', kernelInitializer: init(5) })
      .apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: output });
    const user = userModelOf(model);
    expect(user.rates).to.deep.equal([0.3]);
    expect(user.resolve().inputShape).to.deep.equal([4, 4, 2]);
    const built = buildUserModel(user, { rng: createRng(0) });
    const x = tf.randomNormal([3, 4, 4, 2], 0, 1, 'float32', 2);
    expect(predict(built.model, x)).to.deep.equal(predict(model, x));
    expect(built.kernels.map((k) => k.originalName)).to.have.length(2);
    tf.dispose(x);
    built.model.dispose();
    model.dispose();
  });

  it('SpatialDropout1D keeps its mask shape: whole channels drop across every step', () => {
    const m = tf.sequential();
    m.add(tf.layers.spatialDropout1d({ rate: 0.5, inputShape: [5, 40] }));
    const d = dropoutLayersOf(makeDropoutTunable(m))[0]!;
    expect(d.noiseShape).to.deep.equal([null, 1, null]);
    const out = tf.tidy(() =>
      (d.apply(tf.ones([2, 5, 40]), { training: true }) as tf.Tensor).arraySync(),
    ) as number[][][];
    for (const sample of out) {
      for (let c = 0; c < 40; c++) expect(new Set(sample.map((step) => step[c])).size, `channel ${c}`).to.equal(1);
    }
    // and some channels drop, some stay (P(all 80 alike) = 2^-79)
    expect(new Set(out.flatMap((s) => s[0]!))).to.deep.equal(new Set([0, 2]));
  });

  it('a Keras SpatialDropout2D in a model.json (which tfjs cannot load) becomes a spatial TunableDropout', async () => {
    const m = tf.sequential();
    m.add(
      tf.layers.conv2d({
        inputShape: [4, 4, 1],
        filters: 2,
        kernelSize: 3,
        padding: 'same',
        kernelInitializer: init(6),
      }),
    );
    m.add(tf.layers.dropout({ rate: 0.25, name: 'maps' }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(7) }));
    const file = await saveModelFile(m, dir);
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('"class_name":"Dropout"', '"class_name":"SpatialDropout2D"'),
    );
    const user = readModelFile(file);
    const built = buildUserModel(user, { rng: createRng(0) });
    expect(built.dropouts.map((d) => [d.name, d.rate, d.spatial])).to.deep.equal([['maps', 0.25, true]]);
    built.model.dispose();
    m.dispose();
  });

  it('saveModelFile writes what model.save(file://) writes, and loadModelFile and readModelFile read it back with its weights', async () => {
    const m = twoDropoutMlp();
    const file = await saveModelFile(m, dir);
    const json = JSON.parse(readFileSync(file, 'utf8')) as { format: string; weightsManifest: { paths: string[] }[] };
    expect(json.format).to.equal('layers-model');
    expect(json.weightsManifest[0]!.paths).to.deep.equal(['./weights.bin']);
    const x = tf.randomNormal([4, 6], 0, 1, 'float32', 1);
    const loaded = await loadModelFile(file);
    expect(predict(loaded, x)).to.deep.equal(predict(m, x));
    const user = readModelFile(file);
    expect(user.source).to.equal(`file:${file}`);
    expect(user.dropoutNames).to.have.length(2);
    const built = buildUserModel(user, { rng: createRng(1), rates: [0.1, 0.5] });
    expect(predict(built.model, x)).to.deep.equal(predict(m, x));
    expect(built.dropouts.map((d) => d.rate)).to.deep.equal([0.1, 0.5]);
    tf.dispose(x);
    [m, loaded, built.model].forEach((model) => model.dispose());
  });

  it('names the file and what is wrong: missing, not JSON, no topology, a missing or short weights file', async () => {
    const m = twoDropoutMlp();
    const file = await saveModelFile(m, dir);
    const refused = (f: string) => {
      try {
        readModelFile(f);
      } catch (err) {
        expect(err).to.be.instanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('not refused');
    };
    expect(refused(path.join(dir, 'nope.json'))).to.match(/nope\.json: no such file/);
    writeFileSync(path.join(dir, 'bad.json'), '{ not json');
    expect(refused(path.join(dir, 'bad.json'))).to.match(/bad\.json: not valid JSON/);
    writeFileSync(path.join(dir, 'graph.json'), '{"format":"graph-model"}');
    expect(refused(path.join(dir, 'graph.json'))).to.match(/no modelTopology/);
    writeFileSync(path.join(dir, 'weights.bin'), readFileSync(path.join(dir, 'weights.bin')).subarray(0, 40));
    expect(refused(file)).to.match(/hold 40 bytes, its manifest describes \d+/);
    rmSync(path.join(dir, 'weights.bin'));
    expect(refused(file)).to.match(/weight file \.\/weights\.bin is missing/);
    m.dispose();
  });

  it('refuses a model with no dropout layer, saying so', () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ inputShape: [6], units: 3, activation: 'softmax' }));
    expect(() => makeDropoutTunable(m)).to.throw(
      ConfigError,
      /has no Dropout, SpatialDropout1D or SpatialDropout2D layer/,
    );
    m.dispose();
  });
});
