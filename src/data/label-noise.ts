/**
 * Label noise: a seeded fraction η of the training and validation labels replaced by another class, the
 * common real case of crowd-sourced or weak labels. The test split is never touched: it measures the truth.
 *
 *   symmetric  each corrupted label becomes a uniformly drawn OTHER class
 *   pair       each corrupted label of class c becomes its fixed partner (c + 1) mod K (class-dependent noise)
 *
 * Each sample is corrupted independently with probability η (so the corrupted count is binomial), from a
 * stream of its own per split, derived from the data seed: the same seed gives the same corruption.
 */
import { checkNumber, checkOneOf } from '../core/check.js';
import { createRng, type Rng } from '../core/rng.js';

export const LABEL_NOISE_KINDS = ['symmetric', 'pair'] as const;
export type LabelNoiseKind = (typeof LABEL_NOISE_KINDS)[number];

export interface LabelNoiseConfig {
  /** Fraction of training and validation labels corrupted, in [0, 1). @default 0 */
  labelNoise: number;
  /** @default 'symmetric' */
  labelNoiseKind: LabelNoiseKind;
}

export const LABEL_NOISE_DEFAULTS: LabelNoiseConfig = { labelNoise: 0, labelNoiseKind: 'symmetric' };

/** The resolved noise options; a ConfigError names `--label-noise` / `--label-noise-kind`. */
export function checkLabelNoise(partial: Partial<LabelNoiseConfig>): LabelNoiseConfig {
  return {
    labelNoise: checkNumber('--label-noise', partial.labelNoise ?? 0, 0, 1, true),
    labelNoiseKind: checkOneOf('--label-noise-kind', partial.labelNoiseKind ?? 'symmetric', LABEL_NOISE_KINDS),
  };
}

/** The class a corrupted label of class `c` becomes under the pair variant. */
export const pairPartner = (c: number, numClasses: number): number => (c + 1) % numClasses;

/** A corrupted copy of `labels`: each, with probability η, becomes another class (never its own). */
export function corruptLabels(
  labels: Int32Array,
  numClasses: number,
  config: LabelNoiseConfig,
  rng: Rng,
): { labels: Int32Array; corrupted: number } {
  const out = Int32Array.from(labels);
  let corrupted = 0;
  for (let i = 0; i < out.length; i++) {
    // one draw per sample for the coin and one for the class, whatever the kind: streams stay aligned
    const flip = rng.next() < config.labelNoise;
    const offset = 1 + rng.int(numClasses - 1);
    if (!flip) continue;
    const c = out[i]!;
    out[i] = config.labelNoiseKind === 'pair' ? pairPartner(c, numClasses) : (c + offset) % numClasses;
    corrupted += 1;
  }
  return { labels: out, corrupted };
}

/** The stream that corrupts one split of the data seeded `seed`. */
export const labelNoiseRng = (seed: number, split: 'train' | 'val'): Rng => createRng(`label-noise:${seed}:${split}`);
