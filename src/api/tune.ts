/**
 * The library's one call for a whole run: `await tune({ agent: 'ucb', dataset: 'synthetic', … })`
 * trains it and returns where its run folder is, as `npm run agent` would have written it.
 */
import { readFileSync } from 'node:fs';
import type { Observable } from 'rxjs';
import type { AgentName, AgentOptions } from '../../agents/index.js';
import type { RewardMode } from '../../envs/dropout-env.js';
import { epochLine } from '../core/epoch-line.js';
import { ConfigError } from '../core/errors.js';
import { flagOf, inCodeTerms, nearestKey } from '../core/options.js';
import type { ActionMode } from '../core/types.js';
import type { CsvHeaderMode } from '../data/csv.js';
import { withLabelNoise, type Dataset } from '../data/dataset.js';
import type { LabelNoiseKind } from '../data/label-noise.js';
import type { SelectName } from '../core/select.js';
import type { LoopEvent } from '../loop/loop.js';
import { initBackend, type BackendChoice } from '../nn/backend.js';
import type { OptimizerName } from '../nn/optimizer.js';
import { createExecutor } from '../execution/create-executor.js';
import type { GenerationEvent } from '../schedulers/pbt/run-pbt.js';
import type { PbtConfig } from '../schedulers/pbt/pbt.js';
import type { RungEvent } from '../schedulers/sha/run-sha.js';
import type { ShaConfig } from '../schedulers/sha/sha.js';
import { SCHEDULERS, resolveAnyRun, runSpecs, schedulerFor, type TrialScheduler } from '../schedulers/index.js';
import { executeRun, type ResolvedRun, type RunResult } from '../run/run.js';
import { replayEnvSeed } from '../run/replay.js';
import { resolveResume } from '../run/resume.js';
import { checkString } from '../core/check.js';
import { finishedResult } from '../execution/job.js';
import { readRunConfig } from '../store/read-run.js';
import { trainFinalModel, type FinalModel } from '../run/final-model.js';
import { StopFlag } from '../core/stop-flag.js';
import { clearRunDir } from '../store/run-writer.js';

/** The options of `npm run agent`, keyed as in code (`trainSize` for `--train-size`); unset ones take its defaults. */
/** The schedulers over trials tune() also runs, with their own options. */
export interface SchedulerOptionsByName {
  pbt: Partial<PbtConfig>;
  sha: Partial<ShaConfig>;
}

/** An agent's name, or a scheduler's (`pbt`, `sha`): what `agent:` takes in tune(). */
export type TuneAgentName = AgentName | keyof SchedulerOptionsByName;

export interface RunOptionsInCode {
  /** @default 'thompson' */
  agent?: TuneAgentName;
  /** Episodes the agent learns across. @default 12 */
  episodes?: number;
  /** Epochs per episode. @default 8 */
  epochs?: number;
  /** Seeds everything: split, weights, shuffles, masks, the agent. @default 0 */
  seed?: number;
  /** @default 'auto' (tensorflow → wasm → cpu) */
  backend?: BackendChoice;
  /** The run folder. @default runs/<date>-<agent>-s<seed> */
  out?: string;
  /** An agent.json of an earlier run to start from. */
  loadAgent?: string;
  /** Names the run in comparisons. */
  label?: string;
  /**
   * A built-in dataset's name (`'mnist'`), `'csv:FILE'`, `'idx:DIR'`, or a Dataset already split in
   * memory (`datasetFromArrays(...)`, `loadDataset(...)`): its own sizes are used, and config.json
   * records it as `memory:<name>` (such a run cannot be resumed from the command line). @default 'mnist'
   */
  dataset?: string | Dataset;
  /**
   * Split sizes. @default 2000 / 1000 / 2000; for a csv: file with fewer rows than those add up to,
   * 70% / 15% / 15% of its rows
   */
  trainSize?: number;
  valSize?: number;
  testSize?: number;
  /** fashion-mnist: the folder of its IDX files. */
  dataDir?: string;
  /** csv: the label column, by name or 0-based index. @default the last */
  csvLabel?: string | number;
  /** csv: is the first row a header. @default 'auto' */
  csvHeader?: CsvHeaderMode;
  /** `'mlp:256,128'`, `'cnn:16,32/64'` or `'file:DIR/model.json'`. @default 'mlp:256,128' */
  model?: string;
  batchNorm?: boolean;
  inputDropout?: boolean;
  concreteDropout?: boolean;
  /** concreteDropout: the rate logits' learning rate. @default 50 × lr */
  concreteLr?: number | null;
  /** concreteDropout: the prior length-scale of the weight regularizer. @default 1e-4 */
  concreteLengthScale?: number;
  /** concreteDropout: every layer's starting rate. @default the constant agent's rate */
  concreteInitialRate?: number | null;
  l2?: number;
  optimizer?: OptimizerName;
  lr?: number;
  momentum?: number;
  batchSize?: number;
  /** How actions change rates. @default the agent's own */
  action?: ActionMode;
  rateStep?: number;
  maxDelta?: number;
  minRate?: number;
  maxRate?: number;
  /** Rates at the start of an episode: one, or one per layer. */
  initialRate?: number | number[];
  reward?: RewardMode;
  divergencePenalty?: number;
  /** Measure test accuracy after every epoch (select: 'best-epoch' implies it). @default false */
  testEachEpoch?: boolean;
  /** How an episode is scored: 'final', 'smoothed' or 'best-epoch'. @default 'final' */
  select?: SelectName;
  /** select 'smoothed': the last epochs averaged. @default 3 */
  selectWindow?: number;
  /** The fraction of training and validation labels replaced by another class. @default 0 */
  labelNoise?: number;
  /** 'symmetric' (any other class) or 'pair' (a fixed partner). @default 'symmetric' */
  labelNoiseKind?: LabelNoiseKind;
}

