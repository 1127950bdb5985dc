/**
 * thompson: Gaussian Thompson sampling with unknown mean and unknown noise (a Normal-Gamma posterior).
 *
 * Each arm's rewards are modelled as N(μ, 1/τ) with both μ and the precision τ unknown, under the
 * reference prior p(μ, τ) ∝ 1/τ (flat in μ, scale-free in τ), so no reward scale has to be guessed:
 * DropoutEnv's delta rewards are ~0.5 at the first epoch and ~0.01 later. After n pulls with mean x̄ and
 * S = Σ (r − x̄)², the posterior is
 *     τ ~ Gamma(shape (n − 1)/2, rate S/2),   μ | τ ~ N(x̄, 1/(n τ))
 * (marginally μ ~ x̄ + sqrt(S / (n (n − 1))) · t_{n−1}). It is proper from n = 2 on, so every arm is
 * pulled twice first; then each layer, each step, draws one μ per arm and takes the largest.
 * Arms, arm sets (--per-epoch), crediting and saving: see bandit-table.ts.
 */
import { checkKnownKeys } from '../src/core/check.js';
import type { OptionSpec } from '../src/core/options.js';
import type { Rng } from '../src/core/rng.js';
import {
  argmax,
  ARM_SET_DEFAULTS,
  ARM_SET_OPTIONS,
  checkArmSet,
  TableBandit,
  type ArmSetConfig,
  underPulled,
  type ArmStats,
  type PickArm,
} from './bandit-table.js';
import { ALL_MODES, checkActionMode, type AgentEntry } from './entry.js';

// config

/** Thompson has no options of its own: only how its arm sets are laid out. */
export type ThompsonConfig = ArmSetConfig;

export const THOMPSON_DEFAULTS: ThompsonConfig = { ...ARM_SET_DEFAULTS };

export const THOMPSON_OPTIONS: OptionSpec[] = [...ARM_SET_OPTIONS];

/** Pulls of every arm before sampling: the posterior is proper from 2 on. */
export const MIN_PULLS = 2;

export function checkThompsonConfig(partial: Partial<ThompsonConfig>): ThompsonConfig {
  checkKnownKeys('thompson', partial, Object.keys(THOMPSON_DEFAULTS));
  const c = { ...THOMPSON_DEFAULTS, ...partial };
  return { ...checkArmSet(c) };
}

// posterior sampling

/** Gamma(shape, rate 1) by Marsaglia & Tsang (2000); shape < 1 through Gamma(shape + 1) · U^(1/shape). */
export function sampleGamma(shape: number, rng: Rng): number {
  if (shape < 1) return sampleGamma(shape + 1, rng) * Math.pow(1 - rng.next(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const z = rng.normal();
    const v = (1 + c * z) ** 3;
    if (v <= 0) continue;
    const u = 1 - rng.next(); // in (0, 1], so log is finite
    if (Math.log(u) < 0.5 * z * z + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** One draw of an arm's mean from its Normal-Gamma posterior (n ≥ 2). */
export function sampleMean(arm: ArmStats, rng: Rng): number {
  // The 1e-300 keeps the rate positive when every reward was identical: τ is then huge and μ ≈ x̄.
  const tau = sampleGamma((arm.n - 1) / 2, rng) / (arm.m2 / 2 + 1e-300);
  return arm.mean + rng.normal() / Math.sqrt(arm.n * tau);
}

// act: the pick rule

export const pickThompson: PickArm = (arms, rng) =>
  underPulled(arms, MIN_PULLS, rng) ??
  argmax(
    arms.map((a) => sampleMean(a, rng)),
    rng,
  );

// registry entry

export const thompsonEntry: AgentEntry = {
  description: 'bandit: Gaussian Thompson sampling, unknown mean and noise (Normal-Gamma posterior)',
  options: THOMPSON_OPTIONS,
  defaultActionMode: 'discrete',
  supports: ALL_MODES,
  check: (options) => ({ ...checkThompsonConfig(options as Partial<ThompsonConfig>) }),
  create(options, ctx) {
    const c = checkThompsonConfig(options as Partial<ThompsonConfig>);
    checkActionMode('thompson', ctx, ALL_MODES);
    return new TableBandit('thompson', ctx, c, pickThompson);
  },
};
