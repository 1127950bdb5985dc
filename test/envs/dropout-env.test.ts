import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { ConfigError } from '../../src/core/errors.js';
import type { StepInfo } from '../../src/core/types.js';
import { loadDataset, type Dataset } from '../../src/data/dataset.js';
import { DropoutEnv, trendSlope, type DropoutEnvConfig } from '../../envs/dropout-env.js';
import { checkEnv } from '../helpers/check_env.js';

const SMALL: Partial<DropoutEnvConfig> = { model: 'mlp:32,16', batchSize: 32, lr: 0.01, maxEpochs: 4 };

function withoutTiming(info: StepInfo): StepInfo {
  const { stepMs: _drop, ...rest } = info;
  return rest;
}

/** Runs one whole episode with a fixed action pattern; returns everything except timings. */
async function episode(env: DropoutEnv, seed: number) {
  const reset = await env.reset({ seed });
  const trace: unknown[] = [reset.observation, withoutTiming(reset.info)];
  for (let t = 0; ; t++) {
    const r = await env.step(env.config.actionMode === 'discrete' ? [t % 3, (t + 1) % 3] : [0.4, 0.2]);
    trace.push(r.observation, r.reward, r.terminated, r.truncated, withoutTiming(r.info));
    if (r.terminated || r.truncated) return trace;
  }
}

