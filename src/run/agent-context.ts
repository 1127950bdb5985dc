/**
 * What an agent is told about the env it drives, and its own random stream: the one place an
 * AgentContext is filled in (src/run/make-agent.ts builds registered agents with it). No registry and no
 * node: import here, so the fit callback's browser build has it too.
 */
import { createRng } from '../core/rng.js';
import type { Rng } from '../core/rng.js';
import type { Space } from '../core/spaces.js';
import type { ActionMode, AgentContext, DropoutLayerInfo } from '../core/types.js';

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
