/**
 * Successive halving over an executor (the rule is sha.ts): the `sha` TrialScheduler.
 *
 * Rung by rung, every surviving candidate trains from where it stands to the rung's epoch, as one or
 * two segments (src/run/segment.ts; two when its schedule switches rates inside the rung), all of a
 * rung's candidates at once on the executor. When all are back, the coordinator logs them in candidate
 * order (so any number of workers writes the same files), scores them and promotes the best 1/η, which
 * continue from their own checkpoints: no epoch is trained twice. Every candidate starts from the same
 * env seed (episode 1 of the run seed: the grid's initial weights and shuffles), so candidates differ
 * only by their rates.
 *
 * The run folder is an ordinary run log, candidates in place of episodes:
 *   steps.jsonl     every epoch of every candidate (episode = candidate, from 1), rung by rung
 *   rungs.jsonl     one line per rung: its epoch, its candidates with their scores, the promoted ones
 *   episodes.jsonl  per candidate: its schedule as far as it trained
 *   summary.json    the best candidate of the last rung (the recommendation), every epoch charged
 *   trials/         the candidates' checkpoints, while the run is unfinished
 * A resumed run that did not finish starts over (the result is the same: everything is seeded).
 */
import type { SelectProtocol } from '../../core/select.js';
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DropoutEnv } from '../../../envs/dropout-env.js';
import { bestEpisode, type EpisodeRecord, type RunSummary } from '../../core/run-log.js';
import { createRng } from '../../core/rng.js';
import type { StepInfo, Transition } from '../../core/types.js';
import { loadDataset } from '../../data/dataset.js';
import { episodeRecord, episodeSeed } from '../../loop/loop.js';
import { acquireRunLock } from '../../store/run-folder.js';
import { RunWriter, stepRecord, summarize } from '../../store/run-writer.js';
import { packageVersions, type ResolvedRun, type RunResult } from '../../run/run.js';
import type { SegmentResult } from '../../run/segment.js';
import { smoothedValAcc } from '../pbt/pbt.js';
import type { SchedulerDeps, TrialScheduler } from '../scheduler.js';
import {
  OPTIONS,
  checkConfig,
  drawCandidates,
  halvingCost,
  promote,
  ratesAt,
  rungEpochs,
  type Candidate,
  type ShaConfig,
} from './sha.js';

export const RUNGS_FILE = 'rungs.jsonl';
export const TRIALS_DIR = 'trials';

/** One line of rungs.jsonl (candidates numbered from 1, as episodes are). */
export interface RungRecord {
  rung: number;
  epoch: number;
  candidates: number[];
  scores: number[];
  /** The candidates that go on to the next rung (none after the last). */
  promoted: number[];
}

/** What the coordinator reports after each rung (progress display). */
export interface RungEvent extends RungRecord {
  rungs: number;
}

interface TrialState {
  candidate: Candidate;
  /** Segments trained so far (the next one's generation). */
  segments: number;
  reset?: { observation: number[]; info: StepInfo };
  trajectory: Transition[];
  /** Epochs of it already in steps.jsonl. */
  logged: number;
}

/** Trains the candidates rung by rung and writes the run folder; returns what it wrote. */
export async function runSha(run: ResolvedRun, deps: SchedulerDeps<RungEvent>): Promise<RunResult> {
  const warn = deps.warn ?? ((message: string) => process.stderr.write(`warning: ${message}\n`));
  const config = run.agentOptions as unknown as ShaConfig;
  const epochs = run.envConfig.maxEpochs;
  const rungs = rungEpochs(epochs, config.grace, config.eta);
  const dir = path.join(run.out, TRIALS_DIR);
  const envSeed = episodeSeed(run.seed, 1);
  const probe = new DropoutEnv(deps.dataset ?? loadDataset(run.data), run.env);
  const observationNames = [...probe.observationNames];
  const layerNames = Array.from({ length: probe.numLayers }, (_, i) => `dropout_${i + 1}`);
  probe.dispose();

  // Every decision is seeded: an unfinished run starts over and ends with the same logs.
  if (deps.resume) rmSync(run.out, { recursive: true, force: true });
  mkdirSync(run.out, { recursive: true });
  const release = acquireRunLock(run.out, warn);
  try {
    const writer = RunWriter.create(run.out, {
      options: run.options,
      seed: run.seed,
      backend: deps.backendInUse,
      versions: packageVersions(),
      observationNames,
      layerNames,
      startedAtMs: Date.now(),
    });
    mkdirSync(dir, { recursive: true });
    const trials: TrialState[] = drawCandidates(config, layerNames.length, epochs, createRng(`sha:${run.seed}`)).map(
      (candidate) => ({ candidate, segments: 0, trajectory: [], logged: 0 }),
    );
    const started = performance.now();
    let alive = trials.map((_, i) => i);
    let epochsTrained = 0;
    for (let k = 0; k < rungs.length; k++) {
      if (deps.stopRequested?.()) return interrupted(run, layerNames);
      const until = rungs[k]!;
      const results = await Promise.all(alive.map((i) => trainTo(run, deps, dir, envSeed, i, trials[i]!, until)));
      if (results.some((r) => r === undefined)) return interrupted(run, layerNames);
      // Log the rung, candidates in order: the same lines whichever worker finished first.
      for (const i of alive) {
        const t = trials[i]!;
        for (const step of t.trajectory.slice(t.logged))
          writer.step(stepRecord({ ...step, episode: i + 1 }, run.envConfig.testEachEpoch));
        t.logged = t.trajectory.length;
      }
      epochsTrained = trials.reduce((s, t) => s + t.trajectory.length, 0);
      const scores = alive.map((i) =>
        smoothedValAcc(
          trials[i]!.trajectory.map((s) => s.info.valAcc),
          config.scoreEpochs,
        ),
      );
      const last = k + 1 === rungs.length;
      const promoted = last ? [] : promote(scores, config.eta).map((j) => alive[j]!);
      const record: RungRecord = {
        rung: k + 1,
        epoch: until,
        candidates: alive.map((i) => i + 1),
        scores,
        promoted: promoted.map((i) => i + 1),
      };
      appendFileSync(path.join(run.out, RUNGS_FILE), JSON.stringify(record) + '\n');
      deps.onProgress?.({ ...record, rungs: rungs.length });
      if (!last) alive = promoted;
    }

    const records = trials.map((t, i) => trialRecord(i, t, envSeed, run.select));
    writer.allEpisodes(records);
    writer.agentState({
      agent: 'sha',
      version: 1,
      rungs,
      candidates: trials.map((t, i) => ({ candidate: i + 1, ...t.candidate })),
    });
    // The recommendation is the best of the last rung: a candidate stopped early is never picked.
    const finalists = alive.map((i) => records[i]!);
    const best = bestEpisode(finalists)!;
    const summary: RunSummary = {
      ...summarize(run.agent, records, epochsTrained, false, performance.now() - started),
      best: {
        episode: best.episode,
        valAcc: best.valAcc,
        testAcc: best.testAcc,
        ...(best.selected ? { selected: best.selected } : {}),
        schedule: best.schedule,
      },
    };
    writer.summary(summary);
    rmSync(dir, { recursive: true, force: true });
    return { out: run.out, layerNames, records, summary, interrupted: false };
  } finally {
    release();
  }
}

