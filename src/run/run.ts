/**
 * One agent run, as a library: `resolveRun` checks every option (no side effects, throws ConfigError),
 * `executeRun` trains and writes the run folder. `npm run agent` and every executor of src/execution uses it
 * (it lived in src/cli/run-agent.ts; it moved down so that the library never imports a command).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Observable } from 'rxjs';
import { AGENTS, agentNames, checkAgentOptions } from '../../agents/index.js';
import { checkConfig as checkPbtConfig, type PbtConfig } from '../../agents/pbt.js';
import {
  DropoutEnv,
  ENV_DEFAULTS,
  MODEL_FILE_PREFIX,
  REWARD_MODES,
  checkEnvConfig,
  type DropoutEnvConfig,
  type EnvSnapshot,
} from '../../envs/dropout-env.js';
import { checkInt, checkOneOf, checkString } from '../core/check.js';
import { ConfigError } from '../core/errors.js';
import { packageVersion } from '../core/package-root.js';
import { flagOf, type OptionSpec } from '../core/options.js';
import type { EpisodeRecord, RunSummary } from '../core/run-log.js';
import { ACTION_MODES, type ActionMode } from '../core/types.js';
import { CSV_HEADER_MODES } from '../data/csv.js';
import {
  DATASET_FORMS,
  DATASET_OPTIONS,
  DATA_DEFAULTS,
  checkDataConfig,
  loadDataset,
  withoutForeignDataOptions,
  type DataConfig,
  type Dataset,
} from '../data/dataset.js';
import { DEFAULT_FASHION_DIR } from '../data/fashion-mnist.js';
import { run$, type LoopEvent } from '../loop/loop.js';
import { agentContext, agentRng } from './make-agent.js';
import { BACKENDS, requestedBackend, type BackendChoice } from '../nn/backend.js';
import { OPTIMIZERS } from '../nn/optimizer.js';
import { readEpisodes } from '../store/read-run.js';
import { RunWriter, checkRunDir, stepRecord, summarize } from '../store/run-writer.js';
import {
  acquireRunLock,
  folderStamp,
  freeFolder,
  readRunCheckpoint,
  removeRunCheckpoint,
  removeTempFiles,
  truncateLines,
  writeRunCheckpoint,
  type RunCheckpoint,
} from '../store/run-folder.js';

/** The default run: a learning agent on mnist that finishes in a few minutes on 2 cores. */
export const DEFAULT_AGENT = 'thompson';
const RUN_DEFAULTS = { episodes: 12, epochs: 8, trainSize: 2000, valSize: 1000, testSize: 2000 };

const spec = (
  key: string,
  type: OptionSpec['type'],
  def: unknown,
  help: string,
  choices?: readonly string[],
): OptionSpec => ({
  key,
  flag: flagOf(key),
  type,
  default: def,
  help,
  ...(choices ? { choices } : {}),
});

export const RUN_OPTIONS: OptionSpec[] = [
  spec('agent', 'string', DEFAULT_AGENT, 'which agent learns the schedule', agentNames()),
  spec('episodes', 'int', RUN_DEFAULTS.episodes, 'training runs the agent learns across'),
  spec('epochs', 'int', RUN_DEFAULTS.epochs, 'epochs per episode (one env step each)'),
  spec('seed', 'int', 0, 'seed of everything: data split, weights, shuffles, masks, the agent'),
  spec('backend', 'string', 'auto', 'tfjs backend (or the DROPTUNE_BACKEND variable)', BACKENDS),
  spec('out', 'string', undefined, 'run folder (default: runs/<date>-<agent>-s<seed>)'),
  spec('config', 'string', undefined, 'JSON file of options (same keys); the command line wins'),
  spec('loadAgent', 'string', undefined, 'start from an agent.json of an earlier run'),
  spec('label', 'string', undefined, 'name this run in comparisons (default: agent and its options)'),
  spec('resume', 'string', undefined, 'continue the run in this folder from its last epoch (its own options apply)'),
  spec('replay', 'string', undefined, "train a run's episode again under its seed: RUN[#EPISODE] (default: its best)"),
];

