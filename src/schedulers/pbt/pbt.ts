/**
 * pbt: population based training (Jaderberg et al. 2017), as Ray Tune's PopulationBasedTraining does
 * it. P members train side by side, each at its own per-layer rates (a Latin hypercube over the range of
 * --population-rates). Every --interval epochs after the burn-in (Ray's burn_in_period) they are ranked
 * by a smoothed score, the mean validation accuracy of their last --score-epochs epochs; each member of
 * the bottom quantile copies the weights and optimizer state of a random member of the top quantile
 * (exploit), with shuffle and mask streams of its own, then changes each rate (explore): with
 * probability --resample-probability a fresh draw from [min, max], otherwise a step of ±(½ to 1) ×
 * --perturbation, reflected into [min, max] (so a rate of 0 moves too).
 *
 * This file is the rule: config and the exploit/explore step, pure and seeded. The population itself
 * (members trained on the worker pool, checkpoints, the run log) is run-pbt.ts. PBT is a scheduler over
 * trials, not an agent: `--agent pbt` reaches it through schedulerFor (../index.ts).
 */
import { checkInt, checkKnownKeys, checkNumber, checkOneOf, checkRate } from '../../core/check.js';
import { ConfigError } from '../../core/errors.js';
import type { OptionSpec } from '../../core/options.js';
import type { Rng } from '../../core/rng.js';
import { latinHypercube } from '../sampling.js';

// config

export interface PbtConfig {
  /** Members trained side by side. @default the number of --population-rates (8) */
  population: number;
  /** Epochs between two exploit/explore steps. @default 2 */
  interval: number;
  /** Fraction of the population in the bottom quantile that copies, and in the top one it copies from. @default 0.25 */
  quantile: number;
  /** Probability that explore draws a rate afresh instead of perturbing it. @default 0.25 */
  resampleProbability: number;
  /**
   * Each member's rate (every layer) before the first exploit, one per member.
   * @default 0, 0.1, …, 0.7 (the standard grid) for 8 members; else evenly spaced over [min, max]
   */
  populationRates: number[];
  /** Threads the members train on (1: this thread). Results do not depend on it. @default 1 */
  workers: number;
  /** No exploit before the members have trained this many epochs (Ray's burn_in_period). @default round(E/3) */
  burnIn: number;
  /** Members are ranked on the mean validation accuracy of their last this many epochs. @default 3 */
  scoreEpochs: number;
  /** Largest additive step of explore; a step is ±U[½, 1] of it. @default 0.1 */
  perturbation: number;
  /**
   * Where members start: 'lhs', distinct per-layer rates (a seeded Latin hypercube over the range of
   * populationRates); 'grid', each member's populationRate on every layer (the grid's runs). @default 'lhs'
   */
  populationStart: PopulationStart;
}

export const POPULATION_STARTS = ['lhs', 'grid'] as const;
export type PopulationStart = (typeof POPULATION_STARTS)[number];

/** The standard experiment's grid: a population of its size starts where the grid's runs are. */
export const DEFAULT_POPULATION_RATES = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7];

export const DEFAULTS: Omit<PbtConfig, 'population' | 'populationRates' | 'burnIn'> = {
  interval: 2,
  quantile: 0.25,
  resampleProbability: 0.25,
  workers: 1,
  scoreEpochs: 3,
  perturbation: 0.1,
  populationStart: 'lhs',
};

/** The default burn-in: about a third of the run, before which early rankings reward fast (low-rate) learners. */
export const defaultBurnIn = (epochs: number) => Math.round(epochs / 3);

