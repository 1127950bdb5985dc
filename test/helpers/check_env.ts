/**
 * The one env check every environment passes: same seed twice → same observations and rewards;
 * observations lie in the observation space; step returns the Gymnasium shape.
 */
import { expect } from 'chai';
import { createRng } from '../../src/core/rng.js';
import type { Env } from '../../src/core/types.js';

async function rollout(
  env: Env,
  seed: number,
  steps: number,
): Promise<{ observations: number[][]; rewards: number[] }> {
  const actionRng = createRng(seed);
  const { observation } = await env.reset({ seed });
  const observations = [observation];
  const rewards: number[] = [];
  for (let i = 0; i < steps; i++) {
    const result = await env.step(env.actionSpace.sample(actionRng));
    expect(result).to.have.all.keys('observation', 'reward', 'terminated', 'truncated', 'info');
    expect(result.reward).to.be.a('number');
    expect(result.terminated).to.be.a('boolean');
    expect(result.truncated).to.be.a('boolean');
    observations.push(result.observation);
    rewards.push(result.reward);
    if (result.terminated || result.truncated) break;
  }
  return { observations, rewards };
}

export async function checkEnv(env: Env, { seed = 7, steps = 3 } = {}): Promise<void> {
  const first = await rollout(env, seed, steps);
  const second = await rollout(env, seed, steps);
  expect(second.observations).to.deep.equal(first.observations);
  expect(second.rewards).to.deep.equal(first.rewards);
  for (const observation of first.observations) {
    expect(observation).to.have.length(env.observationSpace.size);
    expect(env.observationSpace.contains(observation), `observation ${observation} outside the space`).to.equal(true);
  }
  expect(env.observationNames).to.have.length(env.observationSpace.size);
}