/** What tune() adds to the run's options. */
export interface TuneOnlyOptions {
  /** Sees every reset, step and episode as it happens (a single run, not a population). */
  onEvent?: (event: LoopEvent) => void;
  /** Sees each generation of a population (`agent: 'pbt'`). */
  onGeneration?: (event: GenerationEvent) => void;
  /** Sees each rung of successive halving (`agent: 'sha'`). */
  onRound?: (event: RungEvent) => void;
  /**
   * Continue the stopped or killed run in this folder from its last checkpoint, as
   * `npm run agent -- --resume DIR` does: its own options apply (only `backend`, and a scheduler's
   * `workers`, may be given); a finished run is returned as it stands.
   */
  resume?: string;
  /** Emitting stops the run after the epoch in progress; it can be continued with `--resume`. */
  stop$?: Observable<unknown>;
  /** A dataset loaded already (shared by several runs): must be the one `dataset` & co. name. */
  data?: Dataset;
  /** One line per epoch, like Keras's verbose=2: `true` prints with console.log. @default false */
  verbose?: boolean | ((line: string) => void);
  /** Replace the run folder `out` when it holds an earlier run (only a run folder is removed). @default false */
  overwrite?: boolean;
  /**
   * After the run, train its best episode again (same schedule, same seed) and save that model with
   * stock Dropout layers in `out`/model/ (loadable with plain tfjs); `result.final` holds it. @default false
   */
  final?: boolean;
  /** Where warnings go (too few batches per epoch). @default console.warn */
  warn?: (message: string) => void;
}

/**
 * tune()'s options: the run's, tune's own, and agent A's own options beside them (`ucbC` with
 * `agent: 'ucb'`). A strict tsc refuses a key none of them has (`episode`, `ucbc`).
 */
export type TuneOptions<A extends TuneAgentName = TuneAgentName> = RunOptionsInCode &
  TuneOnlyOptions & { agent?: A } & (A extends AgentName
    ? AgentOptions<A>
    : SchedulerOptionsByName[A & keyof SchedulerOptionsByName]);

/** Every run option key TuneOptions declares (a test holds it to the CLI's specs). */
export const RUN_OPTION_KEYS: Record<keyof RunOptionsInCode, true> = {
  agent: true,
  episodes: true,
  epochs: true,
  seed: true,
  backend: true,
  out: true,
  loadAgent: true,
  label: true,
  dataset: true,
  trainSize: true,
  valSize: true,
  testSize: true,
  dataDir: true,
  csvLabel: true,
  csvHeader: true,
  model: true,
  batchNorm: true,
  inputDropout: true,
  concreteDropout: true,
  l2: true,
  optimizer: true,
  lr: true,
  momentum: true,
  batchSize: true,
  action: true,
  rateStep: true,
  maxDelta: true,
  minRate: true,
  maxRate: true,
  initialRate: true,
  reward: true,
  divergencePenalty: true,
  concreteLr: true,
  concreteLengthScale: true,
  concreteInitialRate: true,
  testEachEpoch: true,
  select: true,
  selectWindow: true,
  labelNoise: true,
  labelNoiseKind: true,
};

const TUNE_ONLY_KEYS: Record<keyof TuneOnlyOptions, true> = {
  onEvent: true,
  onGeneration: true,
  onRound: true,
  resume: true,
  stop$: true,
  data: true,
  verbose: true,
  overwrite: true,
  final: true,
  warn: true,
};

/** Fewer batches than this in an epoch is too few steps for the rates to matter: warned about. */
const FEW_BATCHES = 10;

