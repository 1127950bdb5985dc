/**
 * epsilon-greedy: each layer, each step, takes a uniformly random arm with probability ε and otherwise
 * the arm with the highest mean reward so far. Arms never pulled come first in the greedy branch, so
 * every arm has an estimate before greedy choices start; ties are drawn uniformly.
 * Arms, arm sets (--per-epoch), crediting and saving: see bandit-table.ts.
 */
import { checkKnownKeys, checkNumber } from '../src/core/check.js';
import type { OptionSpec } from '../src/core/options.js';
import {
  argmax,
  ARM_SET_DEFAULTS,
  ARM_SET_OPTIONS,
  checkArmSet,
  TableBandit,
  type ArmSetConfig,
  underPulled,
  type PickArm,
} from './bandit-table.js';
import { ALL_MODES, checkActionMode, type AgentEntry } from './entry.js';

// config

export interface EpsilonGreedyConfig extends ArmSetConfig {
  /** Probability of a random arm. @default 0.1 */
  epsilon: number;
}

export const EPSILON_GREEDY_DEFAULTS: EpsilonGreedyConfig = { epsilon: 0.1, ...ARM_SET_DEFAULTS };

export const EPSILON_GREEDY_OPTIONS: OptionSpec[] = [
  {
    key: 'epsilon',
    flag: '--epsilon',
    type: 'number',
    default: EPSILON_GREEDY_DEFAULTS.epsilon,
    help: 'epsilon-greedy: probability of a random arm',
  },
  ...ARM_SET_OPTIONS,
];

export function checkEpsilonGreedyConfig(partial: Partial<EpsilonGreedyConfig>): EpsilonGreedyConfig {
  checkKnownKeys('epsilon-greedy', partial, Object.keys(EPSILON_GREEDY_DEFAULTS));
  const c = { ...EPSILON_GREEDY_DEFAULTS, ...partial };
  return { epsilon: checkNumber('--epsilon', c.epsilon, 0, 1), ...checkArmSet(c) };
}

// act: the pick rule

export function pickEpsilonGreedy(epsilon: number): PickArm {
  return (arms, rng) => {
    if (rng.next() < epsilon) return rng.int(arms.length);
    return (
      underPulled(arms, 1, rng) ??
      argmax(
        arms.map((a) => a.mean),
        rng,
      )
    );
  };
}

// registry entry

export const epsilonGreedyEntry: AgentEntry = {
  description: 'bandit: a random arm with probability --epsilon, else the best mean reward so far',
  options: EPSILON_GREEDY_OPTIONS,
  defaultActionMode: 'discrete',
  supports: ALL_MODES,
  check: (options) => ({ ...checkEpsilonGreedyConfig(options as Partial<EpsilonGreedyConfig>) }),
  create(options, ctx) {
    const c = checkEpsilonGreedyConfig(options as Partial<EpsilonGreedyConfig>);
    checkActionMode('epsilon-greedy', ctx, ALL_MODES);
    return new TableBandit('epsilon-greedy', ctx, c, pickEpsilonGreedy(c.epsilon));
  },
};
