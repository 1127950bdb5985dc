/** What the registry (agents/index.ts) knows about each agent; every agent file ends with its entry. */
import { ConfigError } from '../src/core/errors.js';
import type { OptionSpec } from '../src/core/options.js';
import type { ActionMode, Agent, AgentContext } from '../src/core/types.js';

export interface AgentEntry {
  /** One line for --help and docs. */
  description: string;
  /** The agent's own options (the CLI merges every agent's by flag: a shared flag keeps one key and type). */
  options: OptionSpec[];
  /** The action mode the CLI uses unless --action says otherwise. */
  defaultActionMode: ActionMode;
  supports: readonly ActionMode[];
  /**
   * Runs the agent's checkConfig before any training starts: throws a ConfigError naming the flag, or
   * returns the options with every default filled in (plain JSON, as the run's config.json records them).
   */
  check(options: Record<string, unknown>): Record<string, unknown>;
  /** Checks the options (as `check`) and the action mode, then builds the agent. */
  create(options: Record<string, unknown>, ctx: AgentContext): Agent;
}

/** Every agent here works in every mode: rate-thinking agents go through towardRates, bandits through armValues. */
export const ALL_MODES: readonly ActionMode[] = ['discrete', 'continuous', 'absolute'];

export function checkActionMode(agent: string, ctx: AgentContext, supports: readonly ActionMode[]): void {
  if (!supports.includes(ctx.actionMode)) {
    throw new ConfigError(
      `--action ${ctx.actionMode} is not supported by agent ${agent} (it supports: ${supports.join(', ')})`,
    );
  }
}
