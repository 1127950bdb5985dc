/**
 * The experiment the product exists for, as a library: learned schedules against the best static rate
 * of a grid search, same seeds and (about) the same epoch budget. `npm run experiment` parses options,
 * wires this to an executor and prints.
 *
 * Every method gets G episodes of E epochs per seed, where G is the size of the static-rate grid:
 *   grid       constant rates, one run per grid rate (rate shared by all layers), dropout off to evaluate;
 *              with folds K > 1, each rate is scored by K-fold cross-validation over train ∪ validation
 *              (the GridSearchCV case) and the chosen rate is retrained once on the train split for test
 *   schedules  curriculum, annealed, early, late: one run per grid rate (0 excluded: it is the constant 0)
 *   rules      plateau (seed 000's validation-loss rule), random: G episodes
 *   learners   epsilon-greedy, ucb, thompson, linucb, reinforce: G episodes, learning across them (the
 *              three bandits pick one of the grid's rates per layer for each half of the run, credited
 *              with the episode's final validation accuracy; left out of the headline verdict)
 *   policy     one run of the shipped policy (policies/default.json), applied zero-shot: E epochs
 *   concrete   one run whose rates are learned by gradient (concrete dropout, Gal et al. 2017), from 0.3:
 *              E epochs, 1/G of the grid's budget
 *   concrete-g G concrete runs from the grid's rates (0 as 0.05), picked by validation: the grid's budget
 *   default    one run at the rate a user takes untuned (0.5, a CNN 0.25): policy, concrete and plateau
 *              are also compared with it, at 1/G compute
 *   pbt        a population of G members at distinct per-layer rates over the grid's range, E epochs
 *              each, exploiting and exploring every ~E/5 epochs after a burn-in of E/3
 *              (src/schedulers/pbt/run-pbt.ts); its episodes are its members
 *   sha        successive halving at the grid's budget (≤ G × E epochs): many static per-layer
 *              candidates over the grid's range for a grace period of E/3 epochs, the best third
 *              continued from their checkpoints, rung by rung (src/schedulers/sha/run-sha.ts);
 *              recommends the best of the last rung
 *   sha-schedule  the same over schedules p0 → p1 from epoch t0 (per layer or tied)
 * Each method recommends the episode with the best validation accuracy among all it trained; the figure
 * that matters is that episode's test accuracy (the test split is never seen while choosing), against
 * the grid's pick, paired by seed.
 *
 * Every run is an independent Job except: with `carry`, a learner's run on seed k starts from the
 * agent.json its run on seed k − 1 ended with, so it comes after that run; with folds, the retrain of
 * the chosen rate comes after the fold runs that chose it. Results are gathered in plan order (seed,
 * then method), whatever order the runs finish in, so every executor writes the same files.
 */
import { appendFileSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../store/checkpoint.js';
import { checkBoolean, checkInt, checkOneOf, checkRate, checkString } from '../core/check.js';
import { ConfigError } from '../core/errors.js';
import { flagOf } from '../core/options.js';
import { bestEpisode, selectedScore, type EpisodeRecord } from '../core/run-log.js';
import type { CsvHeaderMode } from '../data/csv.js';
import { checkLabelNoise, type LabelNoiseKind } from '../data/label-noise.js';
import { checkSelect, type SelectName } from '../core/select.js';
import {
  DATASET_OPTIONS,
  checkDataConfig,
  datasetKind,
  loadDataset,
  withoutForeignDataOptions,
} from '../data/dataset.js';
import { DEFAULT_FASHION_DIR } from '../data/fashion-mnist.js';
import { BACKENDS, type BackendChoice } from '../nn/backend.js';
import { compareRuns, formatEstimate, renderMarkdown, type Table } from '../analysis/compare.js';
import {
  recommendedSchedulesPlot,
  renderSvg,
  sweepEpochPlot,
  sweepPlot,
  type EpochPoint,
  type SweepPoint,
} from '../analysis/plots.js';
import { readRun, readRuns } from '../store/read-run.js';
import { writeComparison } from '../analysis/report.js';
import { EXPERIMENT_FILES, RUN_FILES, seedRunsDir } from '../store/layout.js';
import { folderStamp, freeFolder } from '../store/run-folder.js';
import {
  detectableEffect,
  estimate,
  holm,
  pairedDifference,
  pairedTTestP,
  pairsForEffect,
  type Estimate,
} from '../analysis/stats.js';
import { DEFAULT_WORKERS, checkWorkers, type Executor } from '../execution/executor.js';
import { createExecutor } from '../execution/create-executor.js';
import { finishedResult, resolveJob, type Job, type JobResult } from '../execution/job.js';
import { runTasks, type Outcome, type Task } from '../execution/task-graph.js';
import { schedulerFor } from '../schedulers/index.js';
import {
  computePlot,
  computeTable,
  gridSubsetPoints,
  methodPoints,
  type ComputePoint,
  type GridRunScore,
} from './compute.js';
import type { StopFlag } from '../core/stop-flag.js';

export interface Preset {
  /** A built-in name, csv:FILE or idx:DIR. */
  dataset: string;
  model: string;
  trainSize: number;
  valSize: number;
  testSize: number;
  epochs: number;
  grid: number[];
  seeds: number;
  /** Fraction of training and validation labels corrupted (src/data/label-noise.ts). @default 0 */
  labelNoise?: number;
  /** @default 'symmetric' */
  labelNoiseKind?: LabelNoiseKind;
  /** The selection protocol the preset is judged by. @default 'final' */
  select?: SelectName;
  /** Further run options every run of the experiment gets (env options by key: lr, batchSize, …). */
  options?: Record<string, unknown>;
  /** One line for --help: what the preset is for. */
  about?: string;
}

/** The label-noise presets' task: few digits, wide layers, long enough to memorize (each is judged with early stopping). */
const NOISY_MNIST = {
  dataset: 'mnist',
  model: 'mlp:256,256',
  trainSize: 1000,
  valSize: 2000,
  testSize: 2000,
  epochs: 20,
  grid: [0, 0.3, 0.5, 0.7],
  seeds: 10,
} satisfies Omit<Preset, 'labelNoise' | 'select' | 'about'>;

export const PRESETS: Record<PresetName, Preset> = {
  quick: {
    dataset: 'mnist',
    model: 'mlp:256,128',
    trainSize: 1000,
    valSize: 500,
    testSize: 1000,
    epochs: 5,
    grid: [0.1, 0.3, 0.5],
    seeds: 2,
    about: 'a smoke test: every method end to end in about 2 minutes',
  },
  standard: {
    dataset: 'mnist',
    model: 'mlp:256,128',
    trainSize: 2000,
    valSize: 1000,
    testSize: 2000,
    epochs: 10,
    grid: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
    seeds: 5,
    about: "the first version's setting: static rates 0-0.3 are flat here",
  },
  // Chosen by measurement (README, Results): few digits, wide layers, dropout on the input too, long training.
  'mnist-wide': {
    dataset: 'mnist',
    model: 'mlp:512,512',
    trainSize: 1000,
    valSize: 1000,
    testSize: 2000,
    epochs: 30,
    grid: [0, 0.2, 0.3, 0.4, 0.5, 0.6],
    seeds: 5,
    options: { inputDropout: true },
    about: 'few digits, wide layers, input dropout, 30 epochs: rate 0.4 beat 0 by +0.7 ± 0.3 points in the sweep',
  },
  'fashion-cnn': {
    dataset: 'fashion-mnist',
    model: 'cnn:16,32/64',
    trainSize: 500,
    valSize: 1000,
    testSize: 2000,
    epochs: 30,
    grid: [0, 0.1, 0.2, 0.3],
    seeds: 5,
    about: 'the CNN on 500 Fashion-MNIST images for 30 epochs: it overfits, yet no single rate helped it in the sweep',
  },
  // Chosen by a measured sweep (README, Label noise): 40% of the training and validation labels wrong, the
  // test labels clean; judged under best-epoch, so early stopping is the competitor dropout must beat.
  'mnist-noisy': {
    ...NOISY_MNIST,
    labelNoise: 0.4,
    select: 'best-epoch',
    about:
      '40% wrong training/validation labels, clean test, best-epoch: rate 0.7 beat 0 by +3.0 ± 3.1 points (3 seeds) in the sweep',
  },
  // The same with 60% wrong labels (the true class is still the most frequent label, 40% against 6.7% for each other):
  // memorization sets in after 2-3 epochs without dropout.
  'mnist-noisy-60': {
    ...NOISY_MNIST,
    labelNoise: 0.6,
    select: 'best-epoch',
    about:
      '60% wrong training/validation labels, clean test, best-epoch: rate 0.5 beat 0 by +2.85 ± 2.24 points, 0.7 by +3.45 ± 3.67 (3 seeds) in the sweep',
  },
};
export const PRESET_NAMES = [
  'quick',
  'standard',
  'mnist-wide',
  'fashion-cnn',
  'mnist-noisy',
  'mnist-noisy-60',
] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/**
 * Each preset for --help, from PRESETS itself (so it cannot go stale): its name and purpose, then
 * dataset, model, split sizes, epochs, the static-rate grid, seeds and any extra run options.
 */
export function describePresets(indent = '  '): string {
  return PRESET_NAMES.map((name) => {
    const p = PRESETS[name];
    const own: Record<string, unknown> = {
      ...p.options,
      ...(p.labelNoise ? { labelNoise: p.labelNoise } : {}),
      ...(p.labelNoiseKind ? { labelNoiseKind: p.labelNoiseKind } : {}),
      ...(p.select ? { select: p.select } : {}),
    };
    const extra = Object.entries(own).map(([k, v]) => `${flagOf(k)}${v === true ? '' : ` ${String(v)}`}`);
    return [
      `${indent}${name}${p.about ? `: ${p.about}` : ''}`,
      `${indent}    ${p.dataset}, ${p.model}${extra.length > 0 ? ` ${extra.join(' ')}` : ''}; ${p.trainSize} train / ${p.valSize} val / ${p.testSize} test`,
      `${indent}    ${p.epochs} epochs per episode, grid ${p.grid.join(', ')}, ${p.seeds} seeds`,
    ].join('\n');
  }).join('\n');
}

/** A method: the runs it makes for one seed. Options are agent options by key. */
export interface Method {
  name: string;
  kind: 'grid' | 'schedule' | 'rule' | 'learner' | 'population' | 'halving' | 'one-run';
  runs(p: Preset): { name: string; options: Record<string, unknown> }[];
  /**
   * Why the method is left out of the headline verdict (it is still run and tabled, and its verdict is
   * given apart); absent: in the headline.
   */
  notHeadline?: string;
}

/**
 * The single run a user makes without tuning: Srivastava et al. 2014 recommend p = 0.5 for the hidden
 * units of fully connected layers; after conv blocks the common choice is lower (0.25 in Keras's MNIST
 * CNN example, and conv layers have far fewer parameters to co-adapt), so a CNN's one tied rate is 0.25.
 */
export const defaultRate = (model: string): number => (model.trim().startsWith('cnn:') ? 0.25 : 0.5);

/** concrete-g's starting rates: the grid's, with 0 (no logit) replaced by 0.05. */
export const concreteStarts = (grid: readonly number[]): number[] => grid.map((r) => (r > 0 ? r : 0.05));

/** Why the bandits are left out of the headline verdict (README, Bandits). */
export const BANDITS_NOT_HEADLINE =
  'in G episodes a (layer, phase) arm set has one or two pulls of an arm: pooled, they finish a first round in 2-5 episodes, but cannot learn a per-layer preference';

/** Why pbt-half and sha-half are left out of the headline verdict. */
export const HALF_BUDGET_NOT_HEADLINE = "about half the grid's budget: points of the accuracy-against-compute figure";

/** Half the grid's rates, spread over its range (its first and last included), at least 2. */
export function halfGrid(grid: readonly number[]): number[] {
  const sorted = [...grid].sort((a, b) => a - b);
  const k = Math.max(2, Math.floor(sorted.length / 2));
  if (sorted.length <= k) return sorted;
  return Array.from({ length: k }, (_, i) => sorted[Math.round((i * (sorted.length - 1)) / (k - 1))]!);
}

const slug = (r: number) =>
  `r${Math.round(r * 100)
    .toString()
    .padStart(2, '0')}`;
const overGrid = (p: Preset, skipZero: boolean, options: (rate: number) => Record<string, unknown>) =>
  p.grid.filter((r) => !(skipZero && r === 0)).map((rate) => ({ name: slug(rate), options: options(rate) }));
const episodesOf = (agent: string) => (p: Preset) => [{ name: agent, options: { agent, episodes: p.grid.length } }];

/** PBT from `rates(p)`, one member each, exploiting and exploring about five times a run. */
function pbtMethod(name: string, rates: (p: Preset) => number[], notHeadline?: string): Method {
  return {
    name,
    kind: 'population',
    runs: (p) => [
      { name: 'pbt', options: { agent: 'pbt', populationRates: rates(p), interval: pbtInterval(p.epochs) } },
    ],
    ...(notHeadline ? { notHeadline } : {}),
  };
}

/** Successive halving over the grid's range of rates, at `runs(p)` × E epochs; scheduleShare 1: schedules. */
function shaMethod(name: string, scheduleShare: number, runs: (p: Preset) => number, notHeadline?: string): Method {
  return {
    name,
    kind: 'halving',
    runs: (p) => [
      {
        name: 'sha',
        options: {
          agent: 'sha',
          budget: runs(p) * p.epochs,
          rateRange: [Math.min(...p.grid), Math.max(...p.grid)],
          scheduleShare,
        },
      },
    ],
    ...(notHeadline ? { notHeadline } : {}),
  };
}

export const METHODS: Method[] = [
  { name: 'grid', kind: 'grid', runs: (p) => overGrid(p, false, (rate) => ({ agent: 'constant', rate, episodes: 1 })) },
  ...(['curriculum', 'annealed', 'early', 'late'] as const).map((schedule): Method => ({
    name: schedule,
    kind: 'schedule',
    runs: (p) =>
      overGrid(p, true, (rate) => ({
        agent: 'schedule',
        schedule,
        rate,
        episodes: 1,
        cutoff: Math.ceil(p.epochs / 2),
        annealEpochs: p.epochs,
      })),
  })),
  { name: 'plateau', kind: 'rule', runs: episodesOf('plateau') },
  { name: 'random', kind: 'rule', runs: episodesOf('random') },
  // The bandits pick one of the grid's rates per layer for each half of the run, every arm credited with
  // the episode's final validation accuracy and the arm sets pooled; UCB's bonus is sized to that reward
  // (rates differ by a point or two of final accuracy, not the ~0.5 of a first epoch's delta).
  ...['epsilon-greedy', 'ucb', 'thompson'].map((agent): Method => ({
    name: agent,
    kind: 'learner',
    runs: (p) => [
      {
        name: agent,
        options: {
          agent,
          episodes: p.grid.length,
          action: 'absolute',
          phases: 2,
          arms: [...p.grid],
          ...(agent === 'ucb' ? { ucbC: 0.01 } : {}),
        },
      },
    ],
    notHeadline: BANDITS_NOT_HEADLINE,
  })),
  ...['linucb', 'reinforce'].map((agent): Method => ({ name: agent, kind: 'learner', runs: episodesOf(agent) })),
  // One run, charged its E epochs (1/G of the grid's budget): the shipped policy, trained beforehand on
  // other tasks (npm run train-policy; its own cost is in the policy file), applied zero-shot.
  { name: 'policy', kind: 'one-run', runs: () => [{ name: 'policy', options: { agent: 'policy', episodes: 1 } }] },
  // One run, charged its E epochs (1/G of the grid's budget): the rates are learned by gradient from 0.3,
  // the logits at their own learning rate (--concrete-lr, default CONCRETE_LR_SCALE × --lr).
  {
    name: 'concrete',
    kind: 'one-run',
    runs: () => [
      {
        name: 'concrete',
        options: { agent: 'constant', rate: 0.3, concreteDropout: true, episodes: 1 },
      },
    ],
  },
  // Equal compute: G concrete runs started from the grid's rates (0 as 0.05), the best by validation.
  {
    name: 'concrete-g',
    kind: 'schedule',
    runs: (p) =>
      concreteStarts(p.grid).map((rate) => ({
        name: slug(rate),
        options: { agent: 'constant', rate, concreteDropout: true, episodes: 1 },
      })),
  },
  // One run at the default rate a user takes without tuning: the 1/G-compute yardstick for policy, concrete, plateau.
  {
    name: 'default',
    kind: 'one-run',
    runs: (p) => [{ name: 'default', options: { agent: 'constant', rate: defaultRate(p.model), episodes: 1 } }],
  },
  // One member per grid rate, starting where the grid's runs start: the grid's budget, G × E epochs.
  pbtMethod('pbt', (p) => p.grid),
  // Successive halving at the grid's budget, G × E epochs, over the grid's range of rates.
  shaMethod('sha', 0, (p) => p.grid.length),
  shaMethod('sha-schedule', 1, (p) => p.grid.length),
  // The same two at about half the budget, for the accuracy-against-compute figure: a population of half
  // the grid's rates, and halving with half the grid's epochs.
  pbtMethod('pbt-half', (p) => halfGrid(p.grid), HALF_BUDGET_NOT_HEADLINE),
  shaMethod('sha-half', 0, (p) => halfGrid(p.grid).length, HALF_BUDGET_NOT_HEADLINE),
];

/** Epochs between PBT's exploit/explore steps in an experiment: about five steps per run. */
export const pbtInterval = (epochs: number) => Math.max(1, Math.round(epochs / 5));

// config

export interface ExperimentConfig {
  /** Size of the experiment. @default 'quick' */
  preset: PresetName;
  /** Seeds 0..N−1. @default the preset's */
  seeds: number;
  /** Data. @default the preset's */
  dataset: Preset['dataset'];
  /** Model spec. @default the preset's */
  model: string;
  /** Split sizes. @default the preset's */
  trainSize: number;
  valSize: number;
  testSize: number;
  /** Epochs per run. @default the preset's */
  epochs: number;
  /** The static rates of the grid (and the population's starting rates). @default the preset's */
  grid: number[];
  /** Env options every run gets (lr, batchSize, l2, …), over the preset's own. @default the preset's */
  options: Record<string, unknown>;
  /** Fraction of training and validation labels corrupted; the test split stays clean. @default the preset's, else 0 */
  labelNoise: number;
  /** symmetric or pair. @default the preset's, else 'symmetric' */
  labelNoiseKind: LabelNoiseKind;
  /** How every method scores episodes, picks its best and is judged (src/core/select.ts). @default 'final' */
  select: SelectName;
  /** smoothed: the last epochs averaged. @default 3 */
  selectWindow: number;
  /** K-fold cross-validation for the grid (1: the fixed validation split). @default 1 */
  folds: number;
  /** Learners start each seed from the agent.json the previous seed ended with. @default false */
  carry: boolean;
  /** The methods to run, in METHODS order; must include grid. @default every method */
  methods: string[];
  /** Folder for the runs and the report. @default runs/experiment-<preset>-<date> */
  out: string;
  /** tfjs backend. @default 'auto' */
  backend: BackendChoice;
  /** Folder of the fashion-mnist IDX files; fashion-mnist only. @default '/usr/share/datasets/fashion-mnist' */
  dataDir?: string;
  /** csv:FILE only: the label column, by name or 0-based index. @default the last column */
  csvLabel?: string | number;
  /** csv:FILE only: whether the first row is a header. @default 'auto' */
  csvHeader?: CsvHeaderMode;
  /** Runs at once, one worker thread each; 1 runs them in this thread. @default the number of cores */
  workers: number;
  /** Continue the experiment already in `out`: finished runs are read back, the others resumed. @default false */
  resume: boolean;
}

export const EXPERIMENT_DEFAULTS = {
  preset: 'quick',
  folds: 1,
  carry: false,
  methods: METHODS.map((m) => m.name),
  backend: 'auto',
  dataDir: DEFAULT_FASHION_DIR,
  workers: DEFAULT_WORKERS,
} as const satisfies Partial<ExperimentConfig>;

/** runs/experiment-<preset>-<date>-<time> (UTC, `2026-11-23-1109`), with -2, -3, … when that folder is taken. */
export const defaultExperimentOut = (preset: string, now = new Date()): string =>
  freeFolder(path.join('runs', `experiment-${preset}-${folderStamp(now, true)}`));

/** The fully resolved config, or a ConfigError naming the option, the value and what is allowed. */
export function checkExperimentConfig(partial: Partial<ExperimentConfig>): ExperimentConfig {
  const preset = checkOneOf('--preset', partial.preset ?? EXPERIMENT_DEFAULTS.preset, PRESET_NAMES);
  const methods = partial.methods ?? [...EXPERIMENT_DEFAULTS.methods];
  for (const name of methods)
    checkOneOf(
      '--methods',
      name,
      METHODS.map((m) => m.name),
    );
  if (!methods.includes('grid'))
    throw new ConfigError(`--methods must include grid: every method is compared with the grid's pick`);
  // An option of another dataset is refused, except in a resumed plan (older ones saved --data-dir for every dataset).
  const dataset = partial.dataset ?? PRESETS[preset].dataset;
  const given = { dataset, dataDir: partial.dataDir, csvLabel: partial.csvLabel, csvHeader: partial.csvHeader };
  const dataOwn = partial.resume ? withoutForeignDataOptions(given) : given;
  const data = checkDataConfig({ ...dataOwn, dataset });
  const noise = checkLabelNoise({
    labelNoise: partial.labelNoise ?? PRESETS[preset].labelNoise,
    labelNoiseKind: partial.labelNoiseKind ?? PRESETS[preset].labelNoiseKind,
  });
  const select = checkSelect({ select: partial.select ?? PRESETS[preset].select, selectWindow: partial.selectWindow });
  return {
    preset,
    seeds: checkInt('--seeds', partial.seeds ?? PRESETS[preset].seeds, 1, 100),
    dataset: data.dataset,
    model: checkString('--model', partial.model ?? PRESETS[preset].model),
    trainSize: checkInt('--train-size', partial.trainSize ?? PRESETS[preset].trainSize, 1),
    valSize: checkInt('--val-size', partial.valSize ?? PRESETS[preset].valSize, 1),
    testSize: checkInt('--test-size', partial.testSize ?? PRESETS[preset].testSize, 1),
    epochs: checkInt('--epochs', partial.epochs ?? PRESETS[preset].epochs, 1),
    grid: checkGrid(partial.grid ?? PRESETS[preset].grid),
    options: { ...PRESETS[preset].options, ...partial.options },
    ...noise,
    ...select,
    folds: checkInt('--folds', partial.folds ?? EXPERIMENT_DEFAULTS.folds, 1, 20),
    carry: checkBoolean('--carry', partial.carry ?? EXPERIMENT_DEFAULTS.carry),
    methods: METHODS.map((m) => m.name).filter((name) => methods.includes(name)),
    out: checkString('--out', partial.out ?? defaultExperimentOut(preset)),
    backend: checkOneOf('--backend', partial.backend ?? EXPERIMENT_DEFAULTS.backend, BACKENDS),
    ...Object.fromEntries(
      Object.keys(DATASET_OPTIONS)
        .filter((k) => data[k as keyof typeof DATASET_OPTIONS] !== undefined)
        .map((k) => [k, data[k as keyof typeof DATASET_OPTIONS]]),
    ),
    workers: checkWorkers(partial.workers ?? EXPERIMENT_DEFAULTS.workers),
    resume: partial.resume ?? false,
  };
}

/** Keys every saved plan has had, and the others it may hold (runExperiment writes the checked config). */
const PLAN_REQUIRED = ['preset', 'seeds', 'dataset', 'model', 'epochs', 'grid', 'methods'] as const;
const PLAN_KEYS: readonly string[] = [
  ...PLAN_REQUIRED,
  'trainSize',
  'valSize',
  'testSize',
  'options',
  'folds',
  'carry',
  'out',
  'backend',
  'dataDir',
  'csvLabel',
  'csvHeader',
  'labelNoise',
  'labelNoiseKind',
  'select',
  'selectWindow',
];

/**
 * A saved experiment-plan.json, checked as strictly as --config: an object of known keys, the keys
 * every plan records, and values checkExperimentConfig accepts. Errors name the file.
 */
export function checkSavedPlan(value: unknown, file: string): Partial<ExperimentConfig> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigError(`${file}: must hold a JSON object`);
  const plan = value as Record<string, unknown>;
  for (const key of Object.keys(plan))
    if (!PLAN_KEYS.includes(key)) throw new ConfigError(`${file}: unknown key '${key}'`);
  for (const key of PLAN_REQUIRED)
    if (plan[key] === undefined) throw new ConfigError(`${file}: missing '${key}' (every plan records it)`);
  const options = plan['options'];
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options)))
    throw new ConfigError(`${file}: 'options' must be an object of run options, got ${JSON.stringify(options)}`);
  if (!Array.isArray(plan['methods']) || !plan['methods'].every((m) => typeof m === 'string'))
    throw new ConfigError(`${file}: 'methods' must be a list of method names, got ${JSON.stringify(plan['methods'])}`);
  try {
    checkExperimentConfig({ ...(plan as Partial<ExperimentConfig>), resume: true, workers: 1 });
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${file}: ${err.message}`);
    throw err;
  }
  return plan as Partial<ExperimentConfig>;
}

function checkGrid(grid: unknown): number[] {
  if (!Array.isArray(grid) || grid.length === 0)
    throw new ConfigError(`--grid must be a comma-separated list of rates, got ${JSON.stringify(grid)}`);
  const rates = grid.map((r) => checkRate('--grid', r));
  if (new Set(rates).size !== rates.length)
    throw new ConfigError(`--grid must not repeat a rate, got ${rates.join(',')}`);
  return rates;
}

// plan

/** A method's pick under one protocol: the validation score that chose it and its test accuracy. */
export interface ProtocolPick {
  valAcc: number;
  testAcc: number;
}

/**
 * What a method recommends for one seed: the best episode over its runs under the experiment's
 * selection protocol (valAcc is that protocol's score), and, side by side, the picks the final and
 * best-epoch protocols would make.
 */
export interface MethodPick {
  method: string;
  seed: number;
  valAcc: number;
  testAcc: number;
  epochs: number;
  schedule: number[][];
  from: string;
  /** The picks under final and best-epoch (best-epoch only when the runs measured test every epoch). */
  protocols?: { final: ProtocolPick; 'best-epoch'?: ProtocolPick };
}

type Scored = EpisodeRecord;

/** The final and best-epoch picks among `episodes`, for the report's side-by-side. */
function protocolPicks(episodes: readonly Scored[]): NonNullable<MethodPick['protocols']> {
  const final = bestEpisode(episodes.map((e) => ({ valAcc: e.valAcc, testAcc: e.testAcc })))!;
  const measured = episodes.every((e) => e.bestEpoch !== undefined);
  const best = measured
    ? bestEpisode(episodes.map((e) => ({ valAcc: e.bestEpoch!.score, testAcc: e.bestEpoch!.testAcc })))
    : undefined;
  return {
    final: { valAcc: final.valAcc, testAcc: final.testAcc },
    ...(best ? { 'best-epoch': { valAcc: best.valAcc, testAcc: best.testAcc } } : {}),
  };
}

/** One method on one seed: its tasks, and how their results make its pick. */
export interface Group {
  method: Method;
  seed: number;
  tasks: Task[];
  pick(done: ReadonlyMap<string, JobResult>): MethodPick;
}

export interface ExperimentPlan {
  config: ExperimentConfig;
  /** The preset with the config's dataset and model. */
  preset: Preset;
  methods: Method[];
  /** Per seed, then per method: the order of the report. */
  groups: Group[];
  /** Every task, in the order they are dispatched. */
  tasks: Task[];
  /** Epochs of every run, fold runs excluded. */
  totalEpochs: number;
}

function pickBest(method: string, seed: number, results: JobResult[]): MethodPick {
  const episodes = results.flatMap((r) => r.records.map((e) => ({ ...e, from: `${r.out}#${e.episode}` })));
  // Successive halving recommends the best of its last rung (its summary's), never a candidate it stopped.
  const halving = METHODS.find((m) => m.name === method)?.kind === 'halving';
  const best = halving
    ? episodes.find((e) => results.some((r) => e.from === `${r.out}#${r.summary!.best.episode}`))!
    : bestEpisode(episodes)!;
  // So are the side-by-side protocols' picks: among the candidates that reached the last rung (trained to the end).
  const full = Math.max(...episodes.map((e) => e.epochs));
  const candidates = halving ? episodes.filter((e) => e.epochs === full) : episodes;
  return {
    method,
    seed,
    valAcc: selectedScore(best),
    testAcc: best.selected?.testAcc ?? best.testAcc,
    epochs: episodes.reduce((s, e) => s + e.epochs, 0),
    schedule: best.schedule,
    from: best.from,
    protocols: protocolPicks(candidates),
  };
}

