/**
 * Training a transferable dropout policy (agents/policy.ts) on a set of training tasks, as a library;
 * `npm run train-policy` (src/cli/train-policy.ts) is its command.
 *
 * Learner: the cross-entropy method (Rubinstein 1999; noisy CEM as in Szita & Lőrincz 2006) over the
 * controller's nine numbers θ = (bias, depth, input, progress, gap, rise, spatial, width, logit smoothing). Why not
 * REINFORCE:
 * - the quantity to improve is one noisy number per episode (the validation accuracy at the end of a
 *   training run; seed-to-seed noise is one or two points, the effects a few); REINFORCE would add
 *   per-epoch action noise on top of it, which perturbs the very training run it scores, and then apply
 *   a deterministic mean it never trained with;
 * - CEM ranks whole candidates, so the scale of accuracies on different tasks does not matter, and
 *   every candidate of a generation trains on the same data split and seeds (common random numbers),
 *   so their comparison is paired;
 * - nine interpretable numbers need tens of candidates, not thousands of gradient steps, and the result
 *   is a deterministic controller that can be read.
 *
 * One generation: candidate 0 is the current mean m, candidates 1 … N−1 are m + s ⊙ ε (ε standard
 * normal from the trainer's seeded stream). Each one runs one episode on every training task under
 * `taskSeeds` seeds (the same data seeds and env seeds for all candidates; fresh ones each generation),
 * and so do the constant rates BASELINE_RATES. An episode's score is its validation accuracy over the
 * last 3 epochs (epoch-to-epoch jitter on a few hundred validation samples is about a point; the
 * average keeps the objective at the end of training). A candidate's fitness is minus its normalized
 * regret, averaged over tasks and seeds: (best constant's score − its score) / max(best − worst
 * constant, 0.02) on that task and seed. Plain regret in points would rank candidates exactly as their
 * mean score does (the best constant is the same for all of them under common seeds); dividing by the
 * constants' spread makes every task count by how much the rate matters there, not by how many points
 * its accuracy swings, with a floor of two points (about seed noise) so that a task where the rate does
 * not matter cannot dominate. A regret ≤ 0 is a candidate at least as good as the best constant. The E
 * best set the next m (their mean) and s (their spread, plus 10% of the initial spread so that noisy
 * rankings do not collapse the search early).
 *
 * After the search, a check: the final controller and constant rates 0, 0.3 and 0.5 on `checkSeeds`
 * fresh seeds of every training task, recorded in the policy file (test accuracy too). It says how the
 * policy does where it was trained; the held-out evaluation is a separate experiment.
 *
 * Everything is seeded from --seed: the same seed and tasks give the same policy file on one backend
 * (except the wall time it records).
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { ConstantAgent } from '../../agents/constant.js';
import {
  CONTROLLER_KIND,
  POLICY_FORMAT,
  POLICY_VERSION,
  PolicyAgent,
  WEIGHT_NAMES,
  type Controller,
  type PolicyFile,
} from '../../agents/policy.js';
import { DropoutEnv, checkEnvConfig, type DropoutEnvConfig } from '../../envs/dropout-env.js';
import { checkInt, checkKnownKeys, checkString } from '../core/check.js';
import { ConfigError } from '../core/errors.js';
import { createRng } from '../core/rng.js';
import type { Agent, AgentContext } from '../core/types.js';
import {
  checkDataConfig,
  loadDataset,
  splitPool,
  type DataConfig,
  type Dataset,
  type DatasetName,
  type Pool,
} from '../data/dataset.js';
import { loadMnist } from '../data/mnist.js';
import { run$, type EpisodeEvent } from '../loop/loop.js';
import { agentContext } from '../run/make-agent.js';
import { writeRefused } from '../store/run-writer.js';
import { packageVersions } from '../run/run.js';

// training tasks

/** One training task: a dataset of a size, a model, a length of training. */
export interface TrainingTask {
  name: string;
  /** A built-in name, csv:FILE or idx:DIR. */
  dataset: string;
  trainSize: number;
  valSize: number;
  /** The env scores the test split at the end of every episode; small, it costs little. */
  testSize: number;
  model: string;
  /** A dropout layer on the input too (the first rate). Optional in a task file. @default false */
  inputDropout: boolean;
  epochs: number;
  lr: number;
  batchSize: number;
  /**
   * Further data options of the task (DataConfig keys, e.g. a label-noise rate once the data room has
   * one), passed to the loader as they are. Optional. @default {}
   */
  data?: Record<string, unknown>;
}

