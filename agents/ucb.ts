/**
 * ucb: UCB1 (Auer et al. 2002). Each layer, each step, pulls every arm of its set once, then the arm
 * maximizing  mean_k + c · sqrt(ln N / n_k)  (N = pulls of the set, n_k of arm k; ties drawn uniformly).
 * c is in reward units: the textbook c = √2 assumes rewards spread over [0, 1]; DropoutEnv's delta
 * rewards (a change of validation accuracy) move by ~0.01 after the first epoch, hence the default 0.1.
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

export interface UcbConfig extends ArmSetConfig {
  /** c: weight of the exploration bonus, in reward units. @default 0.1 */
  ucbC: number;
}

export const UCB_DEFAULTS: UcbConfig = { ucbC: 0.1, ...ARM_SET_DEFAULTS };

export const UCB_OPTIONS: OptionSpec[] = [
  {
    key: 'ucbC',
    flag: '--ucb-c',
    type: 'number',
    default: UCB_DEFAULTS.ucbC,
    help: 'ucb: exploration constant c (reward units)',
  },
  ...ARM_SET_OPTIONS,
];

export function checkUcbConfig(partial: Partial<UcbConfig>): UcbConfig {
  checkKnownKeys('ucb', partial, Object.keys(UCB_DEFAULTS));
  const c = { ...UCB_DEFAULTS, ...partial };
  return { ucbC: checkNumber('--ucb-c', c.ucbC, 0, 1e6), ...checkArmSet(c) };
}

// act: the pick rule

export function pickUcb(c: number): PickArm {
  return (arms, rng) => {
    const untried = underPulled(arms, 1, rng);
    if (untried !== undefined) return untried;
    const logN = Math.log(arms.reduce((sum, a) => sum + a.n, 0));
    return argmax(
      arms.map((a) => a.mean + c * Math.sqrt(logN / a.n)),
      rng,
    );
  };
}

// registry entry

export const ucbEntry: AgentEntry = {
  description: 'bandit: UCB1, the arm with the highest mean + --ucb-c · sqrt(ln N / n)',
  options: UCB_OPTIONS,
  defaultActionMode: 'discrete',
  supports: ALL_MODES,
  check: (options) => ({ ...checkUcbConfig(options as Partial<UcbConfig>) }),
  create(options, ctx) {
    const c = checkUcbConfig(options as Partial<UcbConfig>);
    checkActionMode('ucb', ctx, ALL_MODES);
    return new TableBandit('ucb', ctx, c, pickUcb(c.ucbC));
  },
};
