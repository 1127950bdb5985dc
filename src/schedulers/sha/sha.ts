/**
 * sha: successive halving (Jamieson & Talwalkar 2016; Optuna's SuccessiveHalvingPruner, the rung
 * rule of Ray Tune's ASHA), synchronous. Many candidates train to the first rung (the grace period);
 * the best 1/η by a smoothed validation score continue from their checkpoints to the next rung, and so
 * on up to --epochs. Rungs are E/η^k above the grace period (and the grace period itself), so the last
 * rung is the whole run. The number of candidates is the most the --budget of epochs pays for.
 *
 * Candidates come from two families: static per-layer rates (a Latin hypercube over --rate-range),
 * and parametric schedules p0 → p1 from epoch t0 (per layer, or tied across layers).
 *
 * This file is the rule: config, rungs, cost, candidates and promotion, pure and seeded. run-sha.ts
 * trains it over an executor.
 */
import { checkInt, checkKnownKeys, checkNumber } from '../../core/check.js';
import { ConfigError } from '../../core/errors.js';
import type { OptionSpec } from '../../core/options.js';
import type { Rng } from '../../core/rng.js';
import { latinHypercube } from '../sampling.js';

// config

export interface ShaConfig {
  /** Epochs the whole search may train, every candidate's counted. @default 8 × --epochs (a grid of 8) */
  budget: number;
  /** Reduction factor: the best 1/η of a rung go on to the next. @default 3 */
  eta: number;
  /** The first rung, in epochs: no candidate stops before it (where memorization sets in). @default round(E/3) */
  grace: number;
  /** Candidates at the first rung. @default the most that --budget pays for */
  candidates: number;
  /** The range candidates' rates are drawn from, [lo, hi]. @default [--min-rate, --max-rate] */
  rateRange: number[];
  /** Fraction of the candidates that are schedules p0 → p1 from t0 (the others static per-layer rates). @default 0.5 */
  scheduleShare: number;
  /** A candidate's score at a rung: mean validation accuracy of its last this many epochs. @default 3 */
  scoreEpochs: number;
  /** Threads the candidates train on (1: this thread). Results do not depend on it. @default 1 */
  workers: number;
}

export const DEFAULTS = { eta: 3, scheduleShare: 0.5, scoreEpochs: 3, workers: 1, gridSize: 8 } as const;

export const OPTIONS: OptionSpec[] = [
  {
    key: 'budget',
    flag: '--budget',
    type: 'int',
    default: undefined,
    help: 'sha: epochs the whole search may train (default: 8 × --epochs, a grid of 8 rates)',
  },
  { key: 'eta', flag: '--eta', type: 'int', default: DEFAULTS.eta, help: 'sha: the best 1/eta of each rung go on' },
  {
    key: 'grace',
    flag: '--grace',
    type: 'int',
    default: undefined,
    help: 'sha: epochs of the first rung, before any candidate stops (default: a third of --epochs)',
  },
  {
    key: 'candidates',
    flag: '--candidates',
    type: 'int',
    default: undefined,
    help: 'sha: candidates at the first rung (default: the most --budget pays for)',
  },
  {
    key: 'rateRange',
    flag: '--rate-range',
    type: 'numbers',
    default: undefined,
    help: "sha: lo,hi of the candidates' rates (default: --min-rate,--max-rate)",
  },
  {
    key: 'scheduleShare',
    flag: '--schedule-share',
    type: 'number',
    default: DEFAULTS.scheduleShare,
    help: 'sha: fraction of candidates that are schedules p0 → p1 from epoch t0 (the rest static per-layer rates)',
  },
  {
    key: 'scoreEpochs',
    flag: '--score-epochs',
    type: 'int',
    default: DEFAULTS.scoreEpochs,
    help: 'sha: rank candidates on the mean validation accuracy of their last this many epochs',
  },
  {
    key: 'workers',
    flag: '--workers',
    type: 'int',
    default: DEFAULTS.workers,
    help: 'sha: worker threads for the candidates (results do not depend on it)',
  },
];

// rungs and cost

/** The rungs' epochs, ascending: the grace period, then E/η^k above it, the last being E. */
export function rungEpochs(epochs: number, grace: number, eta: number): number[] {
  const above: number[] = [];
  for (let r = epochs; r > grace; r /= eta) above.push(Math.round(r));
  return [...new Set([grace, ...above.reverse()])].filter((r) => r >= grace).sort((a, b) => a - b);
}

/** Candidates at each rung: n, then ⌊·/η⌋ (at least 1). */
export function rungSizes(candidates: number, rungs: number, eta: number): number[] {
  const sizes = [candidates];
  while (sizes.length < rungs) sizes.push(Math.max(1, Math.floor(sizes.at(-1)! / eta)));
  return sizes;
}

