import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { ConfigError } from '../../src/core/errors.js';
import type { StepInfo } from '../../src/core/types.js';
import { loadDataset, type Dataset } from '../../src/data/dataset.js';
import { resolveRun, runOptionsFromConfig } from '../../src/run/run.js';
import { DropoutEnv, type DropoutEnvConfig } from '../../envs/dropout-env.js';
import { checkEnv } from '../helpers/check_env.js';

const SMALL: Partial<DropoutEnvConfig> = {
  model: 'mlp:24,12',
  concreteDropout: true,
  initialRates: 0.1,
  actionMode: 'absolute',
  batchSize: 32,
  lr: 0.01,
  // the logits at the weights' rate: these tests are about determinism, not the speed of the logits
  concreteLr: 0.01,
  maxEpochs: 4,
};

const withoutTiming = ({ stepMs: _drop, ...rest }: StepInfo) => rest;

/** One episode under fixed absolute actions: everything the env returns except timings, and each step's info. */
async function episode(env: DropoutEnv, seed: number, action: number[]) {
  const reset = await env.reset({ seed });
  const trace: unknown[] = [reset.observation, withoutTiming(reset.info)];
  const infos: StepInfo[] = [];
  for (;;) {
    const r = await env.step(action);
    trace.push(r.observation, r.reward, r.terminated, r.truncated, withoutTiming(r.info));
    infos.push(r.info);
    if (r.terminated || r.truncated) return { trace, infos };
  }
}

describe('DropoutEnv with concrete dropout', () => {
  let data: Dataset;
  before(() => {
    data = loadDataset({ dataset: 'synthetic', trainSize: 192, valSize: 64, testSize: 64, seed: 2 });
  });

  it('passes the shared env check', async () => {
    const env = new DropoutEnv(data, SMALL);
    await checkEnv(env, { seed: 3, steps: 3 });
    env.dispose();
  });

  it('is bit-identical for the same seed, and ignores the actions: the rates are learned', async () => {
    const env = new DropoutEnv(data, SMALL);
    const a = await episode(env, 5, [0.1, 0.1]);
    const again = await episode(env, 5, [0.1, 0.1]);
    const otherActions = await episode(env, 5, [0.7, 0.0]);
    const otherSeed = await episode(env, 6, [0.1, 0.1]);
    env.dispose();
    expect(again.trace).to.deep.equal(a.trace);
    expect(otherActions.trace).to.deep.equal(a.trace);
    expect(otherSeed.trace).to.not.deep.equal(a.trace);
    // info.rates are the learned p after each epoch: they start at 0.1 and change every epoch.
    const schedule = a.infos.map((i) => i.rates);
    expect(schedule).to.have.lengthOf(4);
    for (const rates of schedule) for (const p of rates) expect(p).to.be.within(0.05, 0.2).and.not.equal(0.1);
    expect(new Set(schedule.map((r) => r.join())).size).to.equal(4);
  });

  it('learns the rates on the synthetic task (mlp:64,32, 16 epochs from p = 0.1): every p moves and stays in (0, 1)', async () => {
    // Measured, seeds 0–4: the first layer's p ends at 0.12–0.15 and the second's at 0.09–0.10; from
    // p = 0.4 they fall to 0.27–0.32. At lr 0.01 Adam moves a logit by at most ~0.01 a batch (112 here).
    const task = loadDataset({ dataset: 'synthetic', trainSize: 200, valSize: 300, testSize: 100, seed: 0 });
    const env = new DropoutEnv(task, {
      model: 'mlp:64,32',
      concreteDropout: true,
      initialRates: 0.1,
      actionMode: 'absolute',
      lr: 0.01,
      batchSize: 32,
      maxEpochs: 16,
    });
    const { infos } = await episode(env, 0, [0.1, 0.1]);
    env.dispose();
    const last = infos[infos.length - 1]!;
    expect(infos).to.have.lengthOf(16);
    for (const p of last.rates) {
      expect(p).to.be.greaterThan(0).and.below(1);
      expect(Math.abs(p - 0.1), `p ended at ${p}`).to.be.above(1e-3);
    }
    expect(last.testAcc).to.be.a('number');
  });

  it('leaks no tensors over training steps and restores', async () => {
    const env = new DropoutEnv(data, { ...SMALL, model: 'cnn:4/8', maxEpochs: 4 });
    await env.reset({ seed: 1 });
    await env.step([0.1, 0.1]);
    const before = tf.memory().numTensors;
    await env.step([0.1, 0.1]);
    env.restore(env.snapshot());
    await env.step([0.1, 0.1]);
    expect(tf.memory().numTensors).to.equal(before);
    env.dispose();
  });

  it('keeps the fingerprint of fixed-rate envs as it was (old checkpoints restore)', async () => {
    const env = new DropoutEnv(data, { model: 'mlp:24,12', maxEpochs: 1 });
    await env.reset({ seed: 1 });
    expect(env.snapshot().fingerprint).to.not.include('concrete');
    env.dispose();
    const concrete = new DropoutEnv(data, { ...SMALL, maxEpochs: 1 });
    await concrete.reset({ seed: 1 });
    expect(concrete.snapshot().fingerprint).to.include('"concreteDropout":true');
    concrete.dispose();
  });

  it('rejects an initial rate of 0 and a non-boolean option, naming the option', () => {
    expect(() => new DropoutEnv(data, { ...SMALL, initialRates: [0, 0.2] })).to.throw(
      ConfigError,
      '--initial-rate must be in (0, 1) with --concrete-dropout, got 0',
    );
    expect(() => new DropoutEnv(data, { concreteDropout: 'yes' as never })).to.throw(
      ConfigError,
      '--concrete-dropout must be true or false',
    );
  });
});