describe('DropoutEnv', () => {
  let data: Dataset;
  before(() => {
    data = loadDataset({ dataset: 'synthetic', trainSize: 256, valSize: 128, testSize: 128, seed: 1 });
  });

  it('passes the shared env check', async () => {
    const env = new DropoutEnv(data, SMALL);
    await checkEnv(env);
    env.dispose();
  });

  it('is bit-identical for the same seed over a whole episode, and differs for another seed', async () => {
    const a = new DropoutEnv(data, SMALL);
    const b = new DropoutEnv(data, SMALL);
    const first = await episode(a, 5);
    expect(await episode(b, 5)).to.deep.equal(first);
    expect(await episode(a, 6)).to.not.deep.equal(first);
    a.dispose();
    b.dispose();
  });

  it('leaks no tensors over several episodes of 20 steps', async () => {
    const before = tf.memory().numTensors;
    const env = new DropoutEnv(data, { ...SMALL, maxEpochs: 20, batchNorm: true, l2: 1e-4 });
    for (let ep = 0; ep < 3; ep++) {
      await env.reset({ seed: ep });
      for (let t = 0; t < 20; t++) await env.step([2, 0]);
    }
    env.dispose();
    expect(tf.memory().numTensors).to.equal(before);
  });

  /** Six epochs at constant rates: validation accuracy starts below 0.5 and ends above 0.6. */
  async function expectLearns(options: Partial<DropoutEnvConfig>): Promise<void> {
    const env = new DropoutEnv(data, { ...SMALL, ...options, maxEpochs: 6 });
    const { info: start } = await env.reset({ seed: 1 });
    let last = start;
    for (let t = 0; t < 6; t++) last = (await env.step([1, 1])).info;
    expect(start.valAcc).to.be.below(0.5);
    expect(last.valAcc).to.be.above(0.6);
    env.dispose();
  }

  it('learns the synthetic task: validation accuracy rises well above chance (0.25)', () => expectLearns({}));

  it('learns the synthetic task with SGD and momentum as well', () =>
    expectLearns({ optimizer: 'sgd', momentum: 0.9, lr: 0.05 }));

  it('returns, under delta rewards, the final minus the initial validation accuracy', async () => {
    const env = new DropoutEnv(data, SMALL);
    const { info } = await env.reset({ seed: 2 });
    let total = 0;
    let last = info;
    for (let done = false; !done;) {
      const r = await env.step([1, 1]);
      total += r.reward;
      last = r.info;
      done = r.truncated || r.terminated;
    }
    expect(total).to.be.closeTo(last.valAcc - info.valAcc, 1e-12);
    env.dispose();
  });

  it('gives a terminal reward of the final validation accuracy only at the end', async () => {
    const env = new DropoutEnv(data, { ...SMALL, reward: 'terminal', maxEpochs: 3 });
    await env.reset({ seed: 2 });
    const rewards: number[] = [];
    let last: StepInfo | undefined;
    for (let t = 0; t < 3; t++) {
      const r = await env.step([1, 1]);
      rewards.push(r.reward);
      last = r.info;
    }
    expect(rewards.slice(0, 2)).to.deep.equal([0, 0]);
    expect(rewards[2]).to.equal(last!.valAcc);
    env.dispose();
  });

  it('moves rates by ±δ in discrete mode, clamped to [minRate, maxRate]', async () => {
    const env = new DropoutEnv(data, {
      ...SMALL,
      maxEpochs: 4,
      initialRates: [0.1, 0.35],
      rateStep: 0.05,
      minRate: 0.05,
      maxRate: 0.4,
    });
    await env.reset({ seed: 3 });
    const rates: number[][] = [];
    for (let t = 0; t < 3; t++) rates.push((await env.step([0, 2])).info.rates);
    expect(rates).to.deep.equal([
      [0.05, 0.4],
      [0.05, 0.4],
      [0.05, 0.4],
    ]);
    env.dispose();
  });

  it('adds deltas in continuous mode and sets rates in absolute mode', async () => {
    const cont = new DropoutEnv(data, { ...SMALL, actionMode: 'continuous', maxDelta: 0.1, initialRates: 0.3 });
    await cont.reset({ seed: 3 });
    expect(cont.actionSpace.contains([0.2, 0])).to.equal(false);
    expect((await cont.step([0.1, -0.05])).info.rates).to.deep.equal([0.4, 0.25]);
    cont.dispose();
    const abs = new DropoutEnv(data, { ...SMALL, actionMode: 'absolute', maxRate: 0.6 });
    await abs.reset({ seed: 3 });
    expect((await abs.step([0.55, 0])).info.rates).to.deep.equal([0.55, 0]);
    abs.dispose();
  });

  it('observes the documented statistics in the documented order, inside the space', async () => {
    const env = new DropoutEnv(data, SMALL);
    const reset = await env.reset({ seed: 4 });
    expect(reset.info.epoch).to.equal(0);
    const { observation: o, info } = await env.step([2, 1]);
    const at = (name: string) => o[env.observationNames.indexOf(name)]!;
    const scale = Math.log(data.numClasses);
    expect(at('trainLoss')).to.be.closeTo(info.trainLoss / scale, 1e-9);
    expect(at('valAcc')).to.equal(info.valAcc);
    expect(at('accGap')).to.be.closeTo(info.trainAcc - info.valAcc, 1e-12);
    expect(at('valAccTrend')).to.be.closeTo(info.valAcc - reset.info.valAcc, 1e-12);
    expect([at('rate_1'), at('rate_2')]).to.deep.equal([0.35, 0.3]);
    expect(at('progress')).to.equal(1 / 4);
    expect(env.observationSpace.contains(o)).to.equal(true);
    expect(info.testAcc, 'test accuracy only at the end').to.equal(undefined);
    env.dispose();
  });

  it('reports test accuracy when the episode ends, and refuses to step past the end', async () => {
    const env = new DropoutEnv(data, { ...SMALL, maxEpochs: 1 });
    await env.reset({ seed: 4 });
    const r = await env.step([1, 1]);
    expect(r.truncated).to.equal(true);
    expect(r.info.testAcc).to.be.within(0, 1);
    try {
      await env.step([1, 1]);
      expect.fail('stepped past the end');
    } catch (err) {
      expect((err as Error).message).to.match(/call reset\(\) first/);
    }
    env.dispose();
  });

  it('ends with terminated and the divergence penalty when the loss is NaN, without throwing', async () => {
    const poisoned: Dataset = { ...data, train: { ...data.train, x: data.train.x.map((v, i) => (i === 0 ? NaN : v)) } };
    const env = new DropoutEnv(poisoned, { ...SMALL, divergencePenalty: -2 });
    await env.reset({ seed: 1 });
    const r = await env.step([1, 1]);
    expect(r).to.include({ terminated: true, truncated: false, reward: -2 });
    expect(r.info.diverged).to.equal(true);
    expect(env.observationSpace.contains(r.observation)).to.equal(true);
    env.dispose();
  });

  it('rejects bad configuration with one line naming the option', () => {
    expect(() => new DropoutEnv(data, { model: 'mlp:32,x' })).to.throw(
      ConfigError,
      "--model must look like 'mlp:256,128' or 'cnn:16,32/64' (positive layer sizes), got 'mlp:32,x'",
    );
    expect(() => new DropoutEnv(data, { initialRates: 1.2 })).to.throw(
      ConfigError,
      '--initial-rate must be in [0, 0.8], got 1.2',
    );
    expect(() => new DropoutEnv(data, { maxRate: 1 })).to.throw(ConfigError, '--max-rate must be in [0, 1), got 1');
    expect(() => new DropoutEnv(data, { batchSize: 0 })).to.throw(
      ConfigError,
      '--batch-size must be an integer >= 1, got 0',
    );
    expect(() => new DropoutEnv(data, { actionMode: 'up' as never })).to.throw(
      ConfigError,
      '--action must be one of discrete, continuous, absolute',
    );
    expect(() => new DropoutEnv(data, { optimizer: 'rmsprop' as never })).to.throw(
      ConfigError,
      "--optimizer must be one of adam, sgd, got 'rmsprop'",
    );
    expect(() => new DropoutEnv(data, { momentum: 1 })).to.throw(ConfigError, '--momentum must be in [0, 1), got 1');
  });
});

describe('trendSlope', () => {
  it('is the least-squares slope over the window', () => {
    expect(trendSlope([5], 3)).to.equal(0);
    expect(trendSlope([0, 1, 2, 3], 3)).to.be.closeTo(1, 1e-12);
    expect(trendSlope([9, 1, 1, 4], 3)).to.be.closeTo(1.5, 1e-12);
  });
});