/** Checks every run of the experiment (a bad option fails before hours of training) and lays out its jobs. */
export function planExperiment(partial: Partial<ExperimentConfig>): ExperimentPlan {
  const config = checkExperimentConfig(partial);
  const { dataset, model, trainSize, valSize, testSize, epochs, grid, seeds, options } = config;
  const preset: Preset = {
    ...PRESETS[config.preset],
    dataset,
    model,
    trainSize,
    valSize,
    testSize,
    epochs,
    grid,
    seeds,
    options,
  };
  const methods = METHODS.filter((m) => config.methods.includes(m.name));
  const dataOwn = Object.fromEntries(
    Object.keys(DATASET_OPTIONS)
      .filter((k) => config[k as keyof typeof DATASET_OPTIONS] !== undefined)
      .map((k) => [k, config[k as keyof typeof DATASET_OPTIONS]]),
  );
  const common = {
    ...options,
    dataset,
    model,
    trainSize,
    valSize,
    testSize,
    epochs,
    ...dataOwn,
    ...(config.labelNoise > 0 ? { labelNoise: config.labelNoise, labelNoiseKind: config.labelNoiseKind } : {}),
    // Every run measures test after each epoch: the report gives the final and best-epoch protocols side by side.
    testEachEpoch: true,
    ...(config.select !== 'final' ? { select: config.select } : {}),
    ...(config.select === 'smoothed' ? { selectWindow: config.selectWindow } : {}),
    backend: config.backend,
  };
  const runsDir = (seed: number) => seedRunsDir(config.out, seed);
  const groups: Group[] = [];
  let totalEpochs = 0;
  for (let seed = 0; seed < config.seeds; seed++) {
    for (const method of methods) {
      const jobs = method.runs(preset).map((r): Job => ({
        options: {
          ...common,
          ...r.options,
          label: method.kind === 'grid' || method.kind === 'schedule' ? `${method.name} ${r.name}` : method.name,
        },
        seed,
        out: path.join(runsDir(seed), `${method.name}-${r.name}`),
        ...(config.resume ? { resume: true } : {}),
      }));
      const resolved = jobs.map(resolveJob);
      totalEpochs += resolved.reduce(
        (s, r) =>
          s + (schedulerFor(r.agent)?.budgetEpochs(r.agentOptions, preset.epochs) ?? r.episodes * preset.epochs),
        0,
      );
      if (method.kind === 'grid' && config.folds > 1) {
        groups.push(kFoldGrid(method, seed, jobs, config.folds));
        continue;
      }
      const carried = config.carry && method.kind === 'learner' && seed > 0;
      const tasks = jobs.map((job): Task => {
        if (!carried) return { id: job.out, job };
        // --carry: a learner goes on from what it learned on the previous seed (another split, other weights).
        const previous = path.join(runsDir(seed - 1), path.basename(job.out));
        return {
          id: job.out,
          after: [previous],
          job: { ...job, options: { ...job.options, loadAgent: path.join(previous, RUN_FILES.agent) } },
        };
      });
      groups.push({
        method,
        seed,
        tasks,
        pick: (done) =>
          pickBest(
            method.name,
            seed,
            tasks.map((t) => done.get(t.id)!),
          ),
      });
    }
  }
  // A user's file is read once here, so a bad row or too few samples fails now, not in every run.
  const { kind } = datasetKind(dataset);
  if (kind === 'csv' || kind === 'idx') loadDataset({ ...dataOwn, dataset, trainSize, valSize, testSize, seed: 0 });
  return { config, preset, methods, groups, tasks: groups.flatMap((g) => g.tasks), totalEpochs };
}