export const DATA_OPTIONS: OptionSpec[] = [
  spec(
    'dataset',
    'string',
    DATA_DEFAULTS.dataset,
    `data to train on: ${DATASET_FORMS.join(', ')} (README, Your own data)`,
  ),
  spec('trainSize', 'int', RUN_DEFAULTS.trainSize, 'training samples'),
  spec('valSize', 'int', RUN_DEFAULTS.valSize, 'validation samples (what the agent sees)'),
  spec('testSize', 'int', RUN_DEFAULTS.testSize, 'held-out test samples (reported, never shown to the agent)'),
  spec('dataDir', 'string', undefined, `folder of the fashion-mnist IDX files (default: ${DEFAULT_FASHION_DIR})`),
  spec('csvLabel', 'string', undefined, 'csv: the label column, by name or 0-based index (default: the last column)'),
  spec(
    'csvHeader',
    'string',
    undefined,
    'csv: is the first row a header; auto: when a feature cell in it is not a number (default: auto)',
    CSV_HEADER_MODES,
  ),
];

export const ENV_OPTIONS: OptionSpec[] = [
  spec(
    'model',
    'string',
    ENV_DEFAULTS.model,
    "model spec: 'mlp:256,128', 'cnn:16,32/64', or your own saved model: 'file:DIR/model.json'",
  ),
  spec('batchNorm', 'boolean', ENV_DEFAULTS.batchNorm, 'BatchNorm before each dropout layer'),
  spec(
    'inputDropout',
    'boolean',
    ENV_DEFAULTS.inputDropout,
    'a tunable dropout layer on the input too (the first rate)',
  ),
  spec(
    'concreteDropout',
    'boolean',
    ENV_DEFAULTS.concreteDropout,
    'learn the rates by gradient in the run (Gal et al. 2017); with --agent constant, whose --rate is the initial rate',
  ),
  spec('l2', 'number', ENV_DEFAULTS.l2, 'L2 weight decay on kernels'),
  spec('optimizer', 'string', ENV_DEFAULTS.optimizer, 'adam, or sgd with --momentum', OPTIMIZERS),
  spec('lr', 'number', ENV_DEFAULTS.lr, 'learning rate of the optimizer'),
  spec('momentum', 'number', ENV_DEFAULTS.momentum, 'momentum of --optimizer sgd'),
  spec('batchSize', 'int', ENV_DEFAULTS.batchSize, 'minibatch size'),
  spec('action', 'string', undefined, "how actions change rates (default: the agent's own)", ACTION_MODES),
  spec('rateStep', 'number', ENV_DEFAULTS.rateStep, 'δ of a discrete action'),
  spec('maxDelta', 'number', ENV_DEFAULTS.maxDelta, 'largest change of a continuous action'),
  spec('minRate', 'number', ENV_DEFAULTS.minRate, 'lowest rate'),
  spec('maxRate', 'number', ENV_DEFAULTS.maxRate, 'highest rate'),
  spec('initialRate', 'numbers', ENV_DEFAULTS.initialRates, 'rates at the start of an episode: one, or one per layer'),
  spec(
    'reward',
    'string',
    ENV_DEFAULTS.reward,
    'delta: change in valAcc per step; terminal: final valAcc',
    REWARD_MODES,
  ),
  spec('divergencePenalty', 'number', ENV_DEFAULTS.divergencePenalty, 'reward when training diverges'),
];

/** Every agent's own options, one entry per flag. */
export function agentOptionSpecs(): OptionSpec[] {
  const byFlag = new Map<string, OptionSpec>();
  for (const name of agentNames())
    for (const s of AGENTS[name]!.options) if (!byFlag.has(s.flag)) byFlag.set(s.flag, s);
  return [...byFlag.values()];
}

export function allRunSpecs(): OptionSpec[] {
  return [...RUN_OPTIONS, ...DATA_OPTIONS, ...ENV_OPTIONS, ...agentOptionSpecs()];
}

/** A run with every option checked and resolved. */
export interface ResolvedRun {
  agent: string;
  agentOptions: Record<string, unknown>;
  episodes: number;
  seed: number;
  backend: BackendChoice;
  data: DataConfig;
  env: Partial<DropoutEnvConfig>;
  envConfig: ReturnType<typeof checkEnvConfig>;
  loadedState: unknown;
  loadAgent: string | null;
  label: string | null;
  out: string;
  /** Everything, as config.json records it. */
  options: Record<string, unknown>;
}

