/**
 * random: each step an action drawn uniformly from the action space (discrete: down/keep/up per layer,
 * a random walk of the rates; continuous: a uniform delta; absolute: a uniform rate). The floor a learner
 * must clear. Draws come from the agent's stream, forked from ctx.rng.
 */
import { checkKnownKeys } from '../src/core/check.js';
import type { OptionSpec } from '../src/core/options.js';
import type { Action, Agent, AgentContext } from '../src/core/types.js';
import { ALL_MODES, checkActionMode, type AgentEntry } from './entry.js';
import { readState, SavedRng } from './state.js';

// config: none

export type RandomConfig = Record<string, never>;

export const RANDOM_OPTIONS: OptionSpec[] = [];

export function checkRandomConfig(partial: object): RandomConfig {
  checkKnownKeys('random', partial, []);
  return {};
}

// agent

export class RandomAgent implements Agent {
  readonly name = 'random';
  private rng: SavedRng;

  constructor(private readonly ctx: AgentContext) {
    this.rng = SavedRng.from(ctx.rng);
  }

  // act

  act(): Action {
    return this.ctx.actionSpace.sample(this.rng);
  }

  // save/load: the position of the random stream

  saveState(): unknown {
    return { agent: this.name, version: 1, rng: this.rng.save() };
  }

  loadState(state: unknown): void {
    this.rng = SavedRng.restore(this.name, readState(this.name, state)['rng']);
  }
}

// registry entry

export const randomEntry: AgentEntry = {
  description: 'uniform random actions from the action space',
  options: RANDOM_OPTIONS,
  defaultActionMode: 'discrete',
  supports: ALL_MODES,
  check: (options) => checkRandomConfig(options),
  create(options, ctx) {
    checkRandomConfig(options);
    checkActionMode('random', ctx, ALL_MODES);
    return new RandomAgent(ctx);
  },
};
