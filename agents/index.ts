/**
 * The agent registry: every agent by the name --agent takes, with its options, the action mode it
 * defaults to, the modes it supports and a factory. The CLI merges every agent's OptionSpecs by flag;
 * a flag two agents share (--rate, --gamma, --per-epoch) has the same key and type in both.
 */
import { ConfigError } from '../src/core/errors.js';
import { constantEntry, type ConstantConfig } from './constant.js';
import type { AgentEntry } from './entry.js';
import { epsilonGreedyEntry, type EpsilonGreedyConfig } from './epsilon-greedy.js';
import { linUcbEntry, type LinUcbConfig } from './linucb.js';
import { plateauEntry, type PlateauConfig } from './plateau.js';
import { policyEntry, type PolicyConfig } from './policy.js';
import { randomEntry } from './random.js';
import { reinforceEntry, type ReinforceConfig } from './reinforce.js';
import { scheduleEntry, type ScheduleConfig } from './schedule.js';
import { thompsonEntry, type ThompsonConfig } from './thompson.js';
import { ucbEntry, type UcbConfig } from './ucb.js';

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

/** An agent without options (random): a weak type, so any key given is refused (`{}` would accept all). */
export interface NoOptions {
  readonly _?: never;
}

/**
 * Each agent's own options as code gives them (every one optional: the agent's DEFAULTS fill the rest),
 * so a strict tsc rejects an unknown agent (`'ucbb'`) and a misspelt option (`{ ucbc: 1 }`).
 */
export interface AgentOptionsByName {
  constant: Partial<ConstantConfig>;
  schedule: Partial<ScheduleConfig>;
  plateau: Partial<PlateauConfig>;
  random: NoOptions;
  'epsilon-greedy': Partial<EpsilonGreedyConfig>;
  ucb: Partial<UcbConfig>;
  thompson: Partial<ThompsonConfig>;
  linucb: Partial<LinUcbConfig>;
  reinforce: Partial<ReinforceConfig>;
  policy: Partial<PolicyConfig>;
}

/** Every agent's name, as `--agent` and `agent:` take it. */
export type AgentName = keyof AgentOptionsByName;
/** The options of agent A (for `options:` in dropoutController, or spread into tune()). */
export type AgentOptions<A extends AgentName = AgentName> = AgentOptionsByName[A];

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
} satisfies Record<AgentName, AgentEntry>;

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
