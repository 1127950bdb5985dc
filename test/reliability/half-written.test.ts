import { expect } from 'chai';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { tune } from '../../src/api/tune.js';
import { ConfigError } from '../../src/core/errors.js';
import { dropoutController } from '../../src/integrations/tfjs-fit.js';
import { MAX_MODEL_BYTES, checkModelMemory, modelMemory, parseModelSpec } from '../../src/nn/models.js';
import { makeDropoutTunable } from '../../src/nn/user-model.js';
import { readRunCheckpoint } from '../../src/store/run-folder.js';
import { tempDir } from './helpers.js';

const rejection = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err,
  );
const TASK = {
  agent: 'constant' as const,
  dataset: 'synthetic',
  trainSize: 64,
  valSize: 32,
  testSize: 32,
  epochs: 1,
  episodes: 1,
};

describe('no stack traces, no half-written folders', () => {
  const tmp = tempDir('half-written');

  it('sizes a model against memory before building it', () => {
    // mlp:256,128 on 28×28 images: (784·256 + 256 + 256·128 + 128 + 128·10 + 10) weights
    expect(modelMemory(parseModelSpec('mlp:256,128'), [28, 28, 1], 10, 64).weights).to.equal(235_146);
    expect(() => checkModelMemory('mlp:256,128', parseModelSpec('mlp:256,128'), [28, 28, 1], 10)).to.not.throw();
    for (const spec of ['mlp:1000000000', 'cnn:100000/1']) {
      const need = modelMemory(parseModelSpec(spec), [28, 28, 1], 10, 64).bytes;
      expect(need, spec).to.be.above(MAX_MODEL_BYTES);
      expect(() => checkModelMemory(spec, parseModelSpec(spec), [28, 28, 1], 10), spec).to.throw(
        ConfigError,
        new RegExp(
          `^--model ${spec}: \\d+ weights and their activations at --batch-size 64 need about [\\d.]+ GB, more than the 2\\.0 GB`,
        ),
      );
    }
  });

  it('tune() with a model too large for memory is a ConfigError and leaves no folder', async () => {
    const out = path.join(tmp, 'huge');
    const err = await rejection(tune({ ...TASK, model: 'mlp:1000000000', out }));
    expect(err).to.be.instanceOf(ConfigError);
    // from code, the key (model), not the flag
    expect((err as Error).message).to.match(/^model mlp:1000000000: /);
    expect(existsSync(out)).to.equal(false);
  });

  it('tune({ stop$: 5 }) is a ConfigError and leaves no folder', async () => {
    const out = path.join(tmp, 'stop');
    const err = await rejection(tune({ ...TASK, model: 'mlp:8', out, stop$: 5 as never }));
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as Error).message).to.equal('tune(): stop$ must be an Observable (anything with subscribe), got 5');
    expect(existsSync(out)).to.equal(false);
  });

  it('a corrupt checkpoint.json is named in its error', () => {
    const dir = path.join(tmp, 'corrupt');
    mkdirSync(dir);
    const file = path.join(dir, 'checkpoint.json');
    writeFileSync(file, '{"binary": "checkpoint-1.b');
    expect(() => readRunCheckpoint(dir)).to.throw(ConfigError, `${file}: not valid JSON: the checkpoint is damaged`);
    writeFileSync(file, '{"binary": "checkpoint-1.bin", "floats": 3, "value": {}}');
    writeFileSync(path.join(dir, 'checkpoint-1.bin'), Buffer.alloc(8));
    expect(() => readRunCheckpoint(dir)).to.throw(
      ConfigError,
      `${file}: its checkpoint-1.bin has 8 bytes, expected 12`,
    );
    writeFileSync(file, '{"binary": "../../etc/passwd", "floats": 3, "value": {}}');
    expect(() => readRunCheckpoint(dir)).to.throw(ConfigError, `${file}: no binary file name and float count`);
  });

  it('dropoutController without validation data fails before it writes a folder', async () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }));
    m.add(tf.layers.dropout({ rate: 0.1 }));
    m.add(tf.layers.dense({ units: 2, activation: 'softmax' }));
    const model = makeDropoutTunable(m, { seed: 1 });
    m.dispose();
    model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const x = tf.randomUniform([16, 4], 0, 1, 'float32', 1);
    const y = tf.oneHot(tf.tensor1d([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1], 'int32'), 2);
    const out = path.join(tmp, 'fit');
    try {
      const err = await rejection(
        model.fit(x, y, { epochs: 2, verbose: 0, callbacks: [dropoutController({ agent: 'constant', out })] }),
      );
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as Error).message).to.match(/^dropoutController needs validation loss and accuracy/);
      expect(existsSync(out)).to.equal(false);
    } finally {
      tf.dispose([x, y]);
      model.dispose();
    }
  });
});
