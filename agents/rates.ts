/**
 * Rates ↔ actions, shared by every agent.
 *
 * Agents that think in rates (constant, schedule, plateau) say which rates they want and `towardRates`
 * turns that into an action of the run's ActionMode. Bandits choose among a fixed set of actions per
 * layer, their arms: `armValues` lists them for each mode.
 */
import { ConfigError } from '../src/core/errors.js';
import { Box } from '../src/core/spaces.js';
import type { Action, AgentContext, StepInfo } from '../src/core/types.js';

/** Discrete actions, as DropoutEnv reads them. */
export const DOWN = 0;
export const KEEP = 1;
export const UP = 2;

/** More arms than this in absolute mode means --rate-step is far too fine for a bandit to explore. */
export const MAX_ARMS = 1001;

export const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** Rounds to 1e-9 as DropoutEnv does, so repeated ±δ steps land on the grid (0.3 − 0.05 is 0.25, not 0.24999…). */
export const roundRate = (rate: number): number => Math.round(rate * 1e9) / 1e9;

/** The action space as a Box (continuous and absolute modes). */
export function boxOf(ctx: AgentContext): Box {
  if (!(ctx.actionSpace instanceof Box)) {
    throw new Error(`${ctx.actionMode} actions need a Box action space, got ${ctx.actionSpace.kind}`);
  }
  return ctx.actionSpace;
}

/**
 * The action that moves each layer's rate toward `target` (rates are first clamped to [minRate, maxRate]):
 * - absolute: the target rate itself;
 * - continuous: the delta target − current, clipped to the Box bounds [−δmax, δmax];
 * - discrete: one step of `rateStep` toward the target, or keep when within rateStep/2 of it.
 */
export function towardRates(target: readonly number[], info: StepInfo, ctx: AgentContext): Action {
  if (target.length !== ctx.numLayers)
    throw new Error(`towardRates: ${target.length} target rates for ${ctx.numLayers} layers`);
  if (ctx.actionMode === 'discrete') {
    return target.map((want, layer) => {
      const diff = clamp(want, ctx.minRate, ctx.maxRate) - currentRate(info, layer);
      // The 1e-9 absorbs float error: a rate exactly half a step away is kept.
      if (Math.abs(diff) <= ctx.rateStep / 2 + 1e-9) return KEEP;
      return diff > 0 ? UP : DOWN;
    });
  }
  const { low, high } = boxOf(ctx);
  return target.map((want, layer) => {
    const goal = clamp(want, ctx.minRate, ctx.maxRate);
    const value = ctx.actionMode === 'absolute' ? goal : goal - currentRate(info, layer);
    return clamp(roundRate(value), low[layer]!, high[layer]!);
  });
}

/** A rate the user asked for (--rate, a schedule file) must be one the env can set; a ConfigError otherwise. */
export function checkTargetRate(what: string, rate: number, ctx: AgentContext): number {
  if (rate < ctx.minRate - 1e-12 || rate > ctx.maxRate + 1e-12) {
    throw new ConfigError(`${what} = ${rate} is outside [--min-rate, --max-rate] = [${ctx.minRate}, ${ctx.maxRate}]`);
  }
  return rate;
}

function currentRate(info: StepInfo, layer: number): number {
  const rate = info.rates[layer];
  if (rate === undefined) throw new Error(`info.rates has ${info.rates.length} entries, layer ${layer} asked for`);
  return rate;
}

/** Rates from `min` to `max` by `step` (both ends included; `max` is appended when off the grid). */
export function rateGrid(min: number, max: number, step: number): number[] {
  if (!(step > 0) || max - min < 1e-9) return max - min < 1e-9 ? [min] : [min, max];
  const steps = Math.floor((max - min) / step + 1e-9);
  if (steps + 1 > MAX_ARMS) {
    throw new ConfigError(
      `--rate-step ${step} makes ${steps + 1} rates in [${min}, ${max}]; a bandit in absolute mode allows at most ${MAX_ARMS} arms`,
    );
  }
  const grid = Array.from({ length: steps + 1 }, (_, i) => roundRate(min + i * step));
  if (grid[steps]! < max - 1e-9) grid.push(max);
  return grid;
}

/**
 * The arms of one layer, as action values:
 * - discrete: [down, keep, up] = [0, 1, 2];
 * - continuous: [−δmax, 0, +δmax] from the Box bounds;
 * - absolute: the rate grid minRate, minRate + rateStep, …, maxRate.
 */
export function armValues(ctx: AgentContext, layer: number): number[] {
  switch (ctx.actionMode) {
    case 'discrete':
      return [DOWN, KEEP, UP];
    case 'continuous': {
      const { low, high } = boxOf(ctx);
      const lo = low[layer]!;
      const hi = high[layer]!;
      return [lo, lo <= 0 && hi >= 0 ? 0 : (lo + hi) / 2, hi];
    }
    case 'absolute': {
      const { low, high } = boxOf(ctx);
      return rateGrid(ctx.minRate, ctx.maxRate, ctx.rateStep).map((r) => clamp(r, low[layer]!, high[layer]!));
    }
  }
}