export const OPTIONS: OptionSpec[] = [
  {
    key: 'population',
    flag: '--population',
    type: 'int',
    default: DEFAULT_POPULATION_RATES.length,
    help: 'pbt: members trained side by side (or one per --population-rates)',
  },
  {
    key: 'interval',
    flag: '--interval',
    type: 'int',
    default: DEFAULTS.interval,
    help: 'pbt: epochs between exploit/explore steps',
  },
  {
    key: 'quantile',
    flag: '--quantile',
    type: 'number',
    default: DEFAULTS.quantile,
    help: 'pbt: bottom fraction that copies a top member',
  },
  {
    key: 'resampleProbability',
    flag: '--resample-probability',
    type: 'number',
    default: DEFAULTS.resampleProbability,
    help: 'pbt: chance explore redraws a rate instead of stepping it by ±--perturbation',
  },
  {
    key: 'perturbation',
    flag: '--perturbation',
    type: 'number',
    default: DEFAULTS.perturbation,
    help: 'pbt: largest additive step of explore (a step is ±½ to 1 of it, reflected into [min, max])',
  },
  {
    key: 'burnIn',
    flag: '--burn-in',
    type: 'int',
    default: undefined,
    help: 'pbt: no exploit before this epoch (default: a third of --epochs)',
  },
  {
    key: 'scoreEpochs',
    flag: '--score-epochs',
    type: 'int',
    default: DEFAULTS.scoreEpochs,
    help: 'pbt: rank members on the mean validation accuracy of their last this many epochs',
  },
  {
    key: 'populationStart',
    flag: '--population-start',
    type: 'string',
    default: DEFAULTS.populationStart,
    choices: POPULATION_STARTS,
    help: 'pbt: lhs: distinct per-layer rates over the range of --population-rates; grid: one tied rate each',
  },
  {
    key: 'populationRates',
    flag: '--population-rates',
    type: 'numbers',
    default: DEFAULT_POPULATION_RATES,
    help: "pbt: their range is where members start (lhs), or each member's tied rate (grid)",
  },
  {
    key: 'workers',
    flag: '--workers',
    type: 'int',
    default: DEFAULTS.workers,
    help: 'pbt: worker threads for the members (results do not depend on it)',
  },
];

/** Rates of a population of `n` over [min, max]: the standard grid when it fits, else evenly spaced. */
export function defaultPopulationRates(n: number, minRate: number, maxRate: number): number[] {
  if (n === DEFAULT_POPULATION_RATES.length && DEFAULT_POPULATION_RATES.every((r) => r >= minRate && r <= maxRate))
    return [...DEFAULT_POPULATION_RATES];
  if (n === 1) return [minRate];
  return Array.from({ length: n }, (_, i) => Math.round((minRate + ((maxRate - minRate) * i) / (n - 1)) * 1e4) / 1e4);
}

/** Checks the options; rates are checked against the env's [min, max] when the run is resolved. */
export function checkConfig(
  partial: Partial<PbtConfig>,
  bounds: { minRate: number; maxRate: number; maxEpochs?: number } = { minRate: 0, maxRate: 0.8 },
): PbtConfig {
  checkKnownKeys(
    'pbt',
    partial,
    OPTIONS.map((o) => o.key),
  );
  const given = partial.populationRates;
  const population = checkInt(
    '--population',
    partial.population ?? given?.length ?? DEFAULT_POPULATION_RATES.length,
    2,
    256,
  );
  if (given !== undefined && given.length !== population) {
    throw new ConfigError(
      `--population-rates needs one rate per member: ${population} for --population ${population}, got ${given.length}`,
    );
  }
  const rates = (given ?? defaultPopulationRates(population, bounds.minRate, bounds.maxRate)).map((r) =>
    checkNumber('--population-rates', r, bounds.minRate, bounds.maxRate),
  );
  return {
    population,
    interval: checkInt('--interval', partial.interval ?? DEFAULTS.interval, 1),
    quantile: checkNumber('--quantile', partial.quantile ?? DEFAULTS.quantile, 0, 0.5),
    resampleProbability: checkRate(
      '--resample-probability',
      partial.resampleProbability ?? DEFAULTS.resampleProbability,
    ),
    populationRates: rates,
    workers: checkInt('--workers', partial.workers ?? DEFAULTS.workers, 1, 256),
    burnIn: checkInt(
      '--burn-in',
      partial.burnIn ?? defaultBurnIn(bounds.maxEpochs ?? 0),
      0,
      bounds.maxEpochs ?? Number.MAX_SAFE_INTEGER,
    ),
    scoreEpochs: checkInt('--score-epochs', partial.scoreEpochs ?? DEFAULTS.scoreEpochs, 1),
    perturbation: checkNumber(
      '--perturbation',
      partial.perturbation ?? DEFAULTS.perturbation,
      0,
      bounds.maxRate - bounds.minRate,
    ),
    populationStart: checkOneOf(
      '--population-start',
      partial.populationStart ?? DEFAULTS.populationStart,
      POPULATION_STARTS,
    ),
  };
}

