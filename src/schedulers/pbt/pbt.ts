/**
 * pbt: population based training (Jaderberg et al. 2017), as Ray Tune's PopulationBasedTraining does
 * it. P members train side by side, each at its own rates. Every --interval epochs they are ranked by
 * validation accuracy; each member of the bottom quantile copies the weights, optimizer state and rates
 * of a random member of the top quantile (exploit), then changes each rate (explore): with probability
 * --resample-probability a fresh draw from [min, max], otherwise ×0.8 or ×1.2, kept within [min, max].
 *
 * This file is the rule: config and the exploit/explore step, pure and seeded. The population itself
 * (members trained on the worker pool, checkpoints, the run log) is run-pbt.ts. PBT is a scheduler over
 * trials, not an agent: `--agent pbt` reaches it through schedulerFor (../index.ts).
 */
import { checkInt, checkKnownKeys, checkNumber, checkRate } from '../../core/check.js';
import { ConfigError } from '../../core/errors.js';
import type { OptionSpec } from '../../core/options.js';
import type { Rng } from '../../core/rng.js';

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
}

/** The standard experiment's grid: a population of its size starts where the grid's runs are. */
export const DEFAULT_POPULATION_RATES = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7];

export const DEFAULTS: Omit<PbtConfig, 'population' | 'populationRates'> = {
  interval: 2,
  quantile: 0.25,
  resampleProbability: 0.25,
  workers: 1,
};

/** Ray Tune's perturbation factors. */
export const PERTURBATION_FACTORS = [0.8, 1.2] as const;

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
    help: 'pbt: chance explore redraws a rate instead of ×0.8/×1.2',
  },
  {
    key: 'populationRates',
    flag: '--population-rates',
    type: 'numbers',
    default: DEFAULT_POPULATION_RATES,
    help: 'pbt: starting rate of each member (another --population: evenly over [min, max])',
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
  bounds: { minRate: number; maxRate: number } = { minRate: 0, maxRate: 0.8 },
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
  };
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
}

const round = (r: number) => Math.round(r * 1e4) / 1e4;

/** Each rate: redrawn from [min, max] with the resample probability, else ×0.8 or ×1.2 and clipped. */
export function explore(
  rates: readonly number[],
  rng: Rng,
  b: ExploreBounds,
): { rates: number[]; resampled: boolean[] } {
  const resampled: boolean[] = [];
  const next = rates.map((rate) => {
    const redraw = rng.next() < b.resampleProbability;
    resampled.push(redraw);
    const value = redraw
      ? b.minRate + rng.next() * (b.maxRate - b.minRate)
      : rate * PERTURBATION_FACTORS[rng.int(PERTURBATION_FACTORS.length)]!;
    return round(Math.min(b.maxRate, Math.max(b.minRate, value)));
  });
  return { rates: next, resampled };
}

/**
 * One perturbation step. Members are ranked by validation accuracy (a diverged member, NaN, ranks
 * last; ties go to the lower index); each of the bottom quantile, in member order, copies a random
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
