/**
 * plateau: seed 000's validation-loss rule, applied to every layer after each epoch.
 *
 *   the first act of an episode (epoch 0, nothing trained yet): keep the rates; best = +∞, stalled = 0
 *   after each trained epoch, with step δ = the env's --rate-step:
 *     valLoss < best (strictly)  → best = valLoss, stalled = 0, every rate → max(rate − δ, --min)
 *     otherwise                  → stalled += 1; if stalled ≥ --patience, every rate → min(rate + δ, --max)
 *                                  (else keep)
 *
 * Counter semantics, as in the seed's loop: `stalled` resets only on an improvement, never after a raise,
 * so once --patience epochs pass without improvement the rates rise by δ every further epoch until
 * the validation loss improves again. (Keras' ReduceLROnPlateau would reset the counter after each
 * change instead.) Lowering while improving and raising while stalled reads the plateau as overfitting.
 * A NaN loss never counts as an improvement. Each episode is a fresh training run and starts over.
 *
 * The rates come from `info.rates` (the env's own), so layers that start apart stay apart.
 * In absolute mode (the default) the rule is applied exactly; in discrete mode the same moves are the
 * actions down/keep/up; in continuous mode they are deltas, which --max-delta may cut short.
 */
import { checkInt, checkKnownKeys, checkRate } from '../src/core/check.js';
import { ConfigError } from '../src/core/errors.js';
import type { OptionSpec } from '../src/core/options.js';
import type { Action, Agent, AgentContext, StepInfo } from '../src/core/types.js';
import { ALL_MODES, checkActionMode, type AgentEntry } from './entry.js';
import { clamp, roundRate, towardRates } from './rates.js';
import { readInt, readNumber, readState } from './state.js';

// config

export interface PlateauConfig {
  /** Epochs without a new best validation loss before the rates rise. The seed uses 5 over 100 epochs;
   * episodes here default to 10 epochs. @default 3 */
  patience: number;
  /** Lowering stops at this rate. @default 0.2 */
  min: number;
  /** Raising stops at this rate. @default 0.8 */
  max: number;
}

export const PLATEAU_DEFAULTS: PlateauConfig = { patience: 3, min: 0.2, max: 0.8 };

export const PLATEAU_OPTIONS: OptionSpec[] = [
  {
    key: 'patience',
    flag: '--patience',
    type: 'int',
    default: PLATEAU_DEFAULTS.patience,
    help: 'plateau: epochs without a better validation loss before raising the rates',
  },
  {
    key: 'min',
    flag: '--min',
    type: 'number',
    default: PLATEAU_DEFAULTS.min,
    help: 'plateau: lowest rate it lowers to',
  },
  {
    key: 'max',
    flag: '--max',
    type: 'number',
    default: PLATEAU_DEFAULTS.max,
    help: 'plateau: highest rate it raises to',
  },
];

export function checkPlateauConfig(partial: Partial<PlateauConfig>): PlateauConfig {
  checkKnownKeys('plateau', partial, Object.keys(PLATEAU_DEFAULTS));
  const c = { ...PLATEAU_DEFAULTS, ...partial };
  const min = checkRate('--min', c.min);
  const max = checkRate('--max', c.max);
  if (min > max) throw new ConfigError(`--min (${min}) must not exceed --max (${max})`);
  return { patience: checkInt('--patience', c.patience, 1), min, max };
}

// agent

export class PlateauAgent implements Agent {
  readonly name = 'plateau';
  /** Lowest validation loss of the episode so far (null: no epoch trained yet). */
  private best: number | null = null;
  /** Epochs since the last improvement. */
  private stalled = 0;

  constructor(
    readonly config: PlateauConfig,
    private readonly ctx: AgentContext,
  ) {}

  beginEpisode(): void {
    this.best = null;
    this.stalled = 0;
  }

  // act

  act(_observation: number[], info: StepInfo): Action {
    if (info.epoch === 0) {
      this.beginEpisode();
      return towardRates(info.rates, info, this.ctx);
    }
    const { patience, min, max } = this.config;
    const step = this.ctx.rateStep;
    let target = info.rates;
    const improved = !Number.isNaN(info.valLoss) && (this.best === null || info.valLoss < this.best);
    if (improved) {
      this.best = info.valLoss;
      this.stalled = 0;
      target = info.rates.map((r) => roundRate(Math.max(r - step, min)));
    } else {
      this.stalled += 1;
      if (this.stalled >= patience) target = info.rates.map((r) => roundRate(Math.min(r + step, max)));
    }
    return towardRates(
      target.map((r) => clamp(r, this.ctx.minRate, this.ctx.maxRate)),
      info,
      this.ctx,
    );
  }

  // save/load: the episode's running best and counter

  saveState(): unknown {
    return { agent: this.name, version: 1, best: this.best, stalled: this.stalled };
  }

  loadState(state: unknown): void {
    const s = readState(this.name, state);
    const best = s['best'] === null ? null : readNumber(this.name, 'best', s['best']);
    const stalled = readInt(this.name, 'stalled', s['stalled']);
    this.best = best;
    this.stalled = stalled;
  }
}

// registry entry

export const plateauEntry: AgentEntry = {
  description: 'lower the rates while validation loss improves, raise them after --patience epochs without',
  options: PLATEAU_OPTIONS,
  defaultActionMode: 'absolute',
  supports: ALL_MODES,
  check: (options) => ({ ...checkPlateauConfig(options as Partial<PlateauConfig>) }),
  create(options, ctx) {
    checkActionMode('plateau', ctx, ALL_MODES);
    return new PlateauAgent(checkPlateauConfig(options as Partial<PlateauConfig>), ctx);
  },
};