/** runs/<date>-<agent>-s<seed>, with -2, -3, … when that folder is taken. */
function defaultOut(agent: string, seed: number): string {
  return freeFolder(path.join('runs', `${folderStamp(new Date())}-${agent}-s${seed}`));
}

/**
 * The options a run folder's config.json recorded, keyed as resolveRun takes them, so the same run can
 * be resolved again (--resume). Derived or display-only entries are left out.
 */
export function runOptionsFromConfig(recorded: Record<string, unknown>): Record<string, unknown> {
  const {
    actionMode,
    initialRates,
    trendWindow: _trend,
    fold: _fold,
    folds: _folds,
    replay: _replay,
    ...rest
  } = recorded;
  // Runs logged before dataset options were checked recorded fashion-mnist's dataDir for every dataset.
  const given: Record<string, unknown> = {
    ...withoutForeignDataOptions(rest),
    action: actionMode,
    initialRate: initialRates,
  };
  for (const [key, value] of Object.entries(given)) if (value === null || value === undefined) delete given[key];
  // A population records its members as episodes; --population says how many.
  if (AGENTS[String(given['agent'])]?.population) delete given['episodes'];
  // Concrete dropout starts from the constant agent's --rate, which config.json records too.
  if (given['concreteDropout'] === true) delete given['initialRate'];
  return given;
}

/**
 * Checks and resolves options given by key (from argv, --config or code). Touches nothing. With
 * `resume`, `out` is an existing run folder rather than one to create.
 */