const synthetic = (
  name: string,
  trainSize: number,
  model: string,
  epochs: number,
  { lr = 0.003, batchSize = 32, inputDropout = false } = {},
): TrainingTask => ({
  name,
  dataset: 'synthetic',
  trainSize,
  valSize: 500,
  testSize: 500,
  model,
  inputDropout,
  epochs,
  lr,
  batchSize,
});
const mnist = (
  name: string,
  trainSize: number,
  model: string,
  epochs: number,
  { inputDropout = false, lr = 0.001 } = {},
): TrainingTask => ({
  name,
  dataset: 'mnist',
  trainSize,
  valSize: 500,
  testSize: 500,
  model,
  inputDropout,
  epochs,
  lr,
  batchSize: 64,
});

/**
 * The task sets --tasks names. `default` (version 2) spans the synthetic task (20% label noise: constant
 * rates 0.3–0.6 beat 0 by 3–7 points of final validation accuracy) at two depths, one with input
 * dropout; small MNIST MLPs, one with input dropout, one wide (a single layer of 1,024); and two small
 * MNIST CNNs (spatial dropout after each conv block, the layer type the version 1 tasks lacked).
 * Epochs are cut to 12–15 so that a candidate's episodes on every task cost ~9 s of wasm on one idle core. Held out for
 * evaluation: Fashion-MNIST (every model), MNIST with 1,000–2,000 training digits and two layers of 512.
 * `v1` is version 1's nine tasks (MLPs only); `tiny` is for tests (seconds). A task's `data` field
 * passes further data options (a label-noise rate) to the loader.
 */
export const TASK_SETS: Record<string, TrainingTask[]> = {
  default: [
    synthetic('syn-200-mlp128x2', 200, 'mlp:128,128', 15),
    synthetic('syn-200-input-mlp128,64,32', 200, 'mlp:128,64,32', 15, { inputDropout: true }),
    mnist('mnist-300-input-mlp256x2', 300, 'mlp:256,256', 15, { inputDropout: true }),
    mnist('mnist-300-mlp1024', 300, 'mlp:1024', 15),
    mnist('mnist-300-cnn8,16/32', 300, 'cnn:8,16/32', 15, { lr: 0.002 }),
    mnist('mnist-300-cnn16/64', 300, 'cnn:16/64', 12, { lr: 0.002 }),
  ],
  v1: [
    synthetic('syn-200-mlp128x2', 200, 'mlp:128,128', 20),
    synthetic('syn-100-mlp256', 100, 'mlp:256', 25),
    synthetic('syn-800-mlp64x2', 800, 'mlp:64,64', 15),
    synthetic('syn-300-mlp128,64,32', 300, 'mlp:128,64,32', 20),
    synthetic('syn-2000-mlp32', 2000, 'mlp:32', 10, { lr: 0.01, batchSize: 64 }),
    synthetic('syn-200-input-mlp128x2', 200, 'mlp:128,128', 20, { inputDropout: true }),
    mnist('mnist-400-input-mlp256x2', 400, 'mlp:256,256', 20, { inputDropout: true }),
    mnist('mnist-600-mlp128', 600, 'mlp:128', 15),
    mnist('mnist-500-mlp384', 500, 'mlp:384', 30),
  ],
  tiny: [
    {
      name: 'tiny-a',
      dataset: 'synthetic',
      trainSize: 64,
      valSize: 64,
      testSize: 32,
      model: 'mlp:16',
      inputDropout: false,
      epochs: 3,
      lr: 0.03,
      batchSize: 32,
    },
    {
      name: 'tiny-b',
      dataset: 'synthetic',
      trainSize: 64,
      valSize: 64,
      testSize: 32,
      model: 'mlp:16,8',
      inputDropout: true,
      epochs: 3,
      lr: 0.03,
      batchSize: 32,
    },
  ],
};

