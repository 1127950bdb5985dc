/**
 * One agent run, as a library: `resolveRun` checks every option (no side effects, throws ConfigError),
 * `executeRun` trains and writes the run folder. `npm run agent` and every executor of src/execution uses it
 * (it lived in src/cli/run-agent.ts; it moved down so that the library never imports a command).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Observable } from 'rxjs';
import { AGENTS, agentNames, checkAgentOptions, type AgentEntry } from '../../agents/index.js';
import {
  DROPOUT_ENV_OPTIONS,
  DropoutEnv,
  ENV_OPTIONS as DECLARED_ENV_OPTIONS,
  MODEL_FILE_PREFIX,
  checkEnvConfig,
  type DropoutEnvConfig,
  type EnvSnapshot,
} from '../../envs/dropout-env.js';
import { checkInt, checkNumber, checkOneOf, checkString } from '../core/check.js';
import { ConfigError } from '../core/errors.js';
import { packageVersion } from '../core/package-root.js';
import { flagOf, type OptionSpec } from '../core/options.js';
import type { EpisodeRecord, RunSummary } from '../core/run-log.js';
import {
  SELECT_DEFAULTS,
  SELECT_PROTOCOLS,
  checkSelect,
  type SelectName,
  type SelectProtocol,
} from '../core/select.js';
import type { ActionMode } from '../core/types.js';
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
import { LABEL_NOISE_KINDS, type LabelNoiseKind } from '../data/label-noise.js';
import { run$, type LoopEvent } from '../loop/loop.js';
import { agentContext, agentRng } from './make-agent.js';
import { BACKENDS, requestedBackend, type BackendChoice } from '../nn/backend.js';
import { readEpisodes, readRunConfig, readRunEnd } from '../store/read-run.js';
import { RunWriter, checkRunDir, stepRecord, summarize } from '../store/run-writer.js';
import {
  acquireRunLock,
  defaultRunFolder,
  readRunCheckpoint,
  removeRunCheckpoint,
  removeTempFiles,
  cutLogsBack,
  warnOnStderr,
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
  spec(
    'select',
    'string',
    SELECT_DEFAULTS.select,
    "how an episode is scored: final (last epoch's valAcc), smoothed (mean of the last --select-window), best-epoch (restore the best epoch's weights)",
    SELECT_PROTOCOLS,
  ),
  spec('selectWindow', 'int', SELECT_DEFAULTS.selectWindow, '--select smoothed: the last epochs averaged'),
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
  spec(
    'labelNoise',
    'number',
    0,
    'fraction of training and validation labels replaced by another class (test stays clean)',
  ),
  spec(
    'labelNoiseKind',
    'string',
    'symmetric',
    'symmetric: a uniformly drawn other class; pair: each class flips to its fixed partner (c + 1) mod K',
    LABEL_NOISE_KINDS,
  ),
];

/**
 * The env's options as a run takes them (declared once, in envs/dropout-env.ts), and the one run option
 * that only concrete dropout reads: where its rates start.
 */
export const ENV_OPTIONS: OptionSpec[] = [
  ...DECLARED_ENV_OPTIONS,
  {
    key: 'concreteInitialRate',
    flag: '--concrete-initial-rate',
    type: 'number',
    default: null,
    help: "--concrete-dropout: every layer's starting p, in (0, 1) (default: --rate of --agent constant)",
  },
];

/**
 * What resolving a run needs of a trial scheduler (src/schedulers: PBT, successive halving), which
 * `--agent` names like an agent but which trains many trials instead of acting in one. The schedulers
 * sit above this room, so they are passed in (src/schedulers/index.ts does it), never imported here.
 */
export interface TrialMethod {
  /** The name `--agent` takes. */
  name: string;
  /** One line for --help and docs. */
  description: string;
  /** Its own options (merged with the agents' by flag: a shared flag keeps one key and type). */
  options: OptionSpec[];
  /** Its options checked against the env's rate bounds and epochs, every default filled in; throws ConfigError. */
  checkConfig(
    options: Record<string, unknown>,
    env: { minRate: number; maxRate: number; maxEpochs: number },
  ): Record<string, unknown>;
  /** The trials (episodes in the log) a checked config trains. */
  trials(config: Record<string, unknown>): number;
  /** Why --episodes does not apply: what it trains instead (`it trains --population members of …`). */
  trialsNote: string;
}