export interface TuneResult extends RunResult {
  /** The tfjs backend it trained on. */
  backend: string;
  /** The best episode's schedule (per epoch, per layer), as summary.best.schedule; undefined if none finished. */
  bestSchedule: number[][] | undefined;
  /** With `final: true`: the best episode's model, trained again and saved in `out`/model/. */
  final?: FinalModel;
}

/** The CLI's options that name a whole other way to run: not for tune(). */
const NOT_HERE: Record<string, string> = {
  replay: 'tune() starts a new run: replay an episode with `droptune agent --replay RUN#N`',
  config: 'tune() takes the options themselves: spread the JSON file in (`{ ...JSON.parse(text), … }`)',
};

/** Every key is a run option (as `npm run agent` takes it); a misspelt one is refused, not ignored. */
function checkKeys(given: Record<string, unknown>): void {
  const known = [
    ...runSpecs()
      .map((s) => s.key)
      .filter((k) => !(k in NOT_HERE)),
    ...Object.keys(TUNE_ONLY_KEYS),
  ];
  for (const key of Object.keys(given)) {
    if (key in NOT_HERE) throw new ConfigError(`tune(): '${key}' is not an option here: ${NOT_HERE[key]}`);
    if (known.includes(key)) continue;
    const near = nearestKey(key, known);
    throw new ConfigError(
      `tune(): unknown option '${key}'${near ? `: did you mean '${near}'?` : ''} (tune() takes the options of npm run agent keyed as in code, e.g. trainSize)`,
    );
  }
}

/** A csv: file's rows, when no split size is given: the defaults fit MNIST, not a 178-row file. */
function csvRows(dataset: unknown): number | undefined {
  if (typeof dataset !== 'string' || !dataset.startsWith('csv:')) return undefined;
  try {
    const lines = readFileSync(dataset.slice(4), 'utf8')
      .split(/\r?\n/)
      .filter((l) => l.trim() !== '');
    return lines.length;
  } catch {
    return undefined; // the loader says what is wrong with the file
  }
}

/**
 * Split sizes for a small csv: file when none is given: 70% / 15% / 15% of its rows (one row may be a
 * header; counting it keeps the sizes within the data either way, as the test split takes the rest less one).
 */
export function fractionSizes(rows: number): { trainSize: number; valSize: number; testSize: number } {
  const n = rows - 1;
  const valSize = Math.max(1, Math.floor(0.15 * n));
  const testSize = Math.max(1, Math.floor(0.15 * n));
  return { trainSize: n - valSize - testSize, valSize, testSize };
}

/**
 * Resolves the options exactly as the CLI does (a bad one throws a ConfigError naming its key), picks
 * the backend (tensorflow → wasm → cpu, or `backend`), trains, and returns the run folder (`out`) with
 * every episode record and the summary.
 */
export async function tune<A extends TuneAgentName = 'thompson'>(options: TuneOptions<A>): Promise<TuneResult> {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new ConfigError(`tune() takes an object of options, got ${options === null ? 'null' : typeof options}`);
  // Checked before anything is written: a bad one would fail once the run folder exists.
  const { onEvent, onGeneration, onRound, stop$ } = options as TuneOptions;
  for (const [key, value] of Object.entries({ onEvent, onGeneration, onRound }))
    if (value !== undefined && typeof value !== 'function')
      throw new ConfigError(`tune(): ${key} must be a function, got ${JSON.stringify(value)}`);
  if (stop$ !== undefined && typeof (stop$ as { subscribe?: unknown } | null)?.subscribe !== 'function')
    throw new ConfigError(
      `tune(): stop$ must be an Observable (anything with subscribe), got ${JSON.stringify(stop$)}`,
    );
  try {
    return await tuneRun(options as TuneOptions);
  } catch (err) {
    // The checks below speak the CLI's flags; from code, the keys (trainSize for --train-size).
    if (err instanceof ConfigError) throw new ConfigError(inCodeTerms(err.message, runSpecs()));
    throw err;
  }
}

