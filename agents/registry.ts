/**
 * The agent registry, built from what differs between Node and the browser: how a schedule or policy
 * that is not a name is read, and how mathjs is loaded. agents/index.ts builds Node's (files on disk),
 * agents/browser-loaders.ts the browser's; no node: import here.
 */
import { ConfigError } from '../src/core/errors.js';
import { constantEntry, type ConstantConfig } from './constant.js';
import type { AgentEntry } from './entry.js';
import { epsilonGreedyEntry, type EpsilonGreedyConfig } from './epsilon-greedy.js';
import { linUcbEntryWith, type LinUcbConfig, type MathjsLoader } from './linucb.js';
import { plateauEntry, type PlateauConfig } from './plateau.js';
import { policyEntryWith, type PolicyConfig, type PolicyLoader } from './policy.js';
import { randomEntry } from './random.js';
import { reinforceEntry, type ReinforceConfig } from './reinforce.js';
import { scheduleEntryWith, type ScheduleConfig, type ScheduleReader } from './schedule.js';
import { thompsonEntry, type ThompsonConfig } from './thompson.js';
import { ucbEntry, type UcbConfig } from './ucb.js';

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

/** What the registry needs from its platform. */
export interface AgentLoaders {
  /** The rows of a schedule that is not a schedule name. */
  scheduleRows: ScheduleReader;
  /** The policy a `policy` option names. */
  policy: PolicyLoader;
  /** mathjs, for linucb. */
  mathjs: MathjsLoader;
}

export type AgentRegistry = Record<string, AgentEntry>;

/** Every agent by the name --agent takes, in the order --help lists them. */
export function agentRegistry(loaders: AgentLoaders): AgentRegistry {
  return {
    constant: constantEntry,
    schedule: scheduleEntryWith(loaders.scheduleRows),
    plateau: plateauEntry,
    random: randomEntry,
    'epsilon-greedy': epsilonGreedyEntry,
    ucb: ucbEntry,
    thompson: thompsonEntry,
    linucb: linUcbEntryWith(loaders.mathjs),
    reinforce: reinforceEntry,
    policy: policyEntryWith(loaders.policy),
  } satisfies Record<AgentName, AgentEntry>;
}

/**
 * Checks an agent's options (keyed as in its OptionSpecs) before any training starts and returns them
 * with every default filled in. An unknown agent, an option of another agent or a bad value is a
 * ConfigError naming the flag.
 */
export function checkAgentOptionsIn(
  agents: AgentRegistry,
  name: string,
  options: Record<string, unknown>,
): Record<string, unknown> {
  const entry = agents[name];
  if (!entry) throw new ConfigError(`--agent must be one of ${Object.keys(agents).join(', ')}, got '${name}'`);
  const own = entry.options;
  for (const key of Object.keys(options)) {
    if (own.some((s) => s.key === key)) continue;
    const flag =
      Object.values(agents)
        .flatMap((e) => e.options)
        .find((s) => s.key === key)?.flag ?? `'${key}'`;
    throw new ConfigError(
      `${flag} does not apply to --agent ${name} (its options: ${own.map((s) => s.flag).join(', ') || 'none'})`,
    );
  }
  return entry.check(options);
}
