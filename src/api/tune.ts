/**
 * The library's one call for a whole run: `await tune({ agent: 'ucb', dataset: 'synthetic', … })`
 * trains it and returns where its run folder is, as `npm run agent` would have written it.
 */
import type { Observable } from 'rxjs';
import { ConfigError } from '../core/errors.js';
import { flagOf, nearestFlag } from '../core/options.js';
import { withLabelNoise, type Dataset } from '../data/dataset.js';
import type { LoopEvent } from '../loop/loop.js';
import { initBackend } from '../nn/backend.js';
import { createExecutor } from '../execution/create-executor.js';
import type { GenerationEvent } from '../schedulers/pbt/run-pbt.js';
import type { RungEvent } from '../schedulers/sha/run-sha.js';
import { SCHEDULERS, resolveAnyRun, runSpecs, schedulerFor } from '../schedulers/index.js';
import { executeRun, type ResolvedRun, type RunResult } from '../run/run.js';
import { replayEnvSeed } from '../run/replay.js';
import { resolveResume } from '../run/resume.js';
import { checkString } from '../core/check.js';
import { finishedResult } from '../execution/job.js';
import { readRunConfig } from '../store/read-run.js';
import { StopFlag } from '../core/stop-flag.js';

export interface TuneOptions {
  /**
   * Continue the stopped or killed run in this folder from its last checkpoint, as
   * `npm run agent -- --resume DIR` does: its own options apply (only `backend`, and a population's
   * `workers`, may be given); a finished run is returned as it stands.
   */
  resume?: string;
  /**
   * Any option of `npm run agent`, keyed as in code rather than as a flag: `agent`, `episodes`,
   * `epochs`, `dataset`, `trainSize`, `model`, `seed`, `out`, `label`, an agent's own (`rate`,
   * `epsilon`, `population`, …). Unset options take the CLI's defaults.
   */
  [option: string]: unknown;
  /**
   * A built-in dataset's name (`'mnist'`), `'csv:FILE'`, `'idx:DIR'`, or a Dataset already split in
   * memory (`datasetFromArrays(...)`, `loadDataset(...)`): its own sizes are used, and config.json
   * records it as `memory:<name>` (such a run cannot be resumed from the command line). @default 'mnist'
   */
  dataset?: string | Dataset;
  /** Sees every reset, step and episode as it happens (a single run, not a population). */
  onEvent?: (event: LoopEvent) => void;
  /** Sees each generation of a population (`agent: 'pbt'`). */
  onGeneration?: (event: GenerationEvent) => void;
  /** Sees each round of another scheduler (a rung of `agent: 'sha'`). */
  onRound?: (event: RungEvent) => void;
  /** Emitting stops the run after the epoch in progress; it can be continued with `--resume`. */
  stop$?: Observable<unknown>;
  /** A dataset loaded already (shared by several runs): must be the one `dataset` & co. name. */
  data?: Dataset;
}

export interface TuneResult extends RunResult {
  /** The tfjs backend it trained on. */
  backend: string;
}

/** The CLI's options that name a whole other way to run: not for tune(). */
const NOT_HERE: Record<string, string> = {
  replay: 'tune() starts a new run: replay an episode with `droptune agent --replay RUN#N`',
  config: 'tune() takes the options themselves: spread the JSON file in (`{ ...JSON.parse(text), … }`)',
};

/** Every key is a run option (as `npm run agent` takes it); a misspelt one is refused, not ignored. */
function checkKeys(given: Record<string, unknown>): void {
  const known = runSpecs()
    .map((s) => s.key)
    .filter((k) => !(k in NOT_HERE));
  for (const key of Object.keys(given)) {
    if (key in NOT_HERE) throw new ConfigError(`tune(): '${key}' is not an option here: ${NOT_HERE[key]}`);
    if (known.includes(key)) continue;
    const near = nearestFlag(key, known);
    throw new ConfigError(
      `tune(): unknown option '${key}'${near ? `: did you mean '${near}'?` : ''} (the options of npm run agent, keyed as in code: trainSize for --train-size)`,
    );
  }
}

