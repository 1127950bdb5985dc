/**
 * The one number an episode is judged by, wherever a learner credits a whole episode (the bandits'
 * arms today). Today: the validation accuracy after the last epoch trained (an episode that diverged
 * scores what it reached, NaN as 0). The selection protocols (best epoch, smoothed) plug in here.
 */
import type { StepInfo } from './types.js';

/** The score of an episode from its steps in order (each with the StepInfo after it); 0 when it has none. */
export function episodeScore(steps: readonly { info: Pick<StepInfo, 'valAcc'> }[]): number {
  const last = steps[steps.length - 1]?.info.valAcc;
  return last === undefined || !Number.isFinite(last) ? 0 : last;
}
