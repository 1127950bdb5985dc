/**
 * Builds a registered agent for an env: the one place an AgentContext is filled in, for the CLI's
 * runs and for library users (`makeAgent('ucb', env, { c: 1 })`).
 */
import { createRng } from '../core/rng.js';
import type { Rng } from '../core/rng.js';
import type { Space } from '../core/spaces.js';
import type { ActionMode, Agent, AgentContext, DropoutLayerInfo } from '../core/types.js';
import { AGENTS, checkAgentOptions } from '../../agents/index.js';
import { ConfigError } from '../core/errors.js';

/** What an agent needs to know about the env it drives: a DropoutEnv has all of it. */
export interface AgentTarget {
  observationSpace: Space;
  actionSpace: Space;
  numLayers: number;
  /** Per dropout layer, its kind and width, when known. */
  layerInfo?: DropoutLayerInfo[] | undefined;
  config: {
    actionMode: ActionMode;
    minRate: number;
    maxRate: number;
    rateStep: number;
    maxEpochs: number;
    inputDropout?: boolean;
  };
}

const SCHEDULER_NAMES = ['pbt', 'sha'];

/** An agent's own random stream for a run seed. Named per agent: bandits that explore by uniform draws would otherwise explore identically. */
export function agentRng(agent: string, seed: number): Rng {
  return createRng(`agent:${agent}:${seed}`);
}

export function agentContext(target: AgentTarget, rng: Rng): AgentContext {
  const { config } = target;
  return {
    observationSpace: target.observationSpace,
    actionSpace: target.actionSpace,
    actionMode: config.actionMode,
    numLayers: target.numLayers,
    minRate: config.minRate,
    maxRate: config.maxRate,
    rateStep: config.rateStep,
    maxEpochs: config.maxEpochs,
    inputDropout: config.inputDropout ?? false,
    ...(target.layerInfo ? { layers: target.layerInfo.map((l) => ({ ...l })) } : {}),
    rng,
  };
}

/**
 * The agent `name` (any of `agentNames()`) for `env`, its options keyed as in the agent's OptionSpecs
 * (`{ rate: 0.3 }`, `{ epsilon: 0.1 }`), checked and defaulted; `seed` seeds its random stream.
 */
export function makeAgent(name: string, env: AgentTarget, options: Record<string, unknown> = {}, seed = 0): Agent {
  // The schedulers live in a room above this one: named here only to point the way.
  if (SCHEDULER_NAMES.includes(name))
    throw new ConfigError(
      `makeAgent: '${name}' is not an agent but a scheduler over many runs: run it through tune() or schedulerFor()`,
    );
  const checked = checkAgentOptions(name, options);
  return AGENTS[name]!.create(checked, agentContext(env, agentRng(name, seed)));
}