const TASK_KEYS: (keyof TrainingTask)[] = [
  'name',
  'dataset',
  'trainSize',
  'valSize',
  'testSize',
  'model',
  'inputDropout',
  'epochs',
  'lr',
  'batchSize',
  'data',
];
const OPTIONAL_TASK_KEYS: (keyof TrainingTask)[] = ['inputDropout', 'data'];

/** Checks one task (from a file or a named set) by building its data and env configs; nothing is loaded. */
function checkTask(value: unknown, where: string): TrainingTask {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigError(`${where} must be an object with ${TASK_KEYS.join(', ')}`);
  const t = value as Record<string, unknown>;
  const required = TASK_KEYS.filter((k) => !OPTIONAL_TASK_KEYS.includes(k));
  const missing = required.find((k) => !(k in t));
  if (missing)
    throw new ConfigError(
      `${where} has no '${missing}' (a task needs ${required.join(', ')}; inputDropout and data are optional)`,
    );
  try {
    checkKnownKeys(where, t, TASK_KEYS);
    const name = checkString('name', t['name']);
    const extra = t['data'] ?? {};
    if (typeof extra !== 'object' || extra === null || Array.isArray(extra))
      throw new ConfigError(`data must be an object of data options, got ${JSON.stringify(extra)}`);
    const data = checkDataConfig({
      ...(extra as Partial<DataConfig>),
      dataset: t['dataset'] as DatasetName,
      trainSize: t['trainSize'] as number,
      valSize: t['valSize'] as number,
      testSize: t['testSize'] as number,
    });
    const env = checkEnvConfig({
      model: t['model'] as string,
      inputDropout: (t['inputDropout'] ?? false) as boolean,
      maxEpochs: t['epochs'] as number,
      lr: t['lr'] as number,
      batchSize: t['batchSize'] as number,
    });
    return {
      name,
      dataset: data.dataset,
      trainSize: data.trainSize,
      valSize: data.valSize,
      testSize: data.testSize,
      model: t['model'] as string,
      inputDropout: env.inputDropout,
      epochs: env.maxEpochs,
      lr: env.lr,
      batchSize: env.batchSize,
      ...(Object.keys(extra).length > 0 ? { data: { ...(extra as Record<string, unknown>) } } : {}),
    };
  } catch (err) {
    if (err instanceof ConfigError && !err.message.startsWith(where)) throw new ConfigError(`${where}: ${err.message}`);
    throw err;
  }
}

