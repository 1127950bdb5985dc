/**
 * Builds a registered agent for an env: the one place an AgentContext is filled in, for the CLI's
 * runs and for library users (`makeAgent('ucb', env, { c: 1 })`).
 */
import type { Agent } from '../core/types.js';
import { agentContext, agentRng, type AgentTarget } from './agent-context.js';
import { AGENTS, checkAgentOptions } from '../../agents/index.js';
import { ConfigError } from '../core/errors.js';

// The context, filled in without the registry (src/run/agent-context.ts, node-free for the browser entry).
export { agentContext, agentRng, type AgentTarget } from './agent-context.js';

const SCHEDULER_NAMES = ['pbt', 'sha'];

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
