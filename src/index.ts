/**
 * droptune's public API, grouped by room (the folders of src/, see STYLE.md). What droptune's own tools
 * and tests need beside it is under `droptune/internals` (src/internals.ts), with no promise of stability.
 */
import type { MethodPick } from './experiment/experiment.js';
import * as internals from './internals.js';

/** core: the gym-shaped types, spaces, seeded randomness, errors, the run log's records, the stop flag. */
export { ConfigError } from './core/errors.js';
export { createRng, permutation, type Rng } from './core/rng.js';
export { Box, Discrete, MultiDiscrete, type Space } from './core/spaces.js';
export type {
  Action,
  ActionMode,
  Agent,
  AgentContext,
  Env,
  ResetResult,
  StepInfo,
  StepResult,
  Transition,
} from './core/types.js';
export type { EpisodeRecord, LineageRecord, RunConfig, RunSummary, ScheduleFile, StepRecord } from './core/run-log.js';
export { StopFlag } from './core/stop-flag.js';
export {
  episodeScore,
  SELECT_PROTOCOLS,
  type EpisodeScore,
  type SelectName,
  type SelectProtocol,
} from './core/select.js';

/** data: built-in datasets and seeded splits, and your own arrays as a dataset. */
export { loadDataset, DATASETS, type Dataset, type DataConfig, type DatasetName, type Split } from './data/dataset.js';
export { datasetFromArrays, type ArraysDatasetArgs, type TensorLike } from './data/from-arrays.js';
export { corruptLabels, LABEL_NOISE_KINDS, type LabelNoiseConfig, type LabelNoiseKind } from './data/label-noise.js';

/** nn: the tunable dropout layer, model builders, your own models, training, the optimizer, backends. */
export { TunableDropout, dropoutLayersOf, type TunableDropoutArgs } from './nn/tunable-dropout.js';
export { buildModel, parseModelSpec, countDropoutLayers, type BuiltModel, type ModelSpec } from './nn/models.js';
export { makeDropoutTunable, userModelOf, buildUserModel, DROPOUT_CLASSES, type UserModel } from './nn/user-model.js';
export { readModelFile, loadModelFile, saveModelFile } from './nn/model-file.js';
export { trainEpoch, evaluate, type HostSplit } from './nn/trainer.js';
export { FusedAdam, type AdamConfig, type AdamState } from './nn/adam.js';
export { PopulationTrainer, memberStateOf, type MemberState, type PopulationConfig } from './nn/population.js';
export { initBackend, availableBackends, type BackendName } from './nn/backend.js';

/** envs: DropoutEnv, a real training run behind a gym API, and its options. */
export {
  DropoutEnv,
  ENV_DEFAULTS,
  DROPOUT_ENV_OPTIONS,
  type DropoutEnvConfig,
  type EnvOption,
} from '../envs/dropout-env.js';

/** agents: the registry, and the shipped policy's file format. */
export { AGENTS, agentNames, checkAgentOptions } from '../agents/index.js';
export { controllerRates, type PolicyFile, type Controller } from '../agents/policy.js';
export { loadPolicyFile } from '../agents/node-loaders.js';

/** loop: the RxJS agent–environment loop. */
export { run$, episodeRecord, episodeSeed, type LoopEvent } from './loop/loop.js';

/** store: writing and reading run folders. */
export { RunWriter } from './store/run-writer.js';
export { readRun, readRuns } from './store/read-run.js';

/** run: one run as a library (tune() resolves, trains and writes it), and agents built for your own env. */
export { tune, type TuneOptions, type TuneResult } from './api/tune.js';
export { resolveRun, executeRun, type ResolvedRun, type RunResult } from './run/run.js';
export { makeAgent, agentContext, agentRng, type AgentTarget } from './run/make-agent.js';