describe('resolveRun with --concrete-dropout', () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'droptune-concrete-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const task = { dataset: 'synthetic', trainSize: 64, valSize: 32, testSize: 32, model: 'mlp:8,4', epochs: 2 };

  it("starts every layer at the constant agent's --rate, and resolves again from what config.json records", () => {
    const run = resolveRun({
      ...task,
      agent: 'constant',
      rate: 0.15,
      concreteDropout: true,
      episodes: 1,
      out: path.join(tmp, 'a'),
    });
    expect(run.envConfig.concreteDropout).to.equal(true);
    expect(run.envConfig.rates).to.deep.equal([0.15, 0.15]);
    expect(run.options).to.include({ concreteDropout: true, rate: 0.15 });
    const again = resolveRun(
      {
        ...runOptionsFromConfig(JSON.parse(JSON.stringify(run.options)) as Record<string, unknown>),
        out: path.join(tmp, 'a'),
      },
      { resume: true },
    );
    expect(again.envConfig).to.deep.equal(run.envConfig);
  });

  it('takes --concrete-lr, --concrete-length-scale and --concrete-initial-rate, records them, and resolves again', () => {
    const run = resolveRun({
      ...task,
      agent: 'constant',
      concreteDropout: true,
      concreteLr: 0.05,
      concreteLengthScale: 0.01,
      concreteInitialRate: 0.3,
      episodes: 1,
      out: path.join(tmp, 'c'),
    });
    expect(run.envConfig.rates).to.deep.equal([0.3, 0.3]);
    expect(run.envConfig).to.include({ concreteLr: 0.05, concreteLengthScale: 0.01 });
    expect(run.options).to.include({ concreteLr: 0.05, concreteLengthScale: 0.01, concreteInitialRate: 0.3 });
    const again = resolveRun(
      { ...runOptionsFromConfig(JSON.parse(JSON.stringify(run.options)) as Record<string, unknown>), out: run.out },
      { resume: true },
    );
    expect(again.envConfig).to.deep.equal(run.envConfig);
    // a fixed-rate run records none of them (its config.json is as it was)
    const fixed = resolveRun({ ...task, agent: 'constant', episodes: 1, out: path.join(tmp, 'd') });
    expect(Object.keys(fixed.options).filter((k) => k.startsWith('concrete'))).to.deep.equal(['concreteDropout']);
    expect(() => resolveRun({ ...task, agent: 'constant', concreteLr: 0.1, out: path.join(tmp, 'e') })).to.throw(
      ConfigError,
      '--concrete-lr applies with --concrete-dropout only',
    );
    expect(() =>
      resolveRun({
        ...task,
        agent: 'constant',
        concreteDropout: true,
        concreteInitialRate: 0,
        out: path.join(tmp, 'f'),
      }),
    ).to.throw(ConfigError, '--concrete-initial-rate must be in (0, 1), got 0');
  });

  it('rejects another agent, --initial-rate, and --rate 0, in one line naming the options', () => {
    const resolve = (options: Record<string, unknown>) => () =>
      resolveRun({ ...task, concreteDropout: true, out: path.join(tmp, 'b'), ...options });
    expect(resolve({ agent: 'ucb' })).to.throw(
      ConfigError,
      '--concrete-dropout learns the rates itself: it needs --agent constant (whose --rate is the initial rate), got --agent ucb',
    );
    expect(resolve({ agent: 'constant', initialRate: [0.2] })).to.throw(
      ConfigError,
      '--initial-rate does not apply with --concrete-dropout',
    );
    expect(resolve({ agent: 'constant', rate: 0 })).to.throw(
      ConfigError,
      '--rate must be in (0, 1) with --concrete-dropout',
    );
  });
});
