/**
 * Cheap environments for agent tests: no tfjs, no data, microseconds per step.
 *
 * TargetPathEnv: the rates follow the actions exactly as in DropoutEnv (discrete ±rateStep, continuous
 * delta, absolute rate; clamped to [minRate, maxRate], rounded to 1e-9), and the reward of epoch t
 * (t = 0 for the first epoch trained) is −mean over layers of |rate − target[t]|, so the best schedule is
 * known: follow `target`, return 0. The validation loss is scripted (`valLosses[t]`) or, by default,
 * 1 − 0.05 t + the distance to the target. Observation: [valLoss, rate_1 … rate_L, progress].
 */
import { createRng, type Rng } from '../../src/core/rng.js';
import { Box, MultiDiscrete, type Space } from '../../src/core/spaces.js';
import type { Action, ActionMode, AgentContext, Env, ResetResult, StepInfo, StepResult } from '../../src/core/types.js';

export interface TargetPathConfig {
  numLayers: number;
  actionMode: ActionMode;
  /** Epochs per episode; also the length `target` must have. */
  maxEpochs: number;
  rateStep: number;
  maxDelta: number;
  minRate: number;
  maxRate: number;
  initialRate: number;
  /** target[t]: the best rate (every layer) for epoch index t. */
  target: number[];
  /** valLosses[t]: the validation loss reported after epoch index t (optional). */
  valLosses?: number[];
  /** Standard deviation of Gaussian noise on the reward (drawn from the env's seeded stream). */
  rewardNoise: number;
}

export const TARGET_PATH_DEFAULTS: TargetPathConfig = {
  numLayers: 2,
  actionMode: 'discrete',
  maxEpochs: 6,
  rateStep: 0.1,
  maxDelta: 0.1,
  minRate: 0,
  maxRate: 0.8,
  initialRate: 0.3,
  target: [0.4, 0.5, 0.5, 0.4, 0.3, 0.2],
  rewardNoise: 0,
};

const round = (r: number) => Math.round(r * 1e9) / 1e9;

export class TargetPathEnv implements Env {
  readonly config: TargetPathConfig;
  readonly observationSpace: Box;
  readonly actionSpace: Space;
  readonly observationNames: readonly string[];
  private rng: Rng = createRng(0);
  private rates: number[] = [];
  private epoch = 0;
  private done = true;

  constructor(partial: Partial<TargetPathConfig> = {}) {
    const c = { ...TARGET_PATH_DEFAULTS, ...partial };
    if (partial.maxEpochs !== undefined && partial.target === undefined) {
      c.target = Array.from({ length: c.maxEpochs }, (_, t) => TARGET_PATH_DEFAULTS.target[Math.min(t, 5)]!);
    }
    if (c.target.length < c.maxEpochs) throw new Error(`TargetPathEnv: target needs ${c.maxEpochs} entries`);
    this.config = c;
    const L = c.numLayers;
    this.actionSpace =
      c.actionMode === 'discrete'
        ? new MultiDiscrete(Array<number>(L).fill(3))
        : c.actionMode === 'continuous'
          ? new Box(Array<number>(L).fill(-c.maxDelta), Array<number>(L).fill(c.maxDelta))
          : new Box(Array<number>(L).fill(c.minRate), Array<number>(L).fill(c.maxRate));
    this.observationSpace = new Box([0, ...Array<number>(L).fill(0), 0], [10, ...Array<number>(L).fill(1), 1]);
    this.observationNames = ['valLoss', ...Array.from({ length: L }, (_, i) => `rate_${i + 1}`), 'progress'];
  }

  /** The AgentContext an agent gets for this env. */
  context(seed: number | string): AgentContext {
    const c = this.config;
    return {
      observationSpace: this.observationSpace,
      actionSpace: this.actionSpace,
      actionMode: c.actionMode,
      numLayers: c.numLayers,
      minRate: c.minRate,
      maxRate: c.maxRate,
      rateStep: c.rateStep,
      maxEpochs: c.maxEpochs,
      rng: createRng(seed),
    };
  }

  async reset(opts: { seed?: number } = {}): Promise<ResetResult> {
    if (opts.seed !== undefined) this.rng = createRng(opts.seed);
    this.rates = Array<number>(this.config.numLayers).fill(this.config.initialRate);
    this.epoch = 0;
    this.done = false;
    const info = this.info(1.2);
    return { observation: this.observe(info), info };
  }

  async step(action: Action): Promise<StepResult> {
    if (this.done) throw new Error('TargetPathEnv.step: call reset() first');
    if (!this.actionSpace.contains(action))
      throw new Error(`TargetPathEnv.step: action ${JSON.stringify(action)} is not in the action space`);
    const c = this.config;
    this.rates = this.rates.map((rate, i) => {
      const a = action[i]!;
      const target =
        c.actionMode === 'discrete' ? rate + (a - 1) * c.rateStep : c.actionMode === 'continuous' ? rate + a : a;
      return round(Math.min(c.maxRate, Math.max(c.minRate, target)));
    });
    const t = this.epoch;
    const distance = this.rates.reduce((s, r) => s + Math.abs(r - c.target[t]!), 0) / this.rates.length;
    this.epoch += 1;
    const info = this.info(c.valLosses?.[t] ?? 1 - 0.05 * t + distance);
    const truncated = this.epoch >= c.maxEpochs;
    this.done = truncated;
    const reward = -distance + (c.rewardNoise > 0 ? c.rewardNoise * this.rng.normal() : 0);
    return { observation: this.observe(info), reward, terminated: false, truncated, info };
  }

  dispose(): void {}

  private info(valLoss: number): StepInfo {
    return {
      epoch: this.epoch,
      trainLoss: valLoss * 0.9,
      trainLossStd: 0.01,
      trainAcc: 0.5,
      valLoss,
      valAcc: 0.5,
      rates: [...this.rates],
      diverged: false,
    };
  }

  private observe(info: StepInfo): number[] {
    return [Math.min(10, Math.max(0, info.valLoss)), ...this.rates, this.epoch / this.config.maxEpochs];
  }
}