/** GridSearchCV-style: each rate scored by mean validation accuracy over K folds, the winner retrained for test. */
function kFoldGrid(method: Method, seed: number, jobs: Job[], folds: number): Group {
  const foldTasks = jobs.map((job) =>
    Array.from({ length: folds }, (_, fold): Task => {
      const foldJob: Job = {
        ...job,
        out: `${job.out}-fold${fold}`,
        options: { ...job.options, label: 'grid-cv' },
        fold: { fold, folds },
      };
      resolveJob(foldJob);
      return { id: foldJob.out, job: foldJob };
    }),
  );
  const choose = (done: ReadonlyMap<string, JobResult>) => {
    let best: { job: Job; score: number } | undefined;
    jobs.forEach((job, i) => {
      const score = foldTasks[i]!.reduce((s, t) => s + selectedScore(done.get(t.id)!.records[0]!), 0) / folds;
      if (!best || score > best.score) best = { job, score };
    });
    return best!;
  };
  const retrain: Task = {
    id: `${path.dirname(jobs[0]!.out)}/grid-cv-retrain`,
    after: foldTasks.flat().map((t) => t.id),
    job: (done) => choose(done).job,
  };
  return {
    method,
    seed,
    tasks: [...foldTasks.flat(), retrain],
    pick: (done) => {
      const { job, score } = choose(done);
      const record = done.get(retrain.id)!.records[0]!;
      const foldEpochs = foldTasks.flat().reduce((s, t) => s + done.get(t.id)!.records[0]!.epochs, 0);
      return {
        method: 'grid',
        seed,
        valAcc: score,
        testAcc: record.selected?.testAcc ?? record.testAcc,
        epochs: foldEpochs + record.epochs,
        schedule: record.schedule,
        from: `${job.out} (rate ${String(job.options['rate'])}, ${folds}-fold)`,
      };
    },
  };
}

