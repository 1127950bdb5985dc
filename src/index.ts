/** droptune's public API. */
export { ConfigError } from './core/errors.js';
export { createRng, permutation, type Rng } from './core/rng.js';
export { Box, Discrete, MultiDiscrete, type Space } from './core/spaces.js';
export type { Action, ActionMode, Agent, AgentContext, Env, ResetResult, StepInfo, StepResult, Transition } from './core/types.js';
export type { EpisodeRecord, RunConfig, RunSummary, ScheduleFile, StepRecord } from './core/run-log.js';
export { loadDataset, DATASETS, type Dataset, type DataConfig, type Split } from './data/dataset.js';
export { TunableDropout, dropoutLayersOf, type TunableDropoutArgs } from './nn/tunable-dropout.js';
export { buildModel, parseModelSpec, countDropoutLayers, type BuiltModel, type ModelSpec } from './nn/models.js';
export { trainEpoch, evaluate } from './nn/trainer.js';
export { initBackend, availableBackends, type BackendName } from './nn/backend.js';
export { registerWasmConvGrad } from './nn/wasm-conv-grad.js';
export { run$, episodeRecord, episodeSeed, type LoopEvent } from './loop/loop.js';
export { RunWriter } from './runs/run-writer.js';
export { readRun, readRuns } from './runs/read-run.js';
export { compareRuns } from './runs/compare.js';
export { DropoutEnv, ENV_DEFAULTS, type DropoutEnvConfig } from '../envs/dropout-env.js';
export { AGENTS, agentNames, checkAgentOptions } from '../agents/index.js';
