/** tune() as a tfjs user's first hour needs it (issue 23): the model out, progress, sizes that fit the data, keys. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { createRng } from '../../src/core/rng.js';
import { readRun } from '../../src/store/read-run.js';
import { allRunSpecs } from '../../src/run/run.js';
import { agentOptionSpecs } from '../../src/run/run.js';
import { RUN_OPTION_KEYS, fractionSizes, tune } from '../../src/api/tune.js';

const TASK = {
  dataset: 'synthetic',
  trainSize: 192,
  valSize: 48,
  testSize: 48,
  model: 'mlp:16',
  batchSize: 16,
  epochs: 2,
  seed: 2,
};

describe('tune() in a first hour (issue 23)', () => {
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync(path.join(tmpdir(), 'droptune-tune-hour-'))));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('final: trains the best episode again, reproduces its accuracies, and saves a stock-Dropout model', async () => {
    const lines: string[] = [];
    const out = path.join(tmp, 'run');
    const result = await tune({
      ...TASK,
      agent: 'random',
      episodes: 2,
      out,
      final: true,
      verbose: (l) => lines.push(l),
    });
    const best = result.records.reduce((a, b) => (b.valAcc > a.valAcc ? b : a));
    expect(result.bestSchedule).to.deep.equal(best.schedule);
    expect(result.final!.episode).to.equal(best.episode);
    expect(result.final!.reproduced, `${result.final!.valAcc} vs ${best.valAcc}`).to.equal(true);
    expect(result.final!.file).to.equal(path.join(out, 'model', 'model.json'));
    const json = readFileSync(result.final!.file, 'utf8');
    expect(json).to.not.include('TunableDropout');
    // the saved model predicts what the returned one does (read back through tfjs's own loader)
    const bytes = readFileSync(path.join(out, 'model', 'weights.bin'));
    const saved = JSON.parse(json) as {
      modelTopology: object;
      weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
    };
    const loaded = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: saved.modelTopology,
        weightSpecs: saved.weightsManifest[0]!.weights,
        weightData: new Uint8Array(bytes).buffer,
      }),
    );
    const x = tf.randomNormal([4, result.final!.model.inputs[0]!.shape[1]!], 0, 1, 'float32', 1);
    const d = tf.max(tf.abs(tf.sub(loaded.predict(x) as tf.Tensor, result.final!.model.predict(x) as tf.Tensor)));
    expect(d.dataSync()[0]).to.equal(0);
    const lastRates = best.schedule.at(-1)!;
    expect(loaded.layers.filter((l) => l.getClassName() === 'Dropout').map((l) => l.getConfig()['rate'])).to.deep.equal(
      lastRates,
    );
    // verbose: one line per epoch of the run
    expect(lines).to.have.length(4);
    expect(lines[0]).to.match(/^episode 1 epoch 1\/2 - \d+ms - loss: \d\.\d{4} - acc: \d\.\d{4} - val_loss: /);
    tf.dispose([x, d]);
    loaded.dispose();
    result.final!.model.dispose();
  });

  it('sizes a small csv: file by fractions, warns of too few batches, and names code keys in errors', async () => {
    const rng = createRng(4);
    const rows = ['a,b,c,label'];
    for (let i = 0; i < 178; i++) rows.push(`${rng.next()},${rng.next()},${rng.next()},${i % 3}`);
    const file = path.join(tmp, 'wine.csv');
    writeFileSync(file, rows.join('\n') + '\n');
    const warnings: string[] = [];
    const result = await tune({
      dataset: `csv:${file}`,
      agent: 'constant',
      episodes: 1,
      epochs: 1,
      model: 'mlp:8',
      batchSize: 64,
      out: path.join(tmp, 'wine'),
      warn: (w) => warnings.push(w),
    });
    expect(fractionSizes(179)).to.deep.equal({ trainSize: 126, valSize: 26, testSize: 26 });
    expect(readRun(result.out).value.config.options).to.include({ trainSize: 126, valSize: 26, testSize: 26 });
    expect(warnings).to.deep.equal([
      'tune(): an epoch is 2 batches (trainSize 126, batchSize 64): too few steps for the rates to matter; use a smaller batchSize or more data (about 10 batches or more)',
    ]);
    let message = '';
    await tune({ dataset: `csv:${file}`, trainSize: 170, out: path.join(tmp, 'big'), warn: () => {} }).catch(
      (e: Error) => (message = e.message),
    );
    expect(message).to.match(/^trainSize \+ valSize \+ testSize = 3170 exceeds the 178 samples of csv:/);
  });

  it('overwrite replaces an earlier run in an explicit out', async () => {
    const out = path.join(tmp, 'again');
    const opts = { ...TASK, agent: 'constant' as const, episodes: 1, epochs: 1, out, warn: () => {} };
    await tune(opts);
    let message = '';
    await tune(opts).catch((e: Error) => (message = e.message));
    expect(message).to.match(/^out .* already exists and is not empty/);
    const again = await tune({ ...opts, overwrite: true, epochs: 2 });
    expect(readRun(again.out).value.steps).to.have.length(2);
    expect(existsSync(path.join(out, 'config.json'))).to.equal(true);
  });

  it("declares every option of npm run agent in TuneOptions's keys, and no other", () => {
    const agentKeys = new Set(agentOptionSpecs().map((s) => s.key));
    const cli = allRunSpecs()
      .map((s) => s.key)
      .filter((k) => !agentKeys.has(k) && !['resume', 'replay', 'config'].includes(k));
    expect(Object.keys(RUN_OPTION_KEYS).sort()).to.deep.equal([...new Set(cli)].sort());
  });
});