// run

/** One method on one seed, reported in plan order: its pick, or why it has none. */
export type GroupReport =
  | { method: string; seed: number; pick: MethodPick; seconds: number }
  | { method: string; seed: number; missing: string };

export interface RunExperimentOptions {
  /** Where the jobs run. @default createExecutor(config.workers), closed at the end */
  executor?: Executor;
  /** Once requested, no run starts and the running ones end after their epoch in progress. */
  stop?: StopFlag;
  /** Each method on each seed as soon as it and every one before it in the plan is settled. */
  onGroup?: (report: GroupReport) => void;
  /** Each job as it settles (completion order): a failure's `error` is one line naming the run. */
  onOutcome?: (task: Task, outcome: Outcome) => void;
}

export interface ExperimentResult {
  /** In plan order: seed, then method. */
  picks: MethodPick[];
  /** Method/seeds left out of the tables, in plan order, with the reason. */
  missing: { method: string; seed: number; reason: string }[];
  /** Runs that failed, one line each. */
  failures: string[];
  interrupted: boolean;
  wallMs: number;
}

const why = (o: Outcome | undefined): string | undefined =>
  o === undefined
    ? 'not run'
    : o.status === 'failed'
      ? o.error
      : o.status === 'not started'
        ? `a run was not started (${o.reason})`
        : o.result.interrupted
          ? `${o.result.out} was interrupted`
          : undefined;

/** Runs the plan and gathers every method's pick per seed. Never throws for a failed run: see `missing`. */
/** The experiment's checked options, written before any run starts, so that --resume plans the same runs. */
export const PLAN_FILE = EXPERIMENT_FILES.plan;

export async function runExperiment(plan: ExperimentPlan, opts: RunExperimentOptions = {}): Promise<ExperimentResult> {
  const started = performance.now();
  // Written again on a resume: it may have added methods.
  mkdirSync(plan.config.out, { recursive: true });
  const { resume: _resume, workers: _workers, ...options } = plan.config;
  writeFileAtomic(path.join(plan.config.out, PLAN_FILE), JSON.stringify(options, null, 2) + '\n');
  const executor = opts.executor ?? createExecutor(Math.min(plan.config.workers, plan.tasks.length));
  const reports: GroupReport[] = [];
  const outcomes = new Map<string, Outcome>();
  const failures: string[] = [];

  // A group is reported once it and every group before it are settled: plan order, not completion order.
  const report = (group: Group): GroupReport => {
    const reason = group.tasks.map((t) => why(outcomes.get(t.id))).find((r) => r !== undefined);
    if (reason !== undefined) return { method: group.method.name, seed: group.seed, missing: reason };
    const done = new Map(
      group.tasks.map((t) => [t.id, (outcomes.get(t.id) as Extract<Outcome, { status: 'done' }>).result]),
    );
    const seconds = group.tasks.reduce(
      (s, t) => s + (outcomes.get(t.id) as Extract<Outcome, { status: 'done' }>).seconds,
      0,
    );
    return { method: group.method.name, seed: group.seed, pick: group.pick(done), seconds };
  };
  const flush = () => {
    for (
      let next = plan.groups[reports.length];
      next && next.tasks.every((t) => outcomes.has(t.id));
      next = plan.groups[reports.length]
    ) {
      const r = report(next);
      reports.push(r);
      opts.onGroup?.(r);
    }
  };

  try {
    await runTasks(plan.tasks, executor, {
      stop: opts.stop,
      onOutcome: (task, outcome) => {
        outcomes.set(task.id, outcome);
        if (outcome.status === 'failed') failures.push(outcome.error);
        opts.onOutcome?.(task, outcome);
        flush();
      },
    });
  } finally {
    if (!opts.executor) await executor.close();
  }
  flush();
  return {
    picks: reports.flatMap((r) => ('pick' in r ? [r.pick] : [])),
    missing: reports.flatMap((r) => ('missing' in r ? [{ method: r.method, seed: r.seed, reason: r.missing }] : [])),
    failures,
    interrupted: opts.stop?.requested ?? false,
    wallMs: performance.now() - started,
  };
}

