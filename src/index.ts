/** droptune's public API. */
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
export { loadDataset, DATASETS, type Dataset, type DataConfig, type DatasetName, type Split } from './data/dataset.js';
export { datasetFromArrays, type ArraysDatasetArgs, type TensorLike } from './data/from-arrays.js';
export { TunableDropout, dropoutLayersOf, type TunableDropoutArgs } from './nn/tunable-dropout.js';
export { buildModel, parseModelSpec, countDropoutLayers, type BuiltModel, type ModelSpec } from './nn/models.js';
export {
  makeDropoutTunable,
  userModelOf,
  readModelFile,
  loadModelFile,
  saveModelFile,
  buildUserModel,
  DROPOUT_CLASSES,
  type UserModel,
} from './nn/user-model.js';
export { dropoutController, DropoutController, type DropoutControllerOptions } from './integrations/tfjs-fit.js';
export { trainEpoch, evaluate, type HostSplit } from './nn/trainer.js';
export { FusedAdam, type AdamConfig, type AdamState } from './nn/adam.js';
export { initBackend, availableBackends, type BackendName } from './nn/backend.js';
export { registerWasmConvGrad } from './nn/wasm-conv-grad.js';
export { registerWasmMatMul } from './nn/wasm-matmul.js';
export { registerWasmConvInputGrad } from './nn/wasm-conv-input-grad.js';
export { run$, episodeRecord, episodeSeed, type LoopEvent } from './loop/loop.js';
export { RunWriter } from './store/run-writer.js';
export { readRun, readRuns } from './store/read-run.js';
export { compareRuns } from './analysis/compare.js';
export { tune, type TuneOptions, type TuneResult } from './api/tune.js';
export { resolveRun, executeRun, type ResolvedRun, type RunResult } from './run/run.js';
export { makeAgent, agentContext, agentRng, type AgentTarget } from './run/make-agent.js';
export { runJob, resolveJob, type Job, type JobResult } from './execution/job.js';
export {
  InProcessExecutor,
  PoolExecutor,
  createExecutor,
  DEFAULT_WORKERS,
  type Executor,
} from './execution/executor.js';
export { QueueExecutor, type QueueExecutorOptions, type QueueProgress } from './execution/queue/queue-executor.js';
export { QueueWorker, type QueueWorkerOptions } from './execution/queue/queue-worker.js';
export { parseQueueUrl, queueNameFor, RedisUnreachable, type QueueUrl } from './execution/queue/protocol.js';
export { runTasks, type Task, type Outcome } from './execution/task-graph.js';
export { StopFlag } from './core/stop-flag.js';
export { runPbt, type GenerationEvent, type PbtOptions } from './schedulers/pbt/run-pbt.js';
export { runSegment, type SegmentJob, type SegmentResult } from './run/segment.js';
export { exploitAndExplore, explore, quantileSize, type Exploit, type PbtConfig } from '../agents/pbt.js';
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
  type MethodVerdict,
  type Pick,
  type Verdict,
} from './experiment/experiment.js';
export { episodesPerMinute } from './execution/throughput.js';
export { DropoutEnv, ENV_DEFAULTS, type DropoutEnvConfig } from '../envs/dropout-env.js';
export { AGENTS, agentNames, checkAgentOptions } from '../agents/index.js';
export { loadPolicyFile, controllerRates, type PolicyFile, type Controller } from '../agents/policy.js';
export {
  trainPolicy,
  checkTrainPolicyConfig,
  writePolicyFile,
  TASK_SETS,
  type TrainingTask,
  type TrainPolicyConfig,
} from './experiment/train-policy.js';
export { startDashboard, type Dashboard, type DashboardOptions } from './serve/server.js';
export { toStockDropout } from './nn/stock-dropout.js';
export type { AgentName, AgentOptions, AgentOptionsByName } from '../agents/index.js';
export type { FitAgentName, FitEpisodeRecord } from './integrations/tfjs-fit.js';
export type { RunOptionsInCode, TuneOnlyOptions } from './api/tune.js';
export { trainFinalModel, FINAL_MODEL_DIR, type FinalModel } from './run/final-model.js';
