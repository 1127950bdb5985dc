/**
 * A Job is one fully resolved run as plain JSON: the options `resolveRun` accepts, its seed and its
 * run folder. Being plain data, the same job runs in this thread, in a worker thread or (later) on
 * another machine through a queue, and writes the same run folder wherever it runs (the run log is
 * the one source of truth: Optuna's storage model).
 *
 * `runJob` runs one here, on the requested tfjs backend, with the datasets this thread keeps
 * (datasets.ts).
 */
import { existsSync } from 'node:fs';
import { readEpisodes, readRunEnd } from '../store/read-run.js';
import { removeTempFiles, tidyFinishedRun } from '../store/run-folder.js';
import { runFile } from '../store/layout.js';
import { foldDataset } from '../data/folds.js';
import { initBackend } from '../nn/backend.js';
import { resolveAnyRun, schedulerFor } from '../schedulers/index.js';
import { executeRun, type ResolvedRun, type RunResult } from '../run/run.js';
import { datasetFor } from '../data/cache.js';
import { runSegment } from '../run/segment.js';
import type { StopFlag } from '../core/stop-flag.js';

export interface Job {
  /** Options by key, as `resolveRun` accepts them, without `seed` and `out` (the fields below). */
  options: Record<string, unknown>;
  seed: number;
  /** The run folder it writes: absent or empty before the job starts. */
  out: string;
  /** Train on fold `fold` of `folds` over train ∪ validation (test untouched); absent: the fixed split. */
  fold?: { fold: number; folds: number };
  /**
   * The folder may hold this run already (an experiment resumed): a finished run is read back, not
   * trained again; a stopped or killed one continues from its checkpoint; a missing one starts.
   */
  resume?: boolean;
  /**
   * Train and write in this folder instead of `out`, which config.json still records: a queue worker's
   * scratch folder, whose files the coordinator writes into `out` (src/execution/queue/protocol.ts).
   */
  writeTo?: string;
  /** The content of the `loadAgent` file, shipped with the job when that file is on another machine. */
  agentState?: unknown;
}

/** What a job returns: what its run wrote (plain data, so it crosses threads unchanged). */
export type JobResult = RunResult;

/** Checks every option of the job; touches nothing but reading a --load-agent file. Throws ConfigError. */
export function resolveJob(job: Job): ResolvedRun {
  const shipped = job.agentState !== undefined;
  const { loadAgent, ...options } = job.options;
  // A job written elsewhere never checks `out`: it is the coordinator's folder, maybe on another machine.
  const run = resolveAnyRun(
    { ...(shipped ? options : job.options), seed: job.seed, out: job.out },
    { resume: job.resume === true || job.writeTo !== undefined },
  );
  if (shipped) {
    // config.json records the path, in the place resolveRun gave it; the state is what was shipped.
    run.loadAgent = (loadAgent as string | undefined) ?? null;
    run.options['loadAgent'] = run.loadAgent;
    run.loadedState = job.agentState;
  }
  return job.writeTo === undefined ? run : { ...run, out: job.writeTo };
}

/** What a finished run folder holds, as its job would have returned it; undefined if it did not finish. */
export function finishedResult(out: string): JobResult | undefined {
  const end = readRunEnd(out);
  if (!end || end.summary.interrupted) return undefined;
  const records = readEpisodes(runFile(out, 'episodes'), end.logVersion).value;
  return { out, layerNames: end.config.layerNames, records, summary: end.summary, interrupted: false };
}

/** Trains the job's run in this thread and writes its folder. A stop ends it after the epoch in progress. */
export async function runJob(job: Job, opts: { stop?: StopFlag } = {}): Promise<JobResult> {
  const dir = job.writeTo ?? job.out;
  if (job.resume) {
    const done = finishedResult(dir);
    if (done) {
      tidyFinishedRun(dir);
      return done;
    }
  }
  const run = resolveJob(job);
  const resume = job.resume === true && existsSync(runFile(dir, 'config'));
  // Killed before its config.json was in place: at most a temporary file (and a stale lock) to clear.
  if (job.resume && !resume && existsSync(dir)) removeTempFiles(dir);
  // Cheap when already in use; asked per job since a caller in this thread may have switched it.
  const backendInUse = await initBackend(run.backend);
  const dataset = datasetFor(run.data);
  const scheduler = schedulerFor(run.agent);
  if (scheduler) {
    // An experiment's scheduler trains its trials one after another in this thread.
    return scheduler.run(run, {
      runSegment: (segment) => runSegment(segment, opts),
      backendInUse,
      dataset,
      resume,
      stopRequested: () => opts.stop?.requested ?? false,
    });
  }
  const stop$ = opts.stop?.stop$();
  if (!job.fold) return executeRun(run, { backendInUse, dataset, stop$, resume });
  const { fold, folds } = job.fold;
  const foldData = foldDataset(dataset, folds, fold);
  // config.json records the sizes the fold actually trains and validates on.
  const options = { ...run.options, fold, folds, trainSize: foldData.train.n, valSize: foldData.val.n };
  return executeRun({ ...run, options }, { backendInUse, dataset: foldData, stop$, resume });
}
