import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { readCheckpoint, writeCheckpoint } from '../../src/store/checkpoint.js';
import type { StepInfo } from '../../src/core/types.js';
import { loadDataset, type Dataset } from '../../src/data/dataset.js';
import { DropoutEnv, type DropoutEnvConfig, type EnvSnapshot } from '../../envs/dropout-env.js';

const withoutTiming = ({ stepMs: _drop, ...rest }: StepInfo) => rest;

/** A fixed action pattern for any number of layers: down, keep, up in turn. */
const actionAt = (t: number, layers: number) => Array.from({ length: layers }, (_, i) => (t + i) % 3);

/** Steps from the env's current epoch to the end; everything each step returns, minus timings. */
async function rest(env: DropoutEnv, from: number) {
  const trace: unknown[] = [];
  for (let t = from; ; t++) {
    const r = await env.step(actionAt(t, env.numLayers));
    trace.push(r.observation, r.reward, r.terminated, r.truncated, withoutTiming(r.info));
    if (r.terminated || r.truncated) return trace;
  }
}

/** Trains k epochs, snapshots, finishes; then a fresh env restores the snapshot and finishes too. */
async function roundTrip(data: Dataset, config: Partial<DropoutEnvConfig>, k: number) {
  const a = new DropoutEnv(data, config);
  await a.reset({ seed: 11 });
  for (let t = 0; t < k; t++) await a.step(actionAt(t, a.numLayers));
  const snapshot = a.snapshot();
  const straight = await rest(a, k);
  a.dispose();
  const b = new DropoutEnv(data, config);
  b.restore(structuredClone(snapshot) as EnvSnapshot);
  const resumed = await rest(b, k);
  b.dispose();
  return { straight, resumed, snapshot };
}

