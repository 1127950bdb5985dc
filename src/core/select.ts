/**
 * Selection protocols: how an episode (a training run) is scored when methods pick and compare episodes.
 * One rule for every method (grid, schedules, bandits, PBT, one-run methods) and for the verdict.
 *
 *   final       the last epoch's validation accuracy; test accuracy of the last weights (the rule before protocols)
 *   smoothed    the mean validation accuracy of the last `window` epochs; test accuracy of the last weights
 *   best-epoch  Keras's EarlyStopping(restore_best_weights=True): the best epoch's validation accuracy, and the
 *               test accuracy those weights gave (the env measured it at that epoch: that IS the restored model)
 */
import { checkInt, checkOneOf } from './check.js';
import { ConfigError } from './errors.js';

export const SELECT_PROTOCOLS = ['final', 'smoothed', 'best-epoch'] as const;
export type SelectName = (typeof SELECT_PROTOCOLS)[number];

export interface SelectProtocol {
  /** @default 'final' */
  select: SelectName;
  /** smoothed only: the epochs averaged, counted back from the last. @default 3 */
  selectWindow: number;
}

export const SELECT_DEFAULTS: SelectProtocol = { select: 'final', selectWindow: 3 };

/** The fully resolved protocol, or a ConfigError naming `--select` / `--select-window`. */
export function checkSelect(partial: Partial<SelectProtocol> = {}): SelectProtocol {
  return {
    select: checkOneOf('--select', partial.select ?? SELECT_DEFAULTS.select, SELECT_PROTOCOLS),
    selectWindow: checkInt('--select-window', partial.selectWindow ?? SELECT_DEFAULTS.selectWindow, 1),
  };
}

/** What one epoch of an episode offers a protocol: a StepRecord, a StepInfo or a Transition's info all fit. */
export interface EpochScores {
  epoch: number;
  valAcc: number;
  /** Test accuracy of the weights after this epoch; needed by best-epoch only (and never shown to agents). */
  testAcc?: number;
}

/** An episode under a protocol: its score (what methods rank by) and the test accuracy of the weights it keeps. */
export interface EpisodeScore {
  /** A validation accuracy (mean of the window for smoothed). */
  score: number;
  /** Test accuracy of the selected weights; NaN when the steps did not record it. */
  testAcc: number;
  /** The epoch whose weights are kept: the last for final and smoothed, the best for best-epoch. */
  epoch: number;
}

/**
 * The episode's score under `protocol`, from its epochs in order (epoch 0, before training, is ignored).
 * `finalTestAcc` is the episode's own end-of-episode test accuracy (EpisodeRecord.testAcc), used by final
 * and smoothed when the last step did not carry it. best-epoch ties go to the earliest epoch (the fewest
 * epochs trained, as Keras's `>` comparison keeps the first best).
 */
export function episodeScore(
  steps: readonly EpochScores[],
  protocol: Partial<SelectProtocol> = SELECT_DEFAULTS,
  finalTestAcc?: number,
): EpisodeScore {
  const trained = steps.filter((s) => s.epoch > 0);
  const last = trained[trained.length - 1];
  if (!last) throw new Error('episodeScore: the episode has no trained epoch');
  const select = protocol.select ?? SELECT_DEFAULTS.select;
  const lastTest = last.testAcc ?? finalTestAcc ?? Number.NaN;
  if (select === 'final') return { score: last.valAcc, testAcc: lastTest, epoch: last.epoch };
  if (select === 'smoothed') {
    const window = trained.slice(-(protocol.selectWindow ?? SELECT_DEFAULTS.selectWindow));
    const score = window.reduce((sum, s) => sum + s.valAcc, 0) / window.length;
    return { score, testAcc: lastTest, epoch: last.epoch };
  }
  if (select !== 'best-epoch') throw new ConfigError(`--select must be one of ${SELECT_PROTOCOLS.join(', ')}`);
  let best = trained[0]!;
  for (const s of trained) if (s.valAcc > best.valAcc) best = s;
  const testAcc = best === last ? lastTest : (best.testAcc ?? Number.NaN);
  return { score: best.valAcc, testAcc, epoch: best.epoch };
}