export function resolveRun(given: Record<string, unknown>, opts: { resume?: boolean } = {}): ResolvedRun {
  const specs = allRunSpecs();
  const opt = (key: string) => (key in given ? given[key] : specs.find((s) => s.key === key)!.default);
  const agent = checkOneOf('--agent', opt('agent'), agentNames());
  const entry = AGENTS[agent]!;
  const ownFlags = new Set(entry.options.map((s) => s.flag));
  for (const s of agentOptionSpecs()) {
    if (s.key in given && !ownFlags.has(s.flag)) {
      throw new ConfigError(
        `${s.flag} does not apply to --agent ${agent} (its options: ${[...ownFlags].join(', ') || 'none'})`,
      );
    }
  }
  const ownOptions = Object.fromEntries(entry.options.filter((s) => s.key in given).map((s) => [s.key, given[s.key]]));
  let agentOptions = checkAgentOptions(agent, ownOptions);
  if (entry.population && 'episodes' in given)
    throw new ConfigError(
      `--episodes does not apply to --agent ${agent}: it trains --population members of --epochs epochs each`,
    );
  const episodes = entry.population
    ? (agentOptions['population'] as number)
    : checkInt('--episodes', opt('episodes'), 1);
  const seed = checkInt('--seed', opt('seed'), 0, 2 ** 32 - 1);
  const backend = requestedBackend(given['backend'] as string | undefined);
  const actionMode = (given['action'] as ActionMode | undefined) ?? entry.defaultActionMode;
  if (!entry.supports.includes(actionMode)) {
    throw new ConfigError(
      `--action ${actionMode} is not supported by --agent ${agent} (supported: ${entry.supports.join(', ')})`,
    );
  }
  // Only the dataset's own options, and only when given: config.json records what the data used.
  const dataOwn = Object.fromEntries(
    Object.keys(DATASET_OPTIONS)
      .filter((k) => given[k] !== undefined)
      .map((k) => [k, given[k]]),
  );
  const data = checkDataConfig({
    dataset: opt('dataset') as DataConfig['dataset'],
    trainSize: opt('trainSize') as number,
    valSize: opt('valSize') as number,
    testSize: opt('testSize') as number,
    ...dataOwn,
    seed,
  });
  const concreteDropout = opt('concreteDropout') as boolean;
  if (concreteDropout === true) {
    // The rates are learned in the run: only a constant agent leaves them alone, and its --rate is where they start.
    if (agent !== 'constant')
      throw new ConfigError(
        `--concrete-dropout learns the rates itself: it needs --agent constant (whose --rate is the initial rate), got --agent ${agent}`,
      );
    if ('initialRate' in given)
      throw new ConfigError(
        '--initial-rate does not apply with --concrete-dropout: --rate of --agent constant is the initial rate of every layer',
      );
    const rate = agentOptions['rate'] as number;
    if (!(rate > 0))
      throw new ConfigError(
        `--rate must be in (0, 1) with --concrete-dropout (the rate is learned through its logit), got ${rate}`,
      );
  }
  // Your own model (--model file:…) starts from its own rates unless --initial-rate says otherwise.
  const ownModel = String(opt('model')).startsWith(MODEL_FILE_PREFIX) && !('initialRate' in given);
  const initialRate =
    concreteDropout === true
      ? (agentOptions['rate'] as number)
      : ownModel
        ? undefined
        : (opt('initialRate') as number | number[]);
  const env: Partial<DropoutEnvConfig> = {
    model: opt('model') as string,
    batchNorm: opt('batchNorm') as boolean,
    inputDropout: opt('inputDropout') as boolean,
    concreteDropout,
    l2: opt('l2') as number,
    optimizer: opt('optimizer') as DropoutEnvConfig['optimizer'],
    lr: opt('lr') as number,
    momentum: opt('momentum') as number,
    batchSize: opt('batchSize') as number,
    actionMode,
    rateStep: opt('rateStep') as number,
    maxDelta: opt('maxDelta') as number,
    minRate: opt('minRate') as number,
    maxRate: opt('maxRate') as number,
    initialRates: Array.isArray(initialRate) && initialRate.length === 1 ? initialRate[0]! : initialRate,
    reward: opt('reward') as DropoutEnvConfig['reward'],
    divergencePenalty: opt('divergencePenalty') as number,
    maxEpochs: checkInt('--epochs', opt('epochs'), 1),
  };
  const envConfig = checkEnvConfig(env);
  // A model file by its absolute path (checkEnvConfig resolves it): jobs and queue workers open that one.
  if (typeof envConfig.model === 'string') env.model = envConfig.model;
  // A population's starting rates must lie within the env's rate bounds.
  if (entry.population) agentOptions = { ...checkPbtConfig(ownOptions as Partial<PbtConfig>, envConfig) };
  for (const key of ['out', 'label', 'loadAgent']) if (given[key] !== undefined) checkString(flagOf(key), given[key]);
  const loadAgent = (given['loadAgent'] as string | undefined) ?? null;
  let loadedState: unknown;
  if (loadAgent !== null) {
    try {
      loadedState = JSON.parse(readFileSync(loadAgent, 'utf8'));
    } catch (err) {
      throw new ConfigError(
        `--load-agent ${loadAgent}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'not valid JSON'}`,
      );
    }
  }
  const out = (given['out'] as string | undefined) ?? defaultOut(agent, seed);
  if (!opts.resume) checkRunDir(out);
  const label = (given['label'] as string | undefined) ?? null;
  const { spec: _spec, userModel: _userModel, rates, maxEpochs, initialRates: _initial, ...envRest } = envConfig;
  // --workers changes where a population trains, never what it logs: config.json leaves it out.
  const { workers: _workers, ...recordedAgentOptions } = agentOptions;
  const options: Record<string, unknown> = {
    agent,
    episodes,
    epochs: maxEpochs,
    ...data,
    ...envRest,
    initialRates: rates,
    backend,
    out,
    loadAgent,
    label,
    ...(entry.population ? recordedAgentOptions : agentOptions),
  };
  return {
    agent,
    agentOptions,
    episodes,
    seed,
    backend,
    data,
    env,
    envConfig,
    loadedState,
    loadAgent,
    label,
    out,
    options,
  };
}

export function packageVersions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const version = (name: string) => {
    try {
      return (require(`${name}/package.json`) as { version: string }).version;
    } catch {
      return 'not installed';
    }
  };
  return {
    droptune: packageVersion(),
    node: process.versions.node,
    '@tensorflow/tfjs': version('@tensorflow/tfjs'),
    '@tensorflow/tfjs-backend-wasm': version('@tensorflow/tfjs-backend-wasm'),
    rxjs: version('rxjs'),
  };
}

export interface RunResult {
  out: string;
  layerNames: string[];
  records: EpisodeRecord[];
  /** Undefined when no episode finished (then there is no summary.json). */
  summary: RunSummary | undefined;
  interrupted: boolean;
}