async function tuneRun(options: TuneOptions): Promise<TuneResult> {
  const {
    onEvent,
    onGeneration,
    onRound,
    stop$,
    dataset,
    verbose,
    overwrite,
    final,
    warn,
    resume,
    data: loaded,
    ...rest
  } = options;
  const given = rest as Record<string, unknown>;
  for (const [key, value] of Object.entries(given)) if (value === undefined) delete given[key];
  checkKeys(given);
  if (resume !== undefined) {
    if (dataset !== undefined || loaded !== undefined)
      throw new ConfigError(`tune(): resume takes the data its run recorded: give no dataset`);
    const { run, finished } = resolveResume(checkString('resume', resume), given, { schedulers: SCHEDULERS });
    if (finished) {
      const done = finishedResult(run.out)!;
      return { ...done, backend: readRunConfig(run.out).backend, bestSchedule: done.summary?.best.schedule };
    }
    const backend = await initBackend(run.backend);
    const scheduler = schedulerFor(run.agent);
    const result = scheduler
      ? await tuneTrials(scheduler, run, backend, undefined, stop$, { onGeneration, onRound }, true)
      : await executeRun(run, { backendInUse: backend, onEvent, stop$, resume: true, envSeed: replayEnvSeed(run) });
    return { ...result, backend, bestSchedule: result.summary?.best.schedule };
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
  // A small csv: file gets fractions, not MNIST-sized counts, unless a size is given.
  const rows = ['trainSize', 'valSize', 'testSize'].some((k) => k in given) ? undefined : csvRows(given['dataset']);
  if (rows !== undefined && rows - 1 < 5000) Object.assign(given, fractionSizes(rows));
  if (overwrite === true) {
    if (given['out'] === undefined)
      throw new ConfigError('tune(): overwrite needs an explicit out (a default folder is always new)');
    clearRunDir(String(given['out']), 'out');
  }
  const run = resolveAnyRun(given);
  const scheduler = schedulerFor(run.agent);
  if (data !== undefined) {
    if (scheduler)
      throw new ConfigError(
        `--agent ${run.agent} trains its members from a dataset they load by name: write the data to a CSV file and give dataset: 'csv:FILE'`,
      );
    run.data = { ...run.data, dataset: `memory:${data.name}` };
    run.options['dataset'] = run.data.dataset;
  }
  warnFewBatches(run, warn ?? console.warn);
  // A dataset given in memory is already split: its label noise is applied here, as loading applies it.
  const noisy = data === undefined ? undefined : withLabelNoise(data, run.data);
  const backend = await initBackend(run.backend);
  const say = verbose === true ? (line: string) => console.log(line) : verbose || undefined;
  const withProgress = say
    ? (event: LoopEvent) => {
        if (event.type === 'step')
          say(epochLine(event.episode, event.transition.info, run.envConfig.maxEpochs, event.transition.info.stepMs));
        onEvent?.(event);
      }
    : onEvent;
  const result = scheduler
    ? await tuneTrials(scheduler, run, backend, noisy, stop$, { onGeneration, onRound }, false)
    : await executeRun(run, { backendInUse: backend, dataset: noisy ?? loaded, onEvent: withProgress, stop$ });
  const out: TuneResult = { ...result, backend, bestSchedule: result.summary?.best.schedule };
  if (final === true && result.records.length > 0) {
    if (scheduler)
      throw new ConfigError(
        `final does not apply to --agent ${run.agent}: its trials continue from each other's checkpoints, so no one schedule trains its best model; train its best schedule with agent: 'schedule'`,
      );
    out.final = await trainFinalModel(run, result.records, { dataset: noisy ?? loaded });
  }
  return out;
}

/** Says so when an epoch is too few batches for the rates to matter (wine at batch 64: 2 batches). */
function warnFewBatches(run: ResolvedRun, warn: (message: string) => void): void {
  const batchSize = run.envConfig.batchSize;
  const batches = Math.ceil(run.data.trainSize / batchSize);
  if (batches < FEW_BATCHES)
    warn(
      `tune(): an epoch is ${batches} batch${batches === 1 ? '' : 'es'} (trainSize ${run.data.trainSize}, batchSize ${batchSize}): too few steps for the rates to matter; use a smaller batchSize or more data (about ${FEW_BATCHES} batches or more)`,
    );
}

/** A scheduler's trials (pbt, sha) on an executor of its own. */
async function tuneTrials(
  scheduler: TrialScheduler,
  run: ResolvedRun,
  backend: string,
  data: Dataset | undefined,
  stop$: Observable<unknown> | undefined,
  on: Pick<TuneOnlyOptions, 'onGeneration' | 'onRound'>,
  resume: boolean,
): Promise<RunResult> {
  const executor = createExecutor(scheduler.concurrency(run.agentOptions));
  const stop = new StopFlag();
  const subscription = stop$?.subscribe(() => stop.request());
  try {
    return await scheduler.run(run, {
      runSegment: (segment) => executor.runSegment(segment, { stop }),
      backendInUse: backend,
      dataset: data,
      resume,
      stopRequested: () => stop.requested,
      onProgress: (event) =>
        run.agent === 'pbt' ? on.onGeneration?.(event as GenerationEvent) : on.onRound?.(event as RungEvent),
    });
  } finally {
    subscription?.unsubscribe();
    await executor.close();
  }
}
