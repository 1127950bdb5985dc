/**
 * The agent registry: every agent by the name --agent takes, with its options, the action mode it
 * defaults to, the modes it supports and a factory. The CLI merges every agent's OptionSpecs by flag;
 * a flag two agents share (--rate, --gamma, --per-epoch) has the same key and type in both.
 */
import { ConfigError } from '../src/core/errors.js';
import { constantEntry } from './constant.js';
import type { AgentEntry } from './entry.js';
import { epsilonGreedyEntry } from './epsilon-greedy.js';
import { linUcbEntry } from './linucb.js';
import { plateauEntry } from './plateau.js';
import { policyEntry } from './policy.js';
import { randomEntry } from './random.js';
import { reinforceEntry } from './reinforce.js';
import { scheduleEntry } from './schedule.js';
import { thompsonEntry } from './thompson.js';
import { ucbEntry } from './ucb.js';

export type { AgentEntry } from './entry.js';
// Each agent's config check, defaults and options, by agent-prefixed names (no aliases needed at import).
export { CONSTANT_DEFAULTS, CONSTANT_OPTIONS, checkConstantConfig } from './constant.js';
export { EPSILON_GREEDY_DEFAULTS, EPSILON_GREEDY_OPTIONS, checkEpsilonGreedyConfig } from './epsilon-greedy.js';
export { LINUCB_DEFAULTS, LINUCB_OPTIONS, checkLinUcbConfig } from './linucb.js';
export { PLATEAU_DEFAULTS, PLATEAU_OPTIONS, checkPlateauConfig } from './plateau.js';
export { POLICY_DEFAULTS, POLICY_OPTIONS, checkPolicyConfig } from './policy.js';
export { RANDOM_OPTIONS, checkRandomConfig } from './random.js';
export { REINFORCE_DEFAULTS, REINFORCE_OPTIONS, checkReinforceConfig } from './reinforce.js';
export { SCHEDULE_DEFAULTS, SCHEDULE_OPTIONS, checkScheduleConfig } from './schedule.js';
export { THOMPSON_DEFAULTS, THOMPSON_OPTIONS, checkThompsonConfig } from './thompson.js';
export { UCB_DEFAULTS, UCB_OPTIONS, checkUcbConfig } from './ucb.js';

export const AGENTS: Record<string, AgentEntry> = {
  constant: constantEntry,
  schedule: scheduleEntry,
  plateau: plateauEntry,
  random: randomEntry,
  'epsilon-greedy': epsilonGreedyEntry,
  ucb: ucbEntry,
  thompson: thompsonEntry,
  linucb: linUcbEntry,
  reinforce: reinforceEntry,
  policy: policyEntry,
};

export function agentNames(): string[] {
  return Object.keys(AGENTS);
}

/**
 * Checks an agent's options (keyed as in its OptionSpecs) before any training starts and returns them
 * with every default filled in. An unknown agent, an option of another agent or a bad value is a
 * ConfigError naming the flag.
 */
export function checkAgentOptions(name: string, options: Record<string, unknown>): Record<string, unknown> {
  const entry = AGENTS[name];
  if (!entry) throw new ConfigError(`--agent must be one of ${agentNames().join(', ')}, got '${name}'`);
  const own = entry.options;
  for (const key of Object.keys(options)) {
    if (own.some((s) => s.key === key)) continue;
    const flag =
      Object.values(AGENTS)
        .flatMap((e) => e.options)
        .find((s) => s.key === key)?.flag ?? `'${key}'`;
    throw new ConfigError(
      `${flag} does not apply to --agent ${name} (its options: ${own.map((s) => s.flag).join(', ') || 'none'})`,
    );
  }
  return entry.check(options);
}