/**
 * Resolves the options exactly as the CLI does (a bad one throws a ConfigError naming it), picks the
 * backend (tensorflow → wasm → cpu, or `backend`), trains, and returns the run folder (`out`) with
 * every episode record and the summary.
 */
export async function tune(options: TuneOptions): Promise<TuneResult> {
  const { onEvent, onGeneration, onRound, stop$, dataset, resume, ...given } = options;
  for (const [key, value] of Object.entries(given)) if (value === undefined) delete given[key];
  checkKeys(given);
  if (resume !== undefined) {
    if (dataset !== undefined || options.data !== undefined)
      throw new ConfigError(`tune(): resume takes the data its run recorded: give no dataset`);
    const { run, finished } = resolveResume(checkString('resume', resume), given, { schedulers: SCHEDULERS });
    if (finished) {
      const done = finishedResult(run.out)!;
      return { ...done, backend: readRunConfig(run.out).backend };
    }
    return train(run, { onEvent, onGeneration, onRound, stop$, resume: true });
  }
  const data = typeof dataset === 'object' && dataset !== null ? dataset : undefined;
  if (data === undefined && dataset !== undefined) given['dataset'] = dataset;
  if (data !== undefined) {
    for (const key of ['trainSize', 'valSize', 'testSize']) {
      if (key in given)
        throw new ConfigError(
          `${flagOf(key)} does not apply to a dataset given in memory: it is already split (${data.train.n}/${data.val.n}/${data.test.n})`,
        );
    }
    // Resolved as a dataset that needs no file, then recorded as what it is.
    Object.assign(given, { dataset: 'synthetic', trainSize: data.train.n, valSize: data.val.n, testSize: data.test.n });
  }
  const run = resolveAnyRun(given);
  if (data !== undefined) {
    if (schedulerFor(run.agent))
      throw new ConfigError(
        `--agent ${run.agent} trains its members from a dataset they load by name: write the data to a CSV file and give dataset: 'csv:FILE'`,
      );
    run.data = { ...run.data, dataset: `memory:${data.name}` };
    run.options['dataset'] = run.data.dataset;
  }
  // A dataset given in memory is already split: its label noise is applied here, as loading applies it.
  const noisy = data === undefined ? undefined : withLabelNoise(data, run.data);
  return train(run, { onEvent, onGeneration, onRound, stop$, data: noisy });
}

/** Trains a resolved run (a new one, or one resumed) on its backend, a scheduler's trials on an executor. */
async function train(
  run: ResolvedRun,
  opts: Pick<TuneOptions, 'onEvent' | 'onGeneration' | 'onRound' | 'stop$' | 'data'> & { resume?: boolean },
): Promise<TuneResult> {
  const { onEvent, onGeneration, onRound, stop$, data, resume } = opts;
  const backend = await initBackend(run.backend);
  const scheduler = schedulerFor(run.agent);
  if (!scheduler) {
    const envSeed = replayEnvSeed(run);
    return {
      ...(await executeRun(run, { backendInUse: backend, dataset: data, onEvent, stop$, resume, envSeed })),
      backend,
    };
  }
  const executor = createExecutor(scheduler.concurrency(run.agentOptions));
  const stop = new StopFlag();
  const subscription = stop$?.subscribe(() => stop.request());
  try {
    const result = await scheduler.run(run, {
      runSegment: (segment) => executor.runSegment(segment, { stop }),
      backendInUse: backend,
      dataset: data,
      resume,
      stopRequested: () => stop.requested,
      onProgress: (event) =>
        run.agent === 'pbt' ? onGeneration?.(event as GenerationEvent) : onRound?.(event as RungEvent),
    });
    return { ...result, backend };
  } finally {
    subscription?.unsubscribe();
    await executor.close();
  }
}
