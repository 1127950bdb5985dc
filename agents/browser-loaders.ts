/**
 * The agents' browser side: there are no files to read, so a schedule that is not a name, or a policy,
 * is given as its JSON text (what the file would hold), and mathjs is bundled. The browser entry
 * (src/browser.ts) builds its registry with these; Node's reads files (agents/node-loaders.ts).
 */
import * as mathjs from 'mathjs';
import { ConfigError } from '../src/core/errors.js';
import { parsePolicy, type PolicyFile } from './policy.js';
import { agentRegistry, checkAgentOptionsIn, type AgentLoaders, type AgentRegistry } from './registry.js';
import { parseScheduleRows, SCHEDULE_NAMES } from './schedule.js';

const isJson = (text: string): boolean => /^\s*[[{]/.test(text);

/** A schedule's rows from its JSON text: `[[0.5, 0.3], [0.4, 0.2]]`, `{ "rates": … }` or a summary.json. */
export function inlineScheduleRows(schedule: string): number[][] {
  if (isJson(schedule)) return parseScheduleRows(schedule, '(JSON text)');
  throw new ConfigError(
    `--schedule ${schedule}: not a schedule name (${SCHEDULE_NAMES.join(', ')}); the browser reads no file: give the schedule's rates as JSON text, as in JSON.stringify(controller.bestSchedule)`,
  );
}

/** A policy from its JSON text (a policy file's contents). */
export function inlinePolicy(policy: string): PolicyFile {
  if (isJson(policy)) return parsePolicy(policy, '--policy (JSON text)');
  throw new ConfigError(
    `--policy ${policy}: the browser reads no file: give the policy file's JSON text (fetch it, then pass the text)`,
  );
}

export const BROWSER_LOADERS: AgentLoaders = {
  scheduleRows: inlineScheduleRows,
  policy: inlinePolicy,
  mathjs: () => mathjs,
};

/** Every agent, as the browser runs them. */
export const BROWSER_AGENTS: AgentRegistry = agentRegistry(BROWSER_LOADERS);

/** Every agent's name, in the browser (the same as Node's). */
export function browserAgentNames(): string[] {
  return Object.keys(BROWSER_AGENTS);
}

/** checkAgentOptions of agents/index.ts, for the browser's registry. */
export function checkBrowserAgentOptions(name: string, options: Record<string, unknown>): Record<string, unknown> {
  return checkAgentOptionsIn(BROWSER_AGENTS, name, options);
}