export interface ExecuteOptions {
  /** The tfjs backend already initialised by the caller. */
  backendInUse: string;
  /** A dataset already loaded for `run.data` (experiments share one across runs). */
  dataset?: Dataset;
  /** Stops gracefully after the epoch in progress. */
  stop$?: Observable<unknown>;
  /** Sees every loop event (progress display). */
  onEvent?: (event: LoopEvent) => void;
  /** Continue the run already in `run.out` from its checkpoint, instead of starting a new folder. */
  resume?: boolean;
  /** Where resume notes go (a torn line repaired, a stale lock taken over). @default stderr */
  warn?: (message: string) => void;
  /** The env seed of each episode (replay). @default the run seed's episode seeds */
  envSeed?: (episode: number) => number;
}

/** What a resumed run starts from. */
interface Start {
  episode: number;
  stepsLines: number;
  episodesLines: number;
  epochsTrained: number;
  records: EpisodeRecord[];
  checkpoint: RunCheckpoint | undefined;
}

/** Cuts the logs back to the checkpoint and reads what stays. */
function resumeFrom(writer: RunWriter, warn: (message: string) => void): Start {
  removeTempFiles(writer.dir); // left by a process killed in the middle of an atomic write
  const checkpoint = readRunCheckpoint(writer.dir);
  const stepsLines = checkpoint?.stepsLines ?? 0;
  const episodesLines = checkpoint?.episodesLines ?? 0;
  for (const [name, keep] of [
    ['steps', stepsLines],
    ['episodes', episodesLines],
  ] as const) {
    const { dropped, torn } = truncateLines(writer.file(name), keep);
    if (torn) warn(`${writer.file(name)}: repaired a torn last line (the process died while writing it)`);
    else if (dropped > 0)
      warn(
        `${writer.file(name)}: dropped ${dropped} line${dropped === 1 ? '' : 's'} of the epoch that was in progress`,
      );
  }
  const records = episodesLines === 0 ? [] : readEpisodes(writer.file('episodes')).value;
  return {
    episode: checkpoint?.episode ?? 1,
    stepsLines,
    episodesLines,
    epochsTrained: checkpoint?.epochsTrained ?? 0,
    records,
    checkpoint,
  };
}

/**
 * Trains the run and writes its folder; returns what it wrote. After every epoch the folder gets a
 * checkpoint, so a run killed at any moment continues with `resume: true` and ends with the same logs.
 */
