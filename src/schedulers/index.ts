/**
 * The trial schedulers by the name `--agent` takes: the one place `--agent pbt` (or `sha`) is told
 * apart from an agent. Resolving a run through here gives src/run the schedulers it cannot import.
 */
import { agentOptionSpecs, allRunSpecs, resolveRun, type ResolvedRun } from '../run/run.js';
import type { OptionSpec } from '../core/options.js';
import { pbtScheduler } from './pbt/run-pbt.js';
import { shaScheduler } from './sha/run-sha.js';
import type { TrialScheduler } from './scheduler.js';

export type { SchedulerDeps, TrialScheduler } from './scheduler.js';

export const SCHEDULERS: readonly TrialScheduler[] = [pbtScheduler as TrialScheduler, shaScheduler as TrialScheduler];

/** The scheduler `--agent name` names, or undefined for an agent. */
export function schedulerFor(name: string): TrialScheduler | undefined {
  return SCHEDULERS.find((s) => s.name === name);
}

export function schedulerNames(): string[] {
  return SCHEDULERS.map((s) => s.name);
}

/** resolveRun for an agent or a scheduler. */
export function resolveAnyRun(given: Record<string, unknown>, opts: { resume?: boolean } = {}): ResolvedRun {
  return resolveRun(given, { ...opts, schedulers: SCHEDULERS });
}

/** Every run option, the schedulers' included (what `npm run agent` parses). */
export const runSpecs = (): OptionSpec[] => allRunSpecs(SCHEDULERS);

/** The agents' and the schedulers' own options, one entry per flag. */
export const ownOptionSpecs = (): OptionSpec[] => agentOptionSpecs(SCHEDULERS);