/** Epochs trained by `candidates` through `rungs` (each promoted one continues, never retrains). */
export function halvingCost(candidates: number, rungs: readonly number[], eta: number): number {
  const sizes = rungSizes(candidates, rungs.length, eta);
  return rungs.reduce((sum, r, k) => sum + sizes[k]! * (r - (k === 0 ? 0 : rungs[k - 1]!)), 0);
}

/** The most candidates whose halving fits the budget (0 if not even one does). */
export function candidatesFor(budget: number, rungs: readonly number[], eta: number): number {
  let n = 0;
  while (halvingCost(n + 1, rungs, eta) <= budget) n += 1;
  return n;
}

export function checkConfig(
  partial: Partial<ShaConfig>,
  env: { minRate: number; maxRate: number; maxEpochs: number },
): ShaConfig {
  checkKnownKeys(
    'sha',
    partial,
    OPTIONS.map((o) => o.key),
  );
  const epochs = env.maxEpochs;
  const eta = checkInt('--eta', partial.eta ?? DEFAULTS.eta, 2, 100);
  const grace = checkInt('--grace', partial.grace ?? Math.max(1, Math.round(epochs / 3)), 1, epochs);
  const budget = checkInt('--budget', partial.budget ?? DEFAULTS.gridSize * epochs, 1);
  const rungs = rungEpochs(epochs, grace, eta);
  const most = candidatesFor(budget, rungs, eta);
  if (most < 2)
    throw new ConfigError(
      `--budget ${budget} pays for ${most} candidate${most === 1 ? '' : 's'} through rungs ${rungs.join(', ')}: successive halving needs at least 2 (a budget of ${halvingCost(2, rungs, eta)} or more)`,
    );
  const candidates = checkInt('--candidates', partial.candidates ?? most, 2, most);
  const range = partial.rateRange ?? [env.minRate, env.maxRate];
  if (!Array.isArray(range) || range.length !== 2)
    throw new ConfigError(`--rate-range must be two rates lo,hi, got ${JSON.stringify(range)}`);
  const lo = checkNumber('--rate-range', range[0], env.minRate, env.maxRate);
  const hi = checkNumber('--rate-range', range[1], lo, env.maxRate);
  return {
    budget,
    eta,
    grace,
    candidates,
    rateRange: [lo, hi],
    scheduleShare: checkNumber('--schedule-share', partial.scheduleShare ?? DEFAULTS.scheduleShare, 0, 1),
    scoreEpochs: checkInt('--score-epochs', partial.scoreEpochs ?? DEFAULTS.scoreEpochs, 1),
    workers: checkInt('--workers', partial.workers ?? DEFAULTS.workers, 1, 256),
  };
}

// candidates

/** One candidate: rates p0 for epochs 1 … t0, then p1 (a static candidate has p1 = p0, t0 = E). */
export interface Candidate {
  family: 'static' | 'schedule';
  p0: number[];
  p1: number[];
  /** The last epoch at p0. */
  t0: number;
}

/** The rates of epoch `epoch` (from 1). */
export const ratesAt = (c: Candidate, epoch: number): number[] => (epoch <= c.t0 ? c.p0 : c.p1);

const round = (r: number) => Math.round(r * 1e4) / 1e4;

/**
 * The candidates, static ones first: static per-layer rates from a Latin hypercube over [lo, hi];
 * schedules with p0 and p1 drawn in [lo, hi] (tied across layers for half of them, by a coin) and t0
 * in 1 … E−1.
 */
export function drawCandidates(c: ShaConfig, layers: number, epochs: number, rng: Rng): Candidate[] {
  const [lo, hi] = c.rateRange as [number, number];
  const schedules = epochs < 2 ? 0 : Math.round(c.candidates * c.scheduleShare);
  const statics = latinHypercube(c.candidates - schedules, layers, lo, hi, rng).map((rates): Candidate => ({
    family: 'static',
    p0: rates,
    p1: rates,
    t0: epochs,
  }));
  const draw = () => round(lo + (hi - lo) * rng.next());
  const scheduled = Array.from({ length: schedules }, (): Candidate => {
    const tied = rng.next() < 0.5;
    const rates = () => (tied ? Array<number>(layers).fill(draw()) : Array.from({ length: layers }, draw));
    const p0 = rates();
    const p1 = rates();
    return { family: 'schedule', p0, p1, t0: 1 + rng.int(epochs - 1) };
  });
  return [...statics, ...scheduled];
}

/** The candidates that go on: the best ⌊n/η⌋ (at least 1) by score, NaN last, ties to the lower index; in index order. */
export function promote(scores: readonly number[], eta: number): number[] {
  const score = (i: number) => (Number.isNaN(scores[i]!) ? -Infinity : scores[i]!);
  const ranked = scores.map((_, i) => i).sort((a, b) => score(b) - score(a) || a - b);
  return ranked.slice(0, Math.max(1, Math.floor(scores.length / eta))).sort((a, b) => a - b);
}