/** Every agent's own options (and the schedulers'), one entry per flag. */
export function agentOptionSpecs(schedulers: readonly TrialMethod[] = []): OptionSpec[] {
  const byFlag = new Map<string, OptionSpec>();
  const own = [...agentNames().map((name) => AGENTS[name]!.options), ...schedulers.map((s) => s.options)];
  for (const options of own) for (const s of options) if (!byFlag.has(s.flag)) byFlag.set(s.flag, s);
  return [...byFlag.values()];
}

/** Every option of a run; `--agent` also takes the schedulers' names. */
export function allRunSpecs(schedulers: readonly TrialMethod[] = []): OptionSpec[] {
  const run = RUN_OPTIONS.map((s) =>
    s.key === 'agent' && schedulers.length > 0
      ? { ...s, choices: [...agentNames(), ...schedulers.map((m) => m.name)] }
      : s,
  );
  return [...run, ...DATA_OPTIONS, ...ENV_OPTIONS, ...agentOptionSpecs(schedulers)];
}

/** A run with every option checked and resolved. */
export interface ResolvedRun {
  agent: string;
  agentOptions: Record<string, unknown>;
  episodes: number;
  seed: number;
  backend: BackendChoice;
  data: DataConfig;
  /** How episodes are scored and the best one picked (summary.json's best, episode records' `selected`). */
  select: SelectProtocol;
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
  return defaultRunFolder(`${agent}-s${seed}`);
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
  // A scheduler (not an agent) records its trials as episodes; its own options say how many.
  if (!(String(given['agent']) in AGENTS)) delete given['episodes'];
  // Concrete dropout starts from the constant agent's --rate, which config.json records too.
  if (given['concreteDropout'] === true) delete given['initialRate'];
  return given;
}

/**
 * Checks and resolves options given by key (from argv, --config or code). Touches nothing. With
 * `resume`, `out` is an existing run folder rather than one to create.
 */