// report

export type Verdict = 'beats the grid' | 'worse' | 'no detectable difference';

/**
 * What a paired difference in test accuracy (method − grid, by seed) supports: "beats the grid" only
 * when its 95% interval lies above 0, "worse" when below, otherwise no detectable difference (with
 * one seed there is no interval, so nothing is detectable).
 */
export function verdictOf(diff: Estimate | undefined): Verdict {
  if (diff?.half === undefined) return 'no detectable difference';
  if (diff.mean - diff.half > 0) return 'beats the grid';
  if (diff.mean + diff.half < 0) return 'worse';
  return 'no detectable difference';
}

/** Per method: its verdict against the grid, and the epochs it used per seed against the grid's. */
export interface MethodVerdict {
  method: string;
  seeds: number;
  /** Test accuracy, method − grid, paired by seed, in accuracy units (×100 for points). */
  diff: Estimate | undefined;
  wins: number;
  verdict: Verdict;
  epochs: number;
  gridEpochs: number;
  /** Methods that picked the same episodes (same schedule and accuracies) on every seed. */
  sameAs: string[];
  /** The smallest difference detectable at 80% power from this spread and seed count (accuracy units). */
  detectable: number | undefined;
  /** Two-sided paired t-test p-value, raw and Holm-adjusted across the methods compared. */
  p: number | undefined;
  pHolm: number | undefined;
  /** The verdict after Holm's correction across methods (the raw one is `verdict`). */
  holmVerdict: Verdict;
  /** The seed count cannot reach a detectable effect of UNDERPOWERED_POINTS with this spread. */
  underpowered: boolean;
  /** Seeds that would reach it with this spread (undefined: fewer than two seeds, or more than 1000). */
  seedsNeeded: number | undefined;
}

/** The detectable effect (points) an experiment must reach before "no detectable difference" means anything. */
export const UNDERPOWERED_POINTS = 0.5;

const samePick = (a: MethodPick, b: MethodPick) =>
  a.valAcc === b.valAcc && a.testAcc === b.testAcc && JSON.stringify(a.schedule) === JSON.stringify(b.schedule);

export function methodVerdicts(picks: readonly MethodPick[], methods: readonly string[]): MethodVerdict[] {
  const of = (method: string) => picks.filter((p) => p.method === method);
  const bySeed = (method: string) => new Map(of(method).map((p) => [p.seed, p.testAcc]));
  const meanEpochs = (method: string) =>
    Math.round(of(method).reduce((s, p) => s + p.epochs, 0) / Math.max(1, of(method).length));
  const grid = bySeed('grid');
  const verdicts = methods
    .filter((m) => m !== 'grid' && of(m).length > 0)
    .map((method) => {
      const diff = pairedDifference(bySeed(method), grid);
      const mine = of(method);
      const sameAs = methods.filter((other) => {
        if (other === method || other === 'grid') return false;
        const theirs = new Map(of(other).map((p) => [p.seed, p]));
        return mine.every((p) => theirs.has(p.seed) && samePick(p, theirs.get(p.seed)!)) && theirs.size === mine.length;
      });
      return {
        method,
        seeds: diff.keys.length,
        diff: diff.estimate,
        wins: diff.differences.filter((d) => d > 0).length,
        verdict: verdictOf(diff.estimate),
        epochs: meanEpochs(method),
        gridEpochs: meanEpochs('grid'),
        sameAs,
        ...power(diff.estimate),
      };
    });
  // Holm across the methods that have a p-value: the family of comparisons with the grid.
  const tested = verdicts.filter((v) => v.p !== undefined);
  const adjusted = holm(tested.map((v) => v.p!));
  tested.forEach((v, i) => {
    v.pHolm = adjusted[i]!;
    v.holmVerdict = v.pHolm <= 0.05 ? (v.diff!.mean > 0 ? 'beats the grid' : 'worse') : 'no detectable difference';
  });
  return verdicts;
}

/** Detectable effect (paired t, 80% power, α = 0.05), raw p-value and whether the seeds suffice for 0.5 points. */
function power(diff: Estimate | undefined) {
  const sd = diff?.std;
  const detectable = sd === undefined ? undefined : detectableEffect(sd, diff!.n);
  const target = UNDERPOWERED_POINTS / 100;
  return {
    detectable,
    p: diff ? pairedTTestP(diff) : undefined,
    pHolm: undefined as number | undefined,
    holmVerdict: 'no detectable difference' as Verdict,
    underpowered: detectable === undefined || detectable > target,
    seedsNeeded: sd === undefined ? undefined : sd === 0 ? 2 : pairsForEffect(sd, target),
  };
}

/**
 * The verdict's power, one line per method: the detectable effect at 80% power, the raw and Holm-corrected
 * verdicts, and "underpowered" where the seeds cannot reach a 0.5-point detectable effect.
 */
export function powerText(picks: readonly MethodPick[], methods: readonly string[]): string {
  const verdicts = methodVerdicts(picks, methods);
  if (verdicts.length === 0) return '';
  const pts = (x: number | undefined, digits = 2) => (x === undefined ? '—' : (100 * x).toFixed(digits));
  const lines = verdicts.map((v) => {
    const p = v.p === undefined ? 'p —' : `p ${v.p.toFixed(3)}, Holm ${v.pHolm!.toFixed(3)}`;
    const under = v.underpowered
      ? `; underpowered: ${v.seedsNeeded === undefined ? 'more seeds' : `${v.seedsNeeded} seeds`} would detect ${UNDERPOWERED_POINTS} pts`
      : '';
    return `- ${v.method}: detectable ${pts(v.detectable)} pts at ${v.seeds} seeds; ${p}; raw: ${v.verdict}; Holm: ${v.holmVerdict}${under}`;
  });
  return `Power (paired t, 80% power, α = 0.05; MDE = (t_{0.975, n−1} + t_{0.8, n−1}) · sd / √n; Holm across ${verdicts.length} methods):\n${lines.join('\n')}`;
}

