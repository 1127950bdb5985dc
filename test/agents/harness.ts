/**
 * Runs an agent through src/loop's run$ (the loop the CLI uses), checking every action is in the
 * action space, and records what the agent did.
 */
import { expect } from 'chai';
import { lastValueFrom, tap, toArray } from 'rxjs';
import type { Agent, Env } from '../../src/core/types.js';
import { run$ } from '../../src/loop/loop.js';

export interface Rollout {
  /** actions[episode][step] */
  actions: number[][][];
  /** rates[episode][step]: the rates each epoch trained with. */
  rates: number[][][];
  returns: number[];
}

export async function runEpisodes(
  agent: Agent,
  env: Env,
  episodes: number,
  { seed = 0, firstEpisode = 1 } = {},
): Promise<Rollout> {
  const events = await lastValueFrom(
    run$(env, agent, { episodes, seed, firstEpisode }).pipe(
      // every action the agent takes must lie in the env's action space
      tap((e) => {
        if (e.type === 'step') {
          const { action } = e.transition;
          expect(
            env.actionSpace.contains(action),
            `action ${JSON.stringify(action)} of ${agent.name} is in the action space`,
          ).to.equal(true);
        }
      }),
      toArray(),
    ),
  );
  const finished = events.flatMap((e) => (e.type === 'episode' ? [e] : []));
  return {
    actions: finished.map((e) => e.transitions.map((t) => t.action)),
    rates: finished.map((e) => e.transitions.map((t) => t.info.rates)),
    returns: finished.map((e) => e.record.return),
  };
}

export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