/** A named task set, or a JSON file holding an array of tasks. */
export function readTasks(spec: string): TrainingTask[] {
  const named = TASK_SETS[spec];
  if (named) return named.map((t) => ({ ...t }));
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(spec, 'utf8'));
  } catch (err) {
    const why =
      (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? `not a task set (${Object.keys(TASK_SETS).join(', ')}) nor a file`
        : 'not valid JSON';
    throw new ConfigError(`--tasks ${spec}: ${why}`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0)
    throw new ConfigError(`--tasks ${spec}: must hold a non-empty JSON array of tasks`);
  const tasks = parsed.map((t, i) => checkTask(t, `--tasks ${spec}: task ${i}`));
  const names = new Set<string>();
  for (const t of tasks) {
    if (names.has(t.name)) throw new ConfigError(`--tasks ${spec}: two tasks are named '${t.name}'`);
    names.add(t.name);
  }
  return tasks;
}

// config

export interface TrainPolicyConfig {
  /** A task set name (see TASK_SETS) or a JSON file of tasks. @default 'default' */
  tasks: string;
  /** Seed of the search, the data splits and every training run. @default 0 */
  seed: number;
  /** CEM generations. @default 6 */
  generations: number;
  /** Candidates per generation, the current mean among them. @default 12 */
  population: number;
  /** Best candidates that set the next mean and spread. @default 4 */
  elites: number;
  /** Seeds per task each candidate (and each baseline constant) is scored on, per generation. @default 2 */
  taskSeeds: number;
  /** Fresh seeds per task for the closing check against constant rates (0: no check). @default 1 */
  checkSeeds: number;
  /** Where the policy file is written. @default 'policies/default.json' */
  out: string;
}

export const TRAIN_POLICY_DEFAULTS: TrainPolicyConfig = {
  tasks: 'default',
  seed: 0,
  generations: 6,
  population: 12,
  elites: 4,
  taskSeeds: 2,
  checkSeeds: 1,
  out: 'policies/default.json',
};

export type ResolvedTrainPolicy = TrainPolicyConfig & { taskList: TrainingTask[] };

export function checkTrainPolicyConfig(partial: Partial<TrainPolicyConfig>): ResolvedTrainPolicy {
  checkKnownKeys('train-policy', partial, Object.keys(TRAIN_POLICY_DEFAULTS));
  const c = { ...TRAIN_POLICY_DEFAULTS, ...partial };
  const population = checkInt('--population', c.population, 2, 1000);
  const elites = checkInt('--elites', c.elites, 1, 1000);
  if (elites >= population)
    throw new ConfigError(`--elites must be fewer than --population (${population}), got ${elites}`);
  const tasks = checkString('--tasks', c.tasks);
  return {
    tasks,
    seed: checkInt('--seed', c.seed, 0, 2 ** 32 - 1),
    generations: checkInt('--generations', c.generations, 1, 1000),
    population,
    elites,
    taskSeeds: checkInt('--task-seeds', c.taskSeeds, 1, 100),
    checkSeeds: checkInt('--check-seeds', c.checkSeeds, 0, 100),
    out: checkString('--out', c.out),
    taskList: readTasks(tasks),
  };
}

// the controller's parameters as a vector

/** θ: the eight weights, then the logit of the smoothing. */
export const THETA_NAMES = [...WEIGHT_NAMES, 'smoothingLogit'] as const;
/** The targets' ceiling: the env's default --max-rate. */
export const RATE_CAP = 0.8;
/**
 * Start: version 1's shipped controller (trained on MLPs only; spatial and width at 0), so the search
 * spends its generations on what the new tasks and inputs add rather than re-finding the basics.
 */
const INITIAL_MEAN = [-0.3734, -1.0185, -0.6246, -1.8515, -0.2811, 1.1291, 0, 0, Math.log(0.1574 / (1 - 0.1574))];
/** Half version 1's spread on the weights it trained, its full spread on the two new ones and the smoothing. */
const INITIAL_SD = [0.75, 0.75, 0.75, 0.75, 0.35, 0.35, 1.5, 1.5, 1.5];
/** The constant rates every candidate's regret is measured against, on the same tasks and seeds. */
export const BASELINE_RATES = [0, 0.25, 0.5];
/** The smallest spread of the constants a regret is divided by: about the seed noise of a score. */
const REGRET_FLOOR = 0.02;
/** Noise added to the elites' spread, as a fraction of the initial spread. */
const SD_FLOOR = 0.1;
/** Fitness: mean validation accuracy over this many last epochs. */
const SCORE_EPOCHS = 3;

const round4 = (v: number): number => Math.round(v * 1e4) / 1e4;

/** θ → controller, rounded to 4 decimals: the file holds exactly what was evaluated. */
export function controllerOf(theta: readonly number[]): Controller {
  const weights = Object.fromEntries(WEIGHT_NAMES.map((n, i) => [n, round4(theta[i]!)])) as Controller['weights'];
  const smoothing = Math.min(1, Math.max(1e-4, round4(1 / (1 + Math.exp(-theta[WEIGHT_NAMES.length]!)))));
  return { kind: CONTROLLER_KIND, rateCap: RATE_CAP, weights, smoothing };
}

// episodes

/** MNIST's pool is parsed once; the other datasets are cheap to make. */
function datasetLoader(): (task: TrainingTask, seed: number) => Dataset {
  let mnistPool: Pool | undefined;
  return (task, seed) => {
    const c: Partial<DataConfig> = {
      ...(task.data as Partial<DataConfig> | undefined),
      dataset: task.dataset,
      trainSize: task.trainSize,
      valSize: task.valSize,
      testSize: task.testSize,
      seed,
    };
    if (task.dataset !== 'mnist') return loadDataset(c);
    mnistPool ??= loadMnist();
    return splitPool('mnist', mnistPool, checkDataConfig(c));
  };
}

function envConfigOf(task: TrainingTask): Partial<DropoutEnvConfig> {
  return {
    model: task.model,
    inputDropout: task.inputDropout,
    maxEpochs: task.epochs,
    lr: task.lr,
    batchSize: task.batchSize,
    actionMode: 'absolute',
  };
}

export interface EpisodeScore {
  /** Mean validation accuracy over the last epochs (the fitness). */
  score: number;
  valAcc: number;
  testAcc: number;
  epochs: number;
  /** Rates per epoch (input to output). */
  schedule: number[][];
}

/** One episode through the loop the CLI uses, under `envSeed`. */
async function scoreEpisode(env: DropoutEnv, agent: Agent, envSeed: number): Promise<EpisodeScore> {
  const events = await lastValueFrom(
    run$(env, agent, { episodes: 1, seed: 0, envSeed: () => envSeed }).pipe(toArray()),
  );
  const episode = events.find((e): e is EpisodeEvent => e.type === 'episode')!;
  const valAccs = episode.transitions.map((t) => t.info.valAcc);
  const last = valAccs.slice(-SCORE_EPOCHS);
  return {
    score: last.reduce((a, b) => a + b, 0) / last.length,
    valAcc: episode.record.valAcc,
    testAcc: episode.record.testAcc,
    epochs: episode.transitions.length,
    schedule: episode.record.schedule,
  };
}

/**
 * Runs every agent (built for the env by `makeAgent`) on one task with one data seed and env seed; the
 * env is built once and disposed after.
 */
async function scoreOnTask(
  task: TrainingTask,
  dataset: Dataset,
  envSeed: number,
  makeAgent: ((ctx: AgentContext) => Agent)[],
): Promise<EpisodeScore[]> {
  const env = new DropoutEnv(dataset, envConfigOf(task));
  try {
    const scores: EpisodeScore[] = [];
    for (const make of makeAgent) {
      const agent = make(agentContext(env, createRng(0)));
      try {
        scores.push(await scoreEpisode(env, agent, envSeed));
      } finally {
        agent.dispose?.();
      }
    }
    return scores;
  } finally {
    env.dispose();
  }
}

// the search

export interface GenerationReport {
  generation: number;
  /** Fitness (minus the normalized regret) of the mean that started the generation (candidate 0). */
  meanFitness: number;
  bestFitness: number;
  eliteFitness: number;
  /** The mean's and the best candidate's plain regret in points of validation accuracy, over tasks and seeds. */
  meanRegret: number;
  bestRegret: number;
  /** θ after the update. */
  mean: number[];
  sd: number[];
  epochs: number;
}

export interface CheckReport {
  seeds: number;
  /** Per agent (policy, rate 0, rate 0.3, rate 0.5): mean over tasks and seeds. */
  summary: Record<string, { score: number; testAcc: number }>;
  perTask: {
    task: string;
    seed: number;
    results: Record<string, { score: number; testAcc: number; schedule?: number[][] }>;
  }[];
}

export interface TrainPolicyHooks {
  /** The command line that produced the file, recorded in it. */
  command: string;
  backendInUse: string;
  onGeneration?: (report: GenerationReport) => void;
  /** Called once the check has finished. */
  onCheck?: (report: CheckReport) => void;
}

const CHECK_RATES = [0, 0.3, 0.5];

/**
 * Each candidate's normalized and plain regret on one task and seed, from the scores of the candidates
 * and of the baseline constants on it (see the header).
 */
export function regretsOf(
  candidates: readonly number[],
  baselines: readonly number[],
): { normalized: number; plain: number }[] {
  const best = Math.max(...baselines);
  const spread = Math.max(best - Math.min(...baselines), REGRET_FLOOR);
  return candidates.map((score) => ({ normalized: (best - score) / spread, plain: best - score }));
}

/** Seeds of the data split and the env for (phase, index, task), from the run seed. */
function taskSeeds(seed: number, phase: string, index: number, task: number): { data: number; env: number } {
  const rng = createRng(`train-policy:${seed}:${phase}:${index}:${task}`);
  return { data: rng.seed(), env: rng.seed() };
}

/** Trains a policy and returns the file's contents (write it with writePolicyFile). */
export async function trainPolicy(config: ResolvedTrainPolicy, hooks: TrainPolicyHooks): Promise<PolicyFile> {
  const started = performance.now();
  const tasks = config.taskList;
  const load = datasetLoader();
  const rng = createRng(`train-policy:${config.seed}:cem`);
  let mean = [...INITIAL_MEAN];
  let sd = [...INITIAL_SD];
  const generations: GenerationReport[] = [];
  let searchEpochs = 0;
  let episodes = 0;

  for (let g = 0; g < config.generations; g++) {
    const thetas = Array.from({ length: config.population }, (_, i) =>
      i === 0 ? [...mean] : mean.map((m, j) => m + sd[j]! * rng.normal()),
    );
    const controllers = thetas.map(controllerOf);
    const makers = [
      ...controllers.map((c) => (ctx: AgentContext) => new PolicyAgent(c, ctx)),
      ...BASELINE_RATES.map((rate) => (ctx: AgentContext) => new ConstantAgent({ rate }, ctx)),
    ];
    const fitness = Array<number>(config.population).fill(0);
    const regret = Array<number>(config.population).fill(0);
    const cells = tasks.length * config.taskSeeds;
    let epochs = 0;
    for (const [k, task] of tasks.entries()) {
      for (let j = 0; j < config.taskSeeds; j++) {
        const seeds = taskSeeds(config.seed, 'search', g * config.taskSeeds + j, k);
        const scores = await scoreOnTask(task, load(task, seeds.data), seeds.env, makers);
        const regrets = regretsOf(
          scores.slice(0, config.population).map((x) => x.score),
          scores.slice(config.population).map((x) => x.score),
        );
        regrets.forEach((r, i) => {
          fitness[i]! -= r.normalized / cells;
          regret[i]! += r.plain / cells;
        });
        epochs += scores.reduce((sum, x) => sum + x.epochs, 0);
        episodes += scores.length;
      }
    }
    // ties keep the earlier candidate (the mean first), so the order is deterministic
    const ranked = fitness.map((f, i) => ({ f, i })).sort((a, b) => b.f - a.f || a.i - b.i);
    const elites = ranked.slice(0, config.elites).map((r) => thetas[r.i]!);
    mean = mean.map((_, j) => elites.reduce((s, t) => s + t[j]!, 0) / elites.length);
    sd = mean.map((m, j) =>
      Math.sqrt(elites.reduce((s, t) => s + (t[j]! - m) ** 2, 0) / elites.length + (SD_FLOOR * INITIAL_SD[j]!) ** 2),
    );
    searchEpochs += epochs;
    const report: GenerationReport = {
      generation: g,
      meanFitness: round4(fitness[0]!),
      bestFitness: round4(ranked[0]!.f),
      eliteFitness: round4(ranked.slice(0, config.elites).reduce((s, r) => s + r.f, 0) / config.elites),
      meanRegret: round4(regret[0]!),
      bestRegret: round4(regret[ranked[0]!.i]!),
      mean: mean.map(round4),
      sd: sd.map(round4),
      epochs,
    };
    generations.push(report);
    hooks.onGeneration?.(report);
  }

  const controller = controllerOf(mean);
  const check = await checkPolicy(config, controller, load, hooks);
  const checkEpochs = check.epochs;
  const wallSeconds = Math.round((performance.now() - started) / 100) / 10;
  return {
    format: POLICY_FORMAT,
    version: POLICY_VERSION,
    controller,
    layers: null,
    training: {
      command: hooks.command,
      options: {
        tasks: config.tasks,
        seed: config.seed,
        generations: config.generations,
        population: config.population,
        elites: config.elites,
        taskSeeds: config.taskSeeds,
        checkSeeds: config.checkSeeds,
      },
      seed: config.seed,
      learner: `cross-entropy method over θ = (${THETA_NAMES.join(', ')}), from version 1's controller: ${config.generations} generations × ${config.population} candidates (the mean among them) × ${config.taskSeeds} seeds per task, the best ${config.elites} set the next mean and spread; fitness = minus the regret against the best of the constant rates ${BASELINE_RATES.join(', ')} on each task and seed (score: the last ${SCORE_EPOCHS} epochs' validation accuracy), divided by the constants' spread there (at least ${REGRET_FLOOR}), averaged`,
      tasks,
      heldOut: 'not trained on: fashion-mnist (any model), MNIST with 1,000–2,000 training digits, two layers of 512',
      cost: {
        epochs: searchEpochs + checkEpochs,
        searchEpochs,
        checkEpochs,
        episodes: episodes + check.episodes,
        wallSeconds,
        backend: hooks.backendInUse,
      },
      search: {
        thetaNames: [...THETA_NAMES],
        initialMean: INITIAL_MEAN.map(round4),
        initialSd: INITIAL_SD,
        generations,
      },
      check: check.report,
      versions: packageVersions(),
    },
  };
}

/** The final controller against constant rates on fresh seeds of every training task. */
async function checkPolicy(
  config: ResolvedTrainPolicy,
  controller: Controller,
  load: (task: TrainingTask, seed: number) => Dataset,
  hooks: TrainPolicyHooks,
): Promise<{ report: CheckReport; epochs: number; episodes: number }> {
  const names = ['policy', ...CHECK_RATES.map((r) => `rate ${r}`)];
  const makers = [
    (ctx: AgentContext) => new PolicyAgent(controller, ctx),
    ...CHECK_RATES.map((rate) => (ctx: AgentContext) => new ConstantAgent({ rate }, ctx)),
  ];
  const perTask: CheckReport['perTask'] = [];
  let epochs = 0;
  for (let c = 0; c < config.checkSeeds; c++) {
    for (const [k, task] of config.taskList.entries()) {
      const seeds = taskSeeds(config.seed, 'check', c, k);
      const scores = await scoreOnTask(task, load(task, seeds.data), seeds.env, makers);
      epochs += scores.reduce((s, x) => s + x.epochs, 0);
      const results = Object.fromEntries(
        scores.map((s, i) => [
          names[i]!,
          { score: round4(s.score), testAcc: s.testAcc, ...(i === 0 ? { schedule: s.schedule } : {}) },
        ]),
      );
      perTask.push({ task: task.name, seed: c, results });
    }
  }
  const summary = Object.fromEntries(
    names.map((n) => {
      const rows = perTask.map((p) => p.results[n]!);
      const avg = (f: (r: { score: number; testAcc: number }) => number) =>
        round4(rows.reduce((s, r) => s + f(r), 0) / Math.max(1, rows.length));
      return [n, { score: avg((r) => r.score), testAcc: avg((r) => r.testAcc) }];
    }),
  );
  const report: CheckReport = { seeds: config.checkSeeds, summary, perTask };
  hooks.onCheck?.(report);
  return { report, epochs, episodes: perTask.length * names.length };
}

/**
 * --out must be a file path whose nearest existing ancestor is a writable folder: checked before any
 * training, so a bad --out costs one line, not twenty minutes.
 */
export function checkPolicyOut(out: string): void {
  // ENOTDIR (a file in the way higher up) reads as "not there": the walk goes on up to that file
  const stat = (p: string) => {
    try {
      return statSync(p, { throwIfNoEntry: false });
    } catch {
      return undefined;
    }
  };
  let existing = path.resolve(out);
  if (stat(existing)?.isDirectory())
    throw new ConfigError(
      `--out ${out} is a folder: give the policy file's path, e.g. ${path.join(out, 'policy.json')}`,
    );
  for (;;) {
    const parent = path.dirname(existing);
    const stats = stat(parent);
    if (stats !== undefined && !stats.isDirectory())
      throw new ConfigError(`--out ${out} lies under ${parent}, which is a file: choose another path`);
    if (stats !== undefined || parent === existing) {
      const refused = writeRefused(parent);
      if (refused) throw new ConfigError(`--out ${out}: ${parent} is not writable (${refused})`);
      return;
    }
    existing = parent;
  }
}

/** Writes the file atomically (a temp file renamed into place), creating its folder. */
export function writePolicyFile(file: string, policy: PolicyFile): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const temp = `${file}.tmp-${process.pid}`;
  writeFileSync(temp, JSON.stringify(policy, null, 2) + '\n');
  renameSync(temp, file);
}