/**
 * Trains trial `i` from where it stands to epoch `until`: one segment per stretch of constant rates.
 * Returns undefined when stopped.
 */
async function trainTo(
  run: ResolvedRun,
  deps: SchedulerDeps<RungEvent>,
  dir: string,
  seed: number,
  i: number,
  t: TrialState,
  until: number,
): Promise<true | undefined> {
  for (;;) {
    const from = t.trajectory.length;
    // A diverged trial ends early: nothing more to train.
    if (from >= until || t.trajectory.at(-1)?.terminated) return true;
    const c = t.candidate;
    const end = from < c.t0 ? Math.min(until, c.t0) : until;
    const result: SegmentResult = await deps.runSegment({
      data: run.data,
      env: run.env,
      backend: run.backend,
      dir,
      member: i,
      generation: t.segments,
      seed,
      rates: ratesAt(c, from + 1),
      untilEpoch: end,
    });
    if (result.interrupted) return undefined;
    t.segments += 1;
    t.reset ??= result.reset;
    t.trajectory.push(...result.transitions);
    if (result.transitions.length === 0) return true;
  }
}

/** A candidate as an episode, scored by the run's selection protocol (so its pick follows --select). */
function trialRecord(i: number, t: TrialState, seed: number, select: SelectProtocol): EpisodeRecord {
  const episodeMs = t.trajectory.reduce((s, x) => s + (x.info.stepMs ?? 0), 0);
  return episodeRecord(i + 1, t.reset!.info, t.trajectory, episodeMs, seed, select);
}

function interrupted(run: ResolvedRun, layerNames: string[]): RunResult {
  return { out: run.out, layerNames, records: [], summary: undefined, interrupted: true };
}

/** Successive halving as a scheduler over trials: `--agent sha`. */
export const shaScheduler: TrialScheduler<RungEvent> = {
  name: 'sha',
  description: 'successive halving: many candidates for a few epochs, the best 1/eta continue from their checkpoints',
  options: OPTIONS,
  checkConfig: (options, env) => ({ ...checkConfig(options as Partial<ShaConfig>, env) }),
  trialsNote: 'it trains --candidates candidates (by default as many as --budget pays for)',
  trials: (config) => (config as unknown as ShaConfig).candidates,
  budgetEpochs: (config, epochs) => {
    const c = config as unknown as ShaConfig;
    return halvingCost(c.candidates, rungEpochs(epochs, c.grace, c.eta), c.eta);
  },
  concurrency: (config) =>
    Math.min((config as unknown as ShaConfig).workers, (config as unknown as ShaConfig).candidates),
  checkpointDir: TRIALS_DIR,
  files: [RUNGS_FILE],
  run: runSha,
  plan(run) {
    const c = run.agentOptions as unknown as ShaConfig;
    const rungs = rungEpochs(run.envConfig.maxEpochs, c.grace, c.eta);
    return [
      `run: ${run.out}  (sha, ${c.candidates} candidates, rungs at epochs ${rungs.join(', ')}, eta ${c.eta}, ${halvingCost(c.candidates, rungs, c.eta)} of a budget of ${c.budget} epochs, ${run.data.dataset} ${run.envConfig.model}, seed ${run.seed})`,
      `candidates: static per-layer rates and schedules p0 → p1 from t0 (${Math.round(c.scheduleShare * 100)}%), rates in [${c.rateRange.join(', ')}]`,
    ];
  },
  progressLine(e) {
    const order = e.scores.map((s, j) => ({ s, j })).sort((a, b) => b.s - a.s);
    const best = order[0]!;
    return `rung ${e.rung}/${e.rungs} at epoch ${e.epoch}: ${e.candidates.length} candidates, best ${e.candidates[best.j]} score ${best.s.toFixed(4)}${e.promoted.length > 0 ? `, ${e.promoted.length} go on` : ''}`;
  },
};