describe('DropoutEnv snapshot and restore', () => {
  let data: Dataset;
  before(() => {
    data = loadDataset({ dataset: 'synthetic', trainSize: 192, valSize: 64, testSize: 64, seed: 3 });
  });

  it('continues bit-identically after a restore into a fresh env (MLP with BatchNorm)', async () => {
    const { straight, resumed, snapshot } = await roundTrip(
      data,
      { model: 'mlp:24,12', batchNorm: true, batchSize: 32, lr: 0.01, maxEpochs: 5 },
      2,
    );
    expect(resumed).to.deep.equal(straight);
    // BatchNorm's moving statistics are part of it, and Adam's moments for every trainable weight.
    expect(snapshot.weights.some((w) => /moving_mean/.test(w.name))).to.equal(true);
    expect(snapshot.optimizer.step).to.equal(2 * Math.ceil(192 / 32));
    expect(snapshot.optimizer).to.have.property('m').with.length.greaterThan(0);
  });

  it('continues bit-identically with SGD and momentum, and input dropout', async () => {
    const config: Partial<DropoutEnvConfig> = {
      model: 'mlp:24,12',
      inputDropout: true,
      optimizer: 'sgd',
      momentum: 0.9,
      lr: 0.05,
      batchSize: 32,
      maxEpochs: 5,
    };
    const { straight, resumed, snapshot } = await roundTrip(data, config, 2);
    expect(resumed).to.deep.equal(straight);
    // The velocity is part of it (one per trainable weight), and the input layer's rate and stream.
    expect(snapshot.optimizer).to.have.property('velocity').with.lengthOf(6);
    expect(snapshot.optimizer.step).to.equal(2 * Math.ceil(192 / 32));
    expect(snapshot.dropouts).to.have.lengthOf(3);
  });

  it('differs without the velocity: restoring SGD with it zeroed changes the rest (the check can fail)', async () => {
    const config: Partial<DropoutEnvConfig> = {
      model: 'mlp:24,12',
      optimizer: 'sgd',
      lr: 0.05,
      batchSize: 32,
      maxEpochs: 4,
    };
    const { straight, snapshot } = await roundTrip(data, config, 2);
    const zeroed = structuredClone(snapshot);
    if (!('velocity' in zeroed.optimizer)) throw new Error('expected an SGD snapshot');
    zeroed.optimizer.velocity.forEach((v) => v.fill(0));
    const c = new DropoutEnv(data, config);
    c.restore(zeroed);
    expect(await rest(c, 2)).to.not.deep.equal(straight);
    c.dispose();
  });

  it('continues bit-identically for a CNN with spatial dropout', async () => {
    const { straight, resumed } = await roundTrip(data, { model: 'cnn:4/8', batchSize: 64, lr: 0.01, maxEpochs: 3 }, 1);
    expect(resumed).to.deep.equal(straight);
  });

  it('continues bit-identically with concrete dropout: the learned rates travel as weights', async () => {
    const config: Partial<DropoutEnvConfig> = {
      model: 'mlp:24,12',
      concreteDropout: true,
      initialRates: 0.2,
      batchSize: 32,
      lr: 0.01,
      maxEpochs: 5,
    };
    const { straight, resumed, snapshot } = await roundTrip(data, config, 2);
    expect(resumed).to.deep.equal(straight);
    // One logit per dropout layer among the weights, with Adam's moments for it; the reported rates moved.
    expect(snapshot.weights.filter((w) => /logit/.test(w.name))).to.have.lengthOf(2);
    expect(snapshot.dropouts.map((d) => d.rate)).to.not.deep.equal([0.2, 0.2]);
    const cnn = await roundTrip(
      data,
      { model: 'cnn:4/8', concreteDropout: true, initialRates: 0.2, batchSize: 64, lr: 0.01, maxEpochs: 3 },
      1,
    );
    expect(cnn.resumed).to.deep.equal(cnn.straight);
  });

  it('differs when the snapshot is not restored (the check can fail)', async () => {
    const config = { model: 'mlp:24,12', batchSize: 32, lr: 0.01, maxEpochs: 4 };
    const { straight } = await roundTrip(data, config, 2);
    const c = new DropoutEnv(data, config);
    await c.reset({ seed: 12 });
    for (let t = 0; t < 2; t++) await c.step(actionAt(t, c.numLayers));
    expect(await rest(c, 2)).to.not.deep.equal(straight);
    c.dispose();
  });

  it('continues bit-identically in another process, from the checkpoint on disk', async function () {
    if (tf.getBackend() !== 'wasm') this.skip(); // the child runs on wasm: bit-identity holds per backend
    const config = { model: 'mlp:24,12', batchNorm: true, batchSize: 32, lr: 0.01, maxEpochs: 4 };
    const { straight, snapshot } = await roundTrip(data, config, 2);
    const dir = mkdtempSync(path.join(tmpdir(), 'droptune-ckpt-'));
    try {
      writeCheckpoint(dir, 'env', snapshot);
      writeCheckpoint(dir, 'env', snapshot); // replacing it leaves one binary
      expect(readdirSync(dir).sort()).to.have.lengthOf(2);
      expect(readCheckpoint(dir, 'env')).to.deep.equal(snapshot);
      const out = execFileSync(
        process.execPath,
        ['--import', 'tsx', 'test/helpers/continue-from-checkpoint.ts', dir, JSON.stringify(config)],
        { encoding: 'utf8' },
      );
      // JSON has no NaN/undefined: compare through the same encoding.
      expect(JSON.parse(out.trim().split('\n').pop()!)).to.deep.equal(JSON.parse(JSON.stringify(straight)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a snapshot taken with another optimizer, momentum, input or concrete dropout', async () => {
    const base = { model: 'mlp:24,12', maxEpochs: 2 };
    const a = new DropoutEnv(data, base);
    await a.reset({ seed: 1 });
    const snapshot = a.snapshot();
    a.dispose();
    const sgd = { ...base, optimizer: 'sgd' as const };
    for (const other of [sgd, { ...base, inputDropout: true }, { ...base, concreteDropout: true }]) {
      const b = new DropoutEnv(data, other);
      expect(() => b.restore(snapshot)).to.throw(/another model, data or optimizer/);
      b.dispose();
    }
    const c = new DropoutEnv(data, sgd);
    await c.reset({ seed: 1 });
    const sgdSnapshot = c.snapshot();
    c.dispose();
    const d = new DropoutEnv(data, { ...sgd, momentum: 0.5 });
    expect(() => d.restore(sgdSnapshot)).to.throw(/another model, data or optimizer/);
    d.dispose();
  });

  it('refuses a snapshot taken with another model', async () => {
    const a = new DropoutEnv(data, { model: 'mlp:24,12', maxEpochs: 2 });
    await a.reset({ seed: 1 });
    const snapshot = a.snapshot();
    a.dispose();
    const b = new DropoutEnv(data, { model: 'mlp:24,13', maxEpochs: 2 });
    expect(() => b.restore(snapshot)).to.throw(/another model/);
    b.dispose();
  });

  it('leaks no tensors across snapshot and restore', async () => {
    const env = new DropoutEnv(data, { model: 'mlp:24,12', batchNorm: true, maxEpochs: 3 });
    await env.reset({ seed: 1 });
    await env.step([1, 1]);
    const snapshot = env.snapshot();
    env.restore(snapshot);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) env.restore(env.snapshot());
    expect(tf.memory().numTensors).to.equal(before);
    env.dispose();
  });
});