/** Per method across seeds: what it picked, on validation and on test, and test minus the grid's pick. */
export function experimentTable(
  picks: readonly MethodPick[],
  methods: readonly string[],
  folds: number,
  missing: ExperimentResult['missing'] = [],
): Table {
  const verdicts = new Map(methodVerdicts(picks, methods).map((v) => [v.method, v]));
  const rows = methods.map((method) => {
    const mine = picks.filter((p) => p.method === method);
    if (mine.length === 0) return [method, '0', '—', '—', '—', '—', '—', '—', '—', '—'];
    const v = verdicts.get(method);
    const epochs = Math.round(mine.reduce((s, p) => s + p.epochs, 0) / mine.length);
    return [
      method,
      String(mine.length),
      v ? `${epochs} (${(epochs / v.gridEpochs).toFixed(2)}×)` : String(epochs),
      formatEstimate(estimate(mine.map((p) => p.valAcc)), 4),
      formatEstimate(estimate(mine.map((p) => p.testAcc)), 4),
      v?.diff ? formatEstimate(v.diff, 2, 100, true) : '—',
      v ? `${v.wins}/${v.seeds}` : '—',
      v ? `${v.verdict}${v.sameAs.length > 0 ? ` (same picks as ${v.sameAs.join(', ')})` : ''}` : '—',
      v?.detectable !== undefined
        ? `${(100 * v.detectable).toFixed(2)}${v.underpowered ? ' (underpowered)' : ''}`
        : '—',
      v ? v.holmVerdict : '—',
    ];
  });
  const left =
    missing.length > 0
      ? `; left out, a run did not finish: ${missing.map((m) => `${m.method} seed ${m.seed}`).join(', ')}`
      : '';
  return {
    title: 'Recommended schedule per method (mean ± 95% CI over seeds)',
    note: `valAcc chooses the episode; testAcc is that episode's held-out accuracy; Δ test is paired by seed against the grid's pick${folds > 1 ? ` (grid scored by ${folds}-fold CV)` : ''}, in points; epochs/seed against the grid's; "beats the grid" only when Δ's 95% interval lies above 0${left}`,
    headers: [
      'method',
      'seeds',
      'epochs/seed',
      'valAcc (picked)',
      'testAcc',
      'Δ test vs grid (pts)',
      'wins',
      'verdict',
      'detectable (pts)',
      'Holm verdict',
    ],
    align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'r', 'l'],
    rows,
  };
}

/** The one-run methods compared at 1/G compute with one run at the default rate (when both ran), paired by seed. */
export function againstDefault(picks: readonly MethodPick[], methods: readonly string[]): string[] {
  const bySeed = (method: string) => new Map(picks.filter((p) => p.method === method).map((p) => [p.seed, p.testAcc]));
  if (!methods.includes('default') || bySeed('default').size === 0) return [];
  const oneRun = methods.filter(
    (m) => m !== 'default' && (m === 'plateau' || METHODS.find((x) => x.name === m)?.kind === 'one-run'),
  );
  const parts = oneRun.flatMap((m) => {
    const diff = pairedDifference(bySeed(m), bySeed('default')).estimate;
    return diff
      ? [`${m} ${formatEstimate(diff, 2, 100, true)} pts (${verdictOf(diff).replace('the grid', 'it')})`]
      : [];
  });
  return parts.length === 0 ? [] : [`against one run at the default rate, at 1/G compute: ${parts.join(', ')}`];
}

/** The verdict in sentences: what beats the grid, what is worse, what cannot be told apart. */
export function verdictText(picks: readonly MethodPick[], methods: readonly string[]): string {
  const verdicts = methodVerdicts(picks, methods);
  if (verdicts.length === 0) return 'Verdict: no method besides the grid finished.';
  const list = (vs: MethodVerdict[]) =>
    vs
      .map(
        (v) =>
          `${v.method} (${v.diff ? formatEstimate(v.diff, 2, 100, true) : '—'} pts, ${(v.epochs / v.gridEpochs).toFixed(2)}× the grid's epochs)`,
      )
      .join(', ');
  const left = verdicts.filter((v) => METHODS.find((m) => m.name === v.method)?.notHeadline !== undefined);
  const headline = verdicts.filter((v) => !left.includes(v));
  const group = (verdict: Verdict) => headline.filter((v) => v.verdict === verdict);
  const lines = [
    `beats the grid: ${group('beats the grid').length > 0 ? list(group('beats the grid')) : 'none'}`,
    `worse than the grid: ${group('worse').length > 0 ? list(group('worse')) : 'none'}`,
    `no detectable difference: ${
      group('no detectable difference').length > 0
        ? group('no detectable difference')
            .map((v) => v.method)
            .join(', ')
        : 'none'
    }`,
    ...[...new Set(left.map((v) => METHODS.find((m) => m.name === v.method)!.notHeadline!))].map(
      (why) =>
        `left out of the headline (${why}): ${left
          .filter((v) => METHODS.find((m) => m.name === v.method)!.notHeadline === why)
          .map((v) => `${v.method} ${v.verdict}`)
          .join(', ')}`,
    ),
    ...againstDefault(picks, methods),
  ];
  const seeds = Math.min(...verdicts.map((v) => v.seeds));
  const caveat =
    seeds < 5
      ? `\n(${seeds} seed${seeds === 1 ? '' : 's'}: an interval rests on a spread estimated from ${seeds} difference${seeds === 1 ? '' : 's'}; read this as a smoke test, not a finding)`
      : '';
  return `Verdict (test accuracy, paired by seed against the grid's pick, 95% CI):\n${lines.map((l) => `- ${l}`).join('\n')}${caveat}`;
}

/**
 * The final and best-epoch protocols side by side: per method, the test accuracy of what each protocol
 * picks and its difference from the grid's pick under the same protocol, paired by seed.
 */
export function protocolTable(picks: readonly MethodPick[], methods: readonly string[]): Table {
  const under = (protocol: 'final' | 'best-epoch'): MethodPick[] =>
    picks.flatMap((p) => {
      const chosen = p.protocols?.[protocol];
      return chosen ? [{ ...p, ...chosen }] : [];
    });
  const cells = (protocol: 'final' | 'best-epoch', method: string): string[] => {
    const all = under(protocol);
    const mine = all.filter((p) => p.method === method);
    if (mine.length === 0) return ['—', '—'];
    const v = methodVerdicts(all, methods).find((m) => m.method === method);
    return [
      formatEstimate(estimate(mine.map((p) => p.testAcc)), 4),
      v?.diff ? formatEstimate(v.diff, 2, 100, true) : '—',
    ];
  };
  return {
    title: 'Selection protocols side by side: final (last epoch) and best-epoch (restore the best weights)',
    note: "each protocol picks each method's best episode by its own validation score; Δ is paired by seed against the grid's pick under the same protocol, in points",
    headers: ['method', 'final testAcc', 'final Δ (pts)', 'best-epoch testAcc', 'best-epoch Δ (pts)'],
    align: ['l', 'r', 'r', 'r', 'r'],
    rows: methods.map((method) => [method, ...cells('final', method), ...cells('best-epoch', method)]),
  };
}

/** Every finished grid run of the experiment (fixed split only), by seed and rate: what the sweeps read. */
function finishedGridRuns(plan: ExperimentPlan): { rate: number; seed: number; dir: string; result: JobResult }[] {
  if (plan.config.folds > 1 || !plan.config.methods.includes('grid')) return [];
  return Array.from({ length: plan.config.seeds }, (_, seed) => seed).flatMap((seed) =>
    plan.preset.grid.flatMap((rate) => {
      const dir = path.join(seedRunsDir(plan.config.out, seed), `grid-${slug(rate)}`);
      const result = finishedResult(dir);
      return result && result.records.length > 0 ? [{ rate, seed, dir, result }] : [];
    }),
  );
}

/** Every finished grid run of the experiment (fixed split only), as a sweep: rate → accuracies per seed. */
export function gridSweep(plan: ExperimentPlan): SweepPoint[] {
  return finishedGridRuns(plan).map(({ rate, seed, result }) => {
    const record = result.records[0]!;
    const best = record.bestEpoch ? { bestEpochTestAcc: record.bestEpoch.testAcc } : {};
    return { rate, seed, valAcc: record.valAcc, testAcc: record.testAcc, ...best };
  });
}

