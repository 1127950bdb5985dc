/**
 * The agent–environment loop as src/loop/loop.ts runs it (reset with seed + episode → beginEpisode →
 * act → step → learn … → endEpisode), without RxJS, recording what the agent did.
 */
import { expect } from 'chai';
import type { Agent, Env, StepInfo, Transition } from '../../src/core/types.js';

export interface Rollout {
  /** actions[episode][step] */
  actions: number[][][];
  /** rates[episode][step]: the rates each epoch trained with. */
  rates: number[][][];
  returns: number[];
}

export async function runEpisodes(agent: Agent, env: Env, episodes: number, { seed = 0, firstEpisode = 0 } = {}): Promise<Rollout> {
  const out: Rollout = { actions: [], rates: [], returns: [] };
  for (let episode = firstEpisode; episode < firstEpisode + episodes; episode++) {
    const reset = await env.reset({ seed: seed + episode });
    agent.beginEpisode?.(reset.observation, reset.info, episode);
    let observation = reset.observation;
    let info: StepInfo = reset.info;
    const transitions: Transition[] = [];
    for (let done = false; !done; ) {
      const action = await agent.act(observation, info);
      expect(env.actionSpace.contains(action), `action ${JSON.stringify(action)} of ${agent.name} is in the action space`).to.equal(true);
      const result = await env.step(action);
      const transition: Transition = {
        episode,
        epoch: result.info.epoch,
        observation,
        action,
        reward: result.reward,
        nextObservation: result.observation,
        terminated: result.terminated,
        truncated: result.truncated,
        info: result.info,
      };
      await agent.learn?.(transition);
      transitions.push(transition);
      ({ observation, info } = result);
      done = result.terminated || result.truncated;
    }
    await agent.endEpisode?.(transitions);
    out.actions.push(transitions.map((t) => t.action));
    out.rates.push(transitions.map((t) => t.info.rates));
    out.returns.push(transitions.reduce((s, t) => s + t.reward, 0));
  }
  return out;
}

export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