/**
 * Each member's starting rates, one per layer: with 'lhs' a Latin hypercube over [lo, hi], the range of
 * `rates` (each layer's P values fall one in each of P equal strata, in an order of its own), so that
 * every member starts where no grid run does; with 'grid', member m's rates[m] on every layer.
 */
export function startingRates(rates: readonly number[], layers: number, start: PopulationStart, rng: Rng): number[][] {
  if (start === 'grid') return rates.map((rate) => Array<number>(layers).fill(rate));
  return latinHypercube(rates.length, layers, Math.min(...rates), Math.max(...rates), rng);
}

/**
 * A member's score at a perturbation step: the mean validation accuracy of its last k epochs (a
 * smoothed score, less noisy than one epoch's); NaN when one of them diverged.
 */
export function smoothedValAcc(valAccs: readonly number[], k: number): number {
  const last = valAccs.slice(-k);
  if (last.length === 0) return Number.NaN;
  return last.reduce((s, v) => s + v, 0) / last.length;
}

// exploit and explore

/** Members per quantile, as Ray Tune counts them: ⌈n·fraction⌉, at most half the population. */
export function quantileSize(n: number, fraction: number): number {
  return Math.min(Math.ceil(n * fraction), Math.floor(n / 2));
}

/** What one bottom member does at a perturbation step. */
export interface Exploit {
  member: number;
  /** The top member whose checkpoint it copies. */
  from: number;
  /** Its own rates before, and the rates it goes on with (the source's, explored). */
  ratesBefore: number[];
  rates: number[];
  /** Per layer: drawn afresh (true) or perturbed (false). */
  resampled: boolean[];
}

export interface ExploreBounds {
  minRate: number;
  maxRate: number;
  resampleProbability: number;
  perturbation: number;
}

const round = (r: number) => Math.round(r * 1e4) / 1e4;

/** `value` reflected at the bounds back into [min, max]: a step down from the floor goes up as far. */
function reflect(value: number, min: number, max: number): number {
  const v = value < min ? 2 * min - value : value > max ? 2 * max - value : value;
  return Math.min(max, Math.max(min, v));
}

/**
 * Each rate: redrawn from [min, max] with the resample probability, else moved by ±U[½, 1] ×
 * perturbation and reflected into [min, max]. Additive, so a rate of 0 moves, and a low rate moves as
 * far as a high one (×0.8/×1.2 could not move 0, and moved 0.2 by only 0.04).
 */
export function explore(
  rates: readonly number[],
  rng: Rng,
  b: ExploreBounds,
): { rates: number[]; resampled: boolean[] } {
  const resampled: boolean[] = [];
  const next = rates.map((rate) => {
    const redraw = rng.next() < b.resampleProbability;
    resampled.push(redraw);
    if (redraw) return round(b.minRate + rng.next() * (b.maxRate - b.minRate));
    const sign = rng.next() < 0.5 ? -1 : 1;
    const step = b.perturbation * (0.5 + 0.5 * rng.next());
    return round(reflect(rate + sign * step, b.minRate, b.maxRate));
  });
  return { rates: next, resampled };
}

/**
 * One perturbation step. Members are ranked by their score (`valAcc`: the smoothed score; a diverged
 * member, NaN, ranks last; ties go to the lower index); each of the bottom quantile, in member order, copies a random
 * top member and explores from its rates.
 */
export function exploitAndExplore(
  members: readonly { valAcc: number; rates: readonly number[] }[],
  rng: Rng,
  c: ExploreBounds & { quantile: number },
): Exploit[] {
  const score = (m: number) => (Number.isNaN(members[m]!.valAcc) ? -Infinity : members[m]!.valAcc);
  const ranked = members.map((_, m) => m).sort((a, b) => score(b) - score(a) || a - b);
  const k = quantileSize(members.length, c.quantile);
  if (k === 0) return [];
  const top = ranked.slice(0, k);
  const bottom = ranked.slice(-k).sort((a, b) => a - b);
  return bottom.map((member) => {
    const from = top[rng.int(top.length)]!;
    const { rates, resampled } = explore(members[from]!.rates, rng, c);
    return { member, from, ratesBefore: [...members[member]!.rates], rates, resampled };
  });
}
