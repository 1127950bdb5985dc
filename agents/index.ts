/**
 * The agent registry: every agent by the name --agent takes, with its options, the action mode it
 * defaults to, the modes it supports and a factory. The CLI merges every agent's OptionSpecs by flag;
 * a flag two agents share (--rate, --gamma, --per-epoch) has the same key and type in both.
 * This is Node's registry (schedule and policy files read from disk); the browser entry builds its own
 * from agents/registry.ts.
 */
import { NODE_LOADERS, readScheduleFile, loadPolicyFile } from './node-loaders.js';
import { checkPolicyConfig as checkPolicyConfigWith, type PolicyConfig } from './policy.js';
import { agentRegistry, checkAgentOptionsIn, type AgentRegistry } from './registry.js';
import {
  checkScheduleConfig as checkScheduleConfigWith,
  type ScheduleConfig,
  type ScheduleSettings,
} from './schedule.js';

export type { AgentEntry } from './entry.js';
export type { AgentName, AgentOptions, AgentOptionsByName, NoOptions } from './registry.js';
// Each agent's config check, defaults and options, by agent-prefixed names (no aliases needed at import).
export { CONSTANT_DEFAULTS, CONSTANT_OPTIONS, checkConstantConfig } from './constant.js';
export { EPSILON_GREEDY_DEFAULTS, EPSILON_GREEDY_OPTIONS, checkEpsilonGreedyConfig } from './epsilon-greedy.js';
export { LINUCB_DEFAULTS, LINUCB_OPTIONS, checkLinUcbConfig } from './linucb.js';
export { PLATEAU_DEFAULTS, PLATEAU_OPTIONS, checkPlateauConfig } from './plateau.js';
export { POLICY_DEFAULTS, POLICY_OPTIONS } from './policy.js';
export { RANDOM_OPTIONS, checkRandomConfig } from './random.js';
export { REINFORCE_DEFAULTS, REINFORCE_OPTIONS, checkReinforceConfig } from './reinforce.js';
export { SCHEDULE_DEFAULTS, SCHEDULE_OPTIONS } from './schedule.js';
export { THOMPSON_DEFAULTS, THOMPSON_OPTIONS, checkThompsonConfig } from './thompson.js';
export { UCB_DEFAULTS, UCB_OPTIONS, checkUcbConfig } from './ucb.js';

/** The schedule agent's config check, a schedule file read from disk. */
export function checkScheduleConfig(partial: Partial<ScheduleConfig>): ScheduleSettings {
  return checkScheduleConfigWith(partial, readScheduleFile);
}

/** The policy agent's config check, the policy file read from disk. */
export function checkPolicyConfig(partial: Partial<PolicyConfig>): PolicyConfig {
  return checkPolicyConfigWith(partial, loadPolicyFile);
}

export const AGENTS: AgentRegistry = agentRegistry(NODE_LOADERS);

export function agentNames(): string[] {
  return Object.keys(AGENTS);
}

/**
 * Checks an agent's options (keyed as in its OptionSpecs) before any training starts and returns them
 * with every default filled in. An unknown agent, an option of another agent or a bad value is a
 * ConfigError naming the flag.
 */
export function checkAgentOptions(name: string, options: Record<string, unknown>): Record<string, unknown> {
  return checkAgentOptionsIn(AGENTS, name, options);
}