/** Every finished grid run's test accuracy after each epoch (runs that measured it), for the sweep against epochs. */
export function gridEpochSweep(plan: ExperimentPlan): EpochPoint[] {
  return finishedGridRuns(plan).flatMap(({ rate, seed, dir }) =>
    readRun(dir).value.steps.flatMap((s) =>
      s.testAcc === undefined ? [] : [{ rate, seed, epoch: s.epoch, testAcc: s.testAcc }],
    ),
  );
}

/** Every finished grid run of the experiment (fixed split only), scored as the selection protocol scores it. */
export function gridRunScores(plan: ExperimentPlan): GridRunScore[] {
  return finishedGridRuns(plan).map(({ rate, seed, result }) => {
    const record = result.records[0]!;
    return {
      rate,
      seed,
      score: selectedScore(record),
      testAcc: record.selected?.testAcc ?? record.testAcc,
      epochs: result.records.reduce((s, e) => s + e.epochs, 0),
    };
  });
}

/** Accuracy against compute (src/experiment/compute.ts): the grid at k of its rates, and every method at its epochs. */
export function computePoints(plan: ExperimentPlan, picks: readonly MethodPick[]): ComputePoint[] {
  const names = plan.methods.map((m) => m.name);
  return [...gridSubsetPoints(gridRunScores(plan), plan.preset.grid), ...methodPoints(picks, names)];
}

/** The sweep as a table: per rate, mean ± 95% CI over seeds, and test minus rate 0's, paired by seed. */
export function sweepTable(points: readonly SweepPoint[]): Table {
  const rates = [...new Set(points.map((p) => p.rate))].sort((a, b) => a - b);
  const lowest = rates[0]!;
  const withBest = points.length > 0 && points.every((p) => p.bestEpochTestAcc !== undefined);
  const bySeed = (rate: number, acc: (p: SweepPoint) => number) =>
    new Map(points.filter((p) => p.rate === rate).map((p) => [p.seed, acc(p)]));
  const delta = (rate: number, acc: (p: SweepPoint) => number) => {
    const diff = pairedDifference(bySeed(rate, acc), bySeed(lowest, acc)).estimate;
    return rate === lowest || !diff ? '—' : formatEstimate(diff, 2, 100, true);
  };
  const bestAcc = (p: SweepPoint) => p.bestEpochTestAcc!;
  return {
    title: 'The grid as a sweep: accuracy per static rate (mean ± 95% CI over seeds)',
    note: `Δ test is paired by seed against rate ${lowest}, in points${withBest ? "; best epoch: the test accuracy of the best-validation epoch's weights" : ''}`,
    headers: [
      'rate',
      'seeds',
      'valAcc',
      'testAcc',
      `Δ test vs ${lowest} (pts)`,
      ...(withBest ? ['testAcc (best epoch)', `Δ best epoch vs ${lowest} (pts)`] : []),
    ],
    align: ['r', 'r', 'r', 'r', 'r', ...(withBest ? (['r', 'r'] as const) : [])],
    rows: rates.map((rate) => {
      const mine = points.filter((p) => p.rate === rate);
      return [
        String(rate),
        String(mine.length),
        formatEstimate(estimate(mine.map((p) => p.valAcc)), 4),
        formatEstimate(estimate(mine.map((p) => p.testAcc)), 4),
        delta(rate, (p) => p.testAcc),
        ...(withBest ? [formatEstimate(estimate(mine.map(bestAcc)), 4), delta(rate, bestAcc)] : []),
      ];
    }),
  };
}

export interface ExperimentFiles {
  table: Table;
  /** experiment.json, experiment.md, schedules.svg, sweep.svg (when the grid has runs). */
  files: string[];
  /** The compare report's files: none when interrupted (its runs are partial) or when no run started. */
  compareFiles: string[];
}

/**
 * Writes experiment.json, experiment.md, schedules.svg and, unless the experiment was interrupted,
 * the compare report over every run (tables per run and per label, plots, report.html).
 */
export async function writeExperiment(
  plan: ExperimentPlan,
  result: ExperimentResult,
  backend: string,
): Promise<ExperimentFiles> {
  const { config, preset } = plan;
  const names = plan.methods.map((m) => m.name);
  const table = experimentTable(result.picks, names, config.folds, result.missing);
  mkdirSync(config.out, { recursive: true });
  const json = path.join(config.out, EXPERIMENT_FILES.json);
  const md = path.join(config.out, EXPERIMENT_FILES.md);
  const svg = path.join(config.out, EXPERIMENT_FILES.schedules);
  const compute = computePoints(plan, result.picks);
  const incomplete = result.missing.length > 0 ? { interrupted: result.interrupted, missing: result.missing } : {};
  writeFileSync(
    json,
    JSON.stringify(
      {
        preset: config.preset,
        config: { ...preset, seeds: config.seeds, folds: config.folds, carry: config.carry },
        backend,
        wallMs: result.wallMs,
        picks: result.picks,
        compute,
        ...incomplete,
      },
      null,
      2,
    ) + '\n',
  );
  const power = powerText(result.picks, names);
  writeFileSync(
    md,
    `# droptune experiment: ${config.preset}\n\n${renderMarkdown([table])}\n\n${verdictText(result.picks, names)}\n\n${power === '' ? '' : `${power}\n\n`}${renderMarkdown([protocolTable(result.picks, names)])}\n`,
  );
  writeFileSync(svg, await renderSvg(recommendedSchedulesPlot(result.picks, names)));
  const sweep = gridSweep(plan);
  const files = [json, md, svg];
  if (sweep.length > 0) {
    const sweepSvg = path.join(config.out, EXPERIMENT_FILES.sweep);
    writeFileSync(
      sweepSvg,
      await renderSvg(
        sweepPlot(
          sweep,
          `${config.preset}: ${preset.dataset} ${preset.model}, ${preset.trainSize} train, ${preset.epochs} epochs`,
        ),
      ),
    );
    appendFileSync(md, `\n${renderMarkdown([sweepTable(sweep)])}\n`);
    files.push(sweepSvg);
    const curves = gridEpochSweep(plan);
    if (curves.length > 0) {
      const epochsSvg = path.join(config.out, 'sweep-epochs.svg');
      writeFileSync(epochsSvg, await renderSvg(sweepEpochPlot(curves, `${config.preset}: test accuracy by epoch`)));
      files.push(epochsSvg);
    }
  }
  if (compute.length > 0) {
    const computeSvg = path.join(config.out, EXPERIMENT_FILES.compute);
    const gridEpochs = compute.find((p) => p.series === 'grid' && p.rates === preset.grid.length)?.epochs ?? 0;
    writeFileSync(
      computeSvg,
      await renderSvg(
        computePlot(compute, `${config.preset}: test accuracy against epochs spent (select ${config.select})`),
      ),
    );
    appendFileSync(md, `\n${renderMarkdown([computeTable(compute, gridEpochs)])}\n`);
    files.push(computeSvg);
  }
  let compareFiles: string[] = [];
  const seedDirs = Array.from({ length: config.seeds }, (_, seed) => seedRunsDir(config.out, seed)).filter(
    (dir) => existsSync(dir) && statSync(dir).isDirectory(),
  );
  if (!result.interrupted && seedDirs.length > 0) {
    const read = readRuns(seedDirs);
    compareFiles = await writeComparison(
      path.join(config.out, EXPERIMENT_FILES.compare),
      compareRuns(read.value),
      read.value,
    );
  }
  return { table, files, compareFiles };
}
