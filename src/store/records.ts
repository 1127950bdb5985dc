/**
 * The records of a run log (src/core/run-log.ts) built from what a run produced: no file is touched, so
 * the run writer (src/store/run-writer.ts) and the browser's in-memory log (src/store/memory-log.ts)
 * write the same records.
 */
import { bestEpisode, type EpisodeRecord, type RunSummary, type StepRecord } from '../core/run-log.js';
import type { Transition } from '../core/types.js';

/** A transition as steps.jsonl records it; `withTest`: the env measured the test split at every epoch. */
export function stepRecord(t: Transition, withTest = false): StepRecord {
  const { info } = t;
  const test = withTest && info.testAcc !== undefined ? { testAcc: info.testAcc, testLoss: info.testLoss! } : {};
  return {
    episode: t.episode,
    epoch: t.epoch,
    rates: info.rates,
    action: t.action,
    reward: t.reward,
    trainLoss: info.trainLoss,
    trainLossStd: info.trainLossStd,
    trainAcc: info.trainAcc,
    valLoss: info.valLoss,
    valAcc: info.valAcc,
    ...test,
    terminated: t.terminated,
    truncated: t.truncated,
    observation: t.nextObservation,
    stepMs: info.stepMs ?? 0,
  };
}

/**
 * The run's summary from its finished episodes (at least one). `epochsTrained` counts every epoch,
 * including those of an episode a stop cut short.
 */
export function summarize(
  agent: string,
  episodes: readonly EpisodeRecord[],
  epochsTrained: number,
  interrupted: boolean,
  wallMs: number,
): RunSummary {
  const best = bestEpisode(episodes);
  const first = episodes[0];
  const last = episodes[episodes.length - 1];
  if (!best || !first || !last) throw new Error('summarize: no finished episode');
  const brief = (e: EpisodeRecord) => ({
    episode: e.episode,
    valAcc: e.valAcc,
    testAcc: e.testAcc,
    ...(e.selected ? { selected: e.selected } : {}),
  });
  return {
    agent,
    episodes: episodes.length,
    totalEpochs: epochsTrained,
    best: { ...brief(best), schedule: best.schedule },
    first: brief(first),
    last: brief(last),
    interrupted,
    wallMs,
  };
}
