/**
 * `droptune/browser`: what runs in a web page, with no node: import anywhere below it. Tune the dropout
 * of your own tfjs model inside your own `model.fit`: TunableDropout, makeDropoutTunable, the
 * dropoutController callback (its run log kept in memory, handed to `onLog` and downloadable as JSON),
 * every agent and the named schedules, toStockDropout for deployment.
 *
 * Not here (they need Node): run folders, files (a schedule or policy is given as JSON text instead),
 * the built-in datasets, DropoutEnv and tune(), the schedulers, executors, experiments, compare and the
 * dashboard. Choose the tfjs backend yourself (webgl, wasm or cpu): this entry registers no kernel.
 */

/** core: errors, seeded randomness, spaces, the gym-shaped types, the run log's records. */
export { ConfigError } from './core/errors.js';
export { createRng, permutation, type Rng } from './core/rng.js';
export { Box, Discrete, MultiDiscrete, type Space } from './core/spaces.js';
export type { Action, ActionMode, Agent, AgentContext, StepInfo, Transition } from './core/types.js';
export type { EpisodeRecord, RunConfig, RunSummary, ScheduleFile, StepRecord } from './core/run-log.js';

/** nn: the tunable dropout layer, your own model made tunable, and stock Dropout back for deployment. */
export { TunableDropout, dropoutLayersOf, type TunableDropoutArgs } from './nn/tunable-dropout.js';
export { makeDropoutTunable, userModelOf, DROPOUT_CLASSES, type UserModel } from './nn/user-model.js';
export { toStockDropout } from './nn/stock-dropout.js';

/** agents: every agent, as the browser runs them, and the named schedules' rates. */
export { BROWSER_AGENTS as AGENTS } from '../agents/browser-loaders.js';
export type { AgentName, AgentOptions, AgentOptionsByName } from '../agents/registry.js';
export { SCHEDULE_NAMES, SCHEDULE_DEFAULTS, namedRate, type ScheduleName } from '../agents/schedule.js';
export { controllerRates, type Controller, type PolicyFile } from '../agents/policy.js';
export {
  browserAgentNames as agentNames,
  checkBrowserAgentOptions as checkAgentOptions,
} from '../agents/browser-loaders.js';

/** integrations: tune dropout inside your own model.fit, the run log in memory. */
export {
  browserDropoutController as dropoutController,
  BrowserDropoutController as DropoutController,
  type BrowserControllerOptions as DropoutControllerOptions,
} from './integrations/browser-fit.js';
export { FEW_BATCHES, type FitAgentName, type FitEpisodeRecord } from './integrations/fit-controller.js';
export { MemoryRunLog, type RunLogContents, type RunLogEntry, type RunLogSink } from './store/memory-log.js';