export function resolveRun(
  given: Record<string, unknown>,
  opts: { resume?: boolean; schedulers?: readonly TrialMethod[] } = {},
): ResolvedRun {
  const schedulers = opts.schedulers ?? [];
  const specs = allRunSpecs(schedulers);
  const opt = (key: string) => (key in given ? given[key] : specs.find((s) => s.key === key)!.default);
  const agent = checkOneOf('--agent', opt('agent'), [...agentNames(), ...schedulers.map((s) => s.name)]);
  const scheduler = schedulers.find((s) => s.name === agent);
  // A scheduler sets every trial's rates itself: the env takes them as they are (absolute actions).
  const entry: Pick<AgentEntry, 'options' | 'supports' | 'defaultActionMode'> = scheduler
    ? { options: scheduler.options, supports: ['absolute'], defaultActionMode: 'absolute' }
    : AGENTS[agent]!;
  const ownFlags = new Set(entry.options.map((s) => s.flag));
  for (const s of agentOptionSpecs(schedulers)) {
    if (s.key in given && !ownFlags.has(s.flag)) {
      throw new ConfigError(
        `${s.flag} does not apply to --agent ${agent} (its options: ${[...ownFlags].join(', ') || 'none'})`,
      );
    }
  }
  const ownOptions = Object.fromEntries(entry.options.filter((s) => s.key in given).map((s) => [s.key, given[s.key]]));
  // A scheduler's options are checked once the env's rate bounds are known, below.
  let agentOptions = scheduler ? {} : checkAgentOptions(agent, ownOptions);
  if (scheduler && 'episodes' in given)
    throw new ConfigError(`--episodes does not apply to --agent ${agent}: ${scheduler.trialsNote}`);
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
    labelNoise: opt('labelNoise') as number,
    labelNoiseKind: opt('labelNoiseKind') as LabelNoiseKind,
    ...dataOwn,
    seed,
  });
  const select = checkSelect({
    select: opt('select') as SelectName,
    selectWindow: opt('selectWindow') as number,
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
    const start = given['concreteInitialRate'];
    if (start !== undefined && start !== null) {
      checkNumber('--concrete-initial-rate', start, 0, 1, true);
      if (!((start as number) > 0))
        throw new ConfigError(`--concrete-initial-rate must be in (0, 1), got ${String(start)}`);
    }
    const rate = (start ?? agentOptions['rate']) as number;
    if (!(rate > 0))
      throw new ConfigError(
        `--rate must be in (0, 1) with --concrete-dropout (the rate is learned through its logit), got ${rate}`,
      );
  }
  // Your own model (--model file:…) starts from its own rates unless --initial-rate says otherwise.
  const ownModel = String(opt('model')).startsWith(MODEL_FILE_PREFIX) && !('initialRate' in given);
  for (const key of ['concreteLr', 'concreteLengthScale', 'concreteInitialRate'])
    if (concreteDropout !== true && given[key] !== undefined && given[key] !== null)
      throw new ConfigError(`${flagOf(key)} applies with --concrete-dropout only`);
  const initialRate =
    concreteDropout === true
      ? ((given['concreteInitialRate'] ?? agentOptions['rate']) as number)
      : ownModel
        ? undefined
        : (opt('initialRate') as number | number[]);
  // Every env option a run takes, by its run key, then those the run decides itself.
  const byRunKey: Record<string, unknown> = {};
  for (const o of DROPOUT_ENV_OPTIONS) if (o.runKey !== undefined) byRunKey[o.key] = opt(o.runKey);
  // Concrete dropout's own options only for its runs: every other run's env (and what jobs carry) stays as it was.
  if (concreteDropout !== true) for (const key of ['concreteLr', 'concreteLengthScale']) delete byRunKey[key];
  const env: Partial<DropoutEnvConfig> = {
    ...byRunKey,
    concreteDropout,
    actionMode,
    initialRates: Array.isArray(initialRate) && initialRate.length === 1 ? initialRate[0]! : initialRate,
    maxEpochs: checkInt('--epochs', opt('epochs'), 1),
    // best-epoch reads the test accuracy of the best epoch's weights: the env measures it at every epoch
    testEachEpoch: opt('testEachEpoch') === true || select.select === 'best-epoch',
  };
  const envConfig = checkEnvConfig(env);
  // A model file by its absolute path (checkEnvConfig resolves it): jobs and queue workers open that one.
  if (typeof envConfig.model === 'string') env.model = envConfig.model;
  // A scheduler's starting rates must lie within the env's rate bounds.
  if (scheduler) agentOptions = scheduler.checkConfig(ownOptions, envConfig);
  const episodes = scheduler ? scheduler.trials(agentOptions) : checkInt('--episodes', opt('episodes'), 1);
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
  const {
    spec: _spec,
    userModel: _userModel,
    rates,
    maxEpochs,
    initialRates: _initial,
    concreteLr,
    concreteLengthScale,
    testEachEpoch,
    ...envRest
  } = envConfig;
  // Concrete dropout's own options in config.json only for its runs: other runs' files stay as they were.
  const concreteOptions =
    concreteDropout === true
      ? { concreteLr, concreteLengthScale, concreteInitialRate: given['concreteInitialRate'] ?? null }
      : {};
  // --workers changes where a population trains, never what it logs: config.json leaves it out.
  const { workers: _workers, ...recordedAgentOptions } = agentOptions;
  const options: Record<string, unknown> = {
    agent,
    episodes,
    epochs: maxEpochs,
    ...data,
    ...envRest,
    ...concreteOptions,
    initialRates: rates,
    backend,
    out,
    loadAgent,
    label,
    ...(scheduler ? recordedAgentOptions : agentOptions),
    // Recorded only away from their defaults: a run without them writes the config.json it always did.
    ...(testEachEpoch ? { testEachEpoch } : {}),
    ...(select.select !== 'final' ? { select: select.select } : {}),
    ...(select.select === 'smoothed' ? { selectWindow: select.selectWindow } : {}),
  };
  return {
    agent,
    agentOptions,
    episodes,
    seed,
    backend,
    data,
    select,
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
  cutLogsBack(
    [
      [writer.file('steps'), stepsLines],
      [writer.file('episodes'), episodesLines],
    ],
    'epoch',
    warn,
  );
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
  if (!(run.agent in AGENTS))
    throw new Error(`executeRun: --agent ${run.agent} is a scheduler over trials: use schedulerFor (src/schedulers)`);
  const warn = opts.warn ?? warnOnStderr;
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
      const trainedOn = readRunConfig(run.out).backend as string | undefined;
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
          select: run.select,
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
            writer.step(stepRecord(event.transition, run.envConfig.testEachEpoch));
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
      if (path.resolve(dir) === path.resolve(run.out)) continue;
      const end = readRunEnd(dir);
      if (!end) continue;
      const { config, summary } = end;
      // A concrete-dropout run uses the constant agent but learns its rates: not a constant rate.
      if (config.options['agent'] !== 'constant' || config.options['concreteDropout'] === true) continue;
      if (!same.every((k) => JSON.stringify(config.options[k]) === JSON.stringify(run.options[k]))) continue;
      if (!best || summary.best.valAcc > best.summary.best.valAcc)
        best = { dir, summary, rate: config.options['rate'] };
    } catch {
      continue; // not a finished run
    }
  }
  return best;
}
