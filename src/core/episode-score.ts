/**
 * The one number a learner credits a whole episode with (the bandits' arms): the selection protocols'
 * `final` score (src/core/select.ts), the validation accuracy after the last epoch trained. An episode
 * that diverged scores what it reached, NaN as 0, and one with no trained epoch scores 0.
 */
import { episodeScore as protocolScore } from './select.js';
import type { StepInfo } from './types.js';

/** The score of an episode from its steps in order (each with the StepInfo after it); 0 when it has none. */
export function episodeScore(steps: readonly { info: Pick<StepInfo, 'valAcc'> }[]): number {
  if (steps.length === 0) return 0;
  // Each step is one epoch trained, in order: the protocol reads them as epochs 1..n.
  const epochs = steps.map((s, i) => ({ epoch: i + 1, valAcc: s.info.valAcc }));
  const { score } = protocolScore(epochs, { select: 'final' });
  return Number.isFinite(score) ? score : 0;
}