export async function executeRun(run: ResolvedRun, opts: ExecuteOptions): Promise<RunResult> {
  if (AGENTS[run.agent]!.population)
    throw new Error(`executeRun: --agent ${run.agent} trains a population: use runPbt (src/schedulers/pbt/run-pbt.ts)`);
  const warn = opts.warn ?? ((message: string) => process.stderr.write(`warning: ${message}\n`));
  const dataset = opts.dataset ?? loadDataset(run.data);
  const env = new DropoutEnv(dataset, run.env);
  const agent = AGENTS[run.agent]!.create(run.agentOptions, agentContext(env, agentRng(run.agent, run.seed)));
  const layerNames = [...env.layerNames];
  let release: (() => void) | undefined;
  try {
    if (run.loadedState !== undefined) agent.loadState(run.loadedState);
    // The lock first, then config.json: two processes started on one empty folder cannot both write it.
    if (!opts.resume) mkdirSync(run.out, { recursive: true });
    release = acquireRunLock(run.out, warn);
    const writer = opts.resume
      ? RunWriter.open(run.out)
      : RunWriter.create(run.out, {
          options: run.options,
          seed: run.seed,
          backend: opts.backendInUse,
          versions: packageVersions(),
          observationNames: [...env.observationNames],
          layerNames,
          startedAtMs: Date.now(),
        });
    if (opts.resume) {
      const trainedOn = (JSON.parse(readFileSync(writer.file('config'), 'utf8')) as { backend?: string }).backend;
      if (trainedOn !== undefined && trainedOn !== opts.backendInUse) {
        throw new ConfigError(
          `--resume ${run.out}: the run was trained on the ${trainedOn} backend and this process uses ${opts.backendInUse}, which would not continue it exactly: resume with --backend ${trainedOn}`,
        );
      }
    }
    const start: Start = opts.resume
      ? resumeFrom(writer, warn)
      : { episode: 1, stepsLines: 0, episodesLines: 0, epochsTrained: 0, records: [], checkpoint: undefined };
    const mid = start.checkpoint?.midEpisode;
    if (start.checkpoint) agent.loadState(start.checkpoint.agent);
    if (mid) env.restore(mid.env as EnvSnapshot);

    const started = performance.now();
    const records = [...start.records];
    let { stepsLines, episodesLines, epochsTrained } = start;
    // The episode in progress, as a checkpoint needs it: the agent at its start, its transitions so far.
    let agentAtStart = start.checkpoint?.agent;
    let current = mid ? { reset: mid.reset, transitions: [...mid.transitions] } : undefined;
    const remaining = run.episodes - (start.episode - 1);
    if (remaining > 0) {
      await new Promise<void>((resolve, reject) => {
        const loop$ = run$(env, agent, {
          episodes: remaining,
          firstEpisode: start.episode,
          seed: run.seed,
          stop$: opts.stop$,
          envSeed: opts.envSeed,
          resume: mid ? { reset: mid.reset, transitions: mid.transitions } : undefined,
        });
        // An error thrown by `next` (a full disk, an onEvent callback) would reach RxJS's unhandled-error
        // report; it ends the run and rejects instead.
        let failed = false;
        let subscription: { unsubscribe(): void } | undefined = undefined;
        subscription = loop$.subscribe({
          next: (event) => {
            if (failed) return;
            try {
              onLoopEvent(event);
            } catch (err) {
              failed = true;
              subscription?.unsubscribe();
              reject(err);
            }
          },
          error: reject,
          complete: resolve,
        });
        if (failed) subscription.unsubscribe();

        function onLoopEvent(event: LoopEvent): void {
          // Log first, so what the progress display shows is already on disk; the checkpoint last,
          // so it never counts a line that is not written.
          if (event.type === 'reset') {
            agentAtStart = agent.saveState();
            current = { reset: { observation: event.observation, info: event.info }, transitions: [] };
          }
          if (event.type === 'step') {
            writer.step(stepRecord(event.transition));
            stepsLines += 1;
            epochsTrained += 1;
            current!.transitions.push(event.transition);
            writeRunCheckpoint(run.out, {
              version: 2,
              episode: event.episode,
              stepsLines,
              episodesLines,
              epochsTrained,
              agent: agentAtStart,
              midEpisode: { ...current!, env: env.snapshot() },
            });
          }
          if (event.type === 'episode') {
            writer.episode(event.record);
            episodesLines += 1;
            const state = agent.saveState();
            writer.agentState(state);
            records.push(event.record);
            writeRunCheckpoint(run.out, {
              version: 2,
              episode: event.episode + 1,
              stepsLines,
              episodesLines,
              epochsTrained,
              agent: state,
            });
          }
          opts.onEvent?.(event);
        }
      });
    }
    const finished = records.length >= run.episodes;
    const summary =
      records.length > 0
        ? summarize(run.agent, records, epochsTrained, !finished, performance.now() - started)
        : undefined;
    if (summary) writer.summary(summary);
    // A finished run needs no checkpoint; a stopped one keeps it for --resume.
    if (finished) removeRunCheckpoint(run.out);
    return { out: run.out, layerNames, records, summary, interrupted: !finished };
  } finally {
    release?.();
    env.dispose();
    agent.dispose?.();
  }
}

/** The best finished constant-rate run beside `out` with the same task, if any (a grid's best). */
export function findConstantBaseline(
  run: ResolvedRun,
): { dir: string; summary: RunSummary; rate: unknown } | undefined {
  const parent = path.dirname(run.out);
  if (!existsSync(parent)) return undefined;
  const same = ['dataset', 'model', 'epochs', 'trainSize', 'valSize', 'testSize', 'seed'];
  let best: { dir: string; summary: RunSummary; rate: unknown } | undefined;
  for (const name of readdirSync(parent)) {
    const dir = path.join(parent, name);
    try {
      const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as {
        options: Record<string, unknown>;
      };
      // A concrete-dropout run uses the constant agent but learns its rates: not a constant rate.
      if (
        path.resolve(dir) === path.resolve(run.out) ||
        config.options['agent'] !== 'constant' ||
        config.options['concreteDropout'] === true
      )
        continue;
      if (!same.every((k) => JSON.stringify(config.options[k]) === JSON.stringify(run.options[k]))) continue;
      const summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as RunSummary;
      if (!best || summary.best.valAcc > best.summary.best.valAcc)
        best = { dir, summary, rate: config.options['rate'] };
    } catch {
      continue; // not a finished run
    }
  }
  return best;
}