/** execution: jobs, and the executors that run them (this thread, a worker pool, a Redis queue). */
export { runJob, resolveJob, type Job, type JobResult } from './execution/job.js';
export {
  InProcessExecutor,
  PoolExecutor,
  DEFAULT_WORKERS,
  EXECUTORS,
  type Executor,
  type ExecutorKind,
} from './execution/executor.js';
export { createExecutor } from './execution/create-executor.js';
export { ProcessExecutor, type ProcessOptions } from './execution/process-executor.js';
export { QueueExecutor, type QueueExecutorOptions, type QueueProgress } from './execution/queue/queue-executor.js';
export { QueueWorker, type QueueWorkerOptions } from './execution/queue/queue-worker.js';
export { RedisUnreachable, type QueueUrl } from './execution/queue/protocol.js';

/** schedulers: decisions over trials (population based training, successive halving), resolved by --agent name. */
export { runPbt, type GenerationEvent, type PbtOptions } from './schedulers/pbt/run-pbt.js';
export { runSha, type RungEvent, type RungRecord } from './schedulers/sha/run-sha.js';
export { type ShaConfig } from './schedulers/sha/sha.js';
export { exploitAndExplore, explore, quantileSize, type Exploit, type PbtConfig } from './schedulers/pbt/pbt.js';
export {
  SCHEDULERS,
  schedulerFor,
  schedulerNames,
  resolveAnyRun,
  type SchedulerDeps,
  type TrialScheduler,
} from './schedulers/index.js';

/** experiment: learned schedules against a grid search, same seeds and budget, and policy training. */
export {
  planExperiment,
  runExperiment,
  writeExperiment,
  checkExperimentConfig,
  methodVerdicts,
  verdictOf,
  PRESETS,
  type ExperimentConfig,
  type ExperimentResult,
  type MethodPick,
  type MethodVerdict,
  type Verdict,
} from './experiment/experiment.js';
export {
  trainPolicy,
  checkTrainPolicyConfig,
  writePolicyFile,
  TASK_SETS,
  type TrainingTask,
  type TrainPolicyConfig,
} from './experiment/train-policy.js';

/** integrations: tune dropout inside your own model.fit. */
export { dropoutController, DropoutController, type DropoutControllerOptions } from './integrations/tfjs-fit.js';

/** analysis and serve: compare runs, and the live dashboard. */
export { compareRuns } from './analysis/compare.js';
export { startDashboard, type Dashboard, type DashboardOptions } from './serve/server.js';

/** The tuned model out: stock Dropout for deployment, and the best episode trained again. */
export { toStockDropout } from './nn/stock-dropout.js';
export type { AgentName, AgentOptions, AgentOptionsByName } from '../agents/index.js';
export type { FitAgentName, FitEpisodeRecord } from './integrations/tfjs-fit.js';
export type { RunOptionsInCode, SchedulerOptionsByName, TuneAgentName, TuneOnlyOptions } from './api/tune.js';
export { trainFinalModel, FINAL_MODEL_DIR, type FinalModel } from './run/final-model.js';

// Deprecated: names that moved or were renamed; they keep working.

/** @deprecated renamed MethodPick (it shadowed TypeScript's Pick) */
export type Pick = MethodPick;
/** @deprecated import from 'droptune/internals' (registered on import of droptune anyway) */
export const registerWasmConvGrad = internals.registerWasmConvGrad;
/** @deprecated import from 'droptune/internals' (registered on import of droptune anyway) */
export const registerWasmMatMul = internals.registerWasmMatMul;
/** @deprecated import from 'droptune/internals' (registered on import of droptune anyway) */
export const registerWasmConvInputGrad = internals.registerWasmConvInputGrad;
/** @deprecated import from 'droptune/internals' */
export const runSegment = internals.runSegment;
/** @deprecated import from 'droptune/internals' */
export type SegmentJob = internals.SegmentJob;
/** @deprecated import from 'droptune/internals' */
export type SegmentResult = internals.SegmentResult;
/** @deprecated import from 'droptune/internals' */
export const parseQueueUrl = internals.parseQueueUrl;
/** @deprecated import from 'droptune/internals' */
export const queueNameFor = internals.queueNameFor;
/** @deprecated import from 'droptune/internals' */
export const runTasks = internals.runTasks;
/** @deprecated import from 'droptune/internals' */
export type Task = internals.Task;
/** @deprecated import from 'droptune/internals' */
export type Outcome = internals.Outcome;
/** @deprecated import from 'droptune/internals' */
export const episodesPerMinute = internals.episodesPerMinute;
