/**
 * constant: every layer at --rate for every epoch. The baseline every learner has to beat.
 * In absolute mode (its default) the first epoch already trains at --rate; in discrete and continuous
 * modes it walks the rates there as fast as the action space allows.
 */
import { checkKnownKeys, checkRate } from '../src/core/check.js';
import type { OptionSpec } from '../src/core/options.js';
import type { Action, Agent, AgentContext, StepInfo } from '../src/core/types.js';
import { ALL_MODES, checkActionMode, type AgentEntry } from './entry.js';
import { checkTargetRate, towardRates } from './rates.js';
import { readState } from './state.js';

// config

export interface ConstantConfig {
  /** The dropout rate of every layer. @default 0.3 */
  rate: number;
}

export const CONSTANT_DEFAULTS: ConstantConfig = { rate: 0.3 };

export const CONSTANT_OPTIONS: OptionSpec[] = [
  {
    key: 'rate',
    flag: '--rate',
    type: 'number',
    default: CONSTANT_DEFAULTS.rate,
    help: 'dropout rate of every layer (constant, schedule)',
  },
];

export function checkConstantConfig(partial: Partial<ConstantConfig>): ConstantConfig {
  checkKnownKeys('constant', partial, Object.keys(CONSTANT_DEFAULTS));
  const c = { ...CONSTANT_DEFAULTS, ...partial };
  return { rate: checkRate('--rate', c.rate) };
}

// agent

export class ConstantAgent implements Agent {
  readonly name = 'constant';
  private readonly target: number[];

  constructor(
    readonly config: ConstantConfig,
    private readonly ctx: AgentContext,
  ) {
    checkTargetRate('--rate', config.rate, ctx);
    this.target = Array<number>(ctx.numLayers).fill(config.rate);
  }

  // act

  act(_observation: number[], info: StepInfo): Action {
    return towardRates(this.target, info, this.ctx);
  }

  // save/load: nothing is learned

  saveState(): unknown {
    return { agent: this.name, version: 1 };
  }

  loadState(state: unknown): void {
    readState(this.name, state);
  }
}

// registry entry

export const constantEntry: AgentEntry = {
  description: 'every layer at --rate, every epoch',
  options: CONSTANT_OPTIONS,
  defaultActionMode: 'absolute',
  supports: ALL_MODES,
  check: (options) => ({ ...checkConstantConfig(options as Partial<ConstantConfig>) }),
  create(options, ctx) {
    checkActionMode('constant', ctx, ALL_MODES);
    return new ConstantAgent(checkConstantConfig(options as Partial<ConstantConfig>), ctx);
  },
};
