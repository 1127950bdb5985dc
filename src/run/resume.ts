/**
 * Resume: a stopped or killed run continued from its folder (`npm run agent -- --resume DIR`,
 * `tune({ resume: DIR })`). Its own options apply, as its config.json recorded them; only where it
 * trains may change (the backend, and a population's number of worker threads).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import { flagOf } from '../core/options.js';
import { RUN_CHECKPOINT, RUN_FILES, checkpointJson } from '../store/layout.js';
import { readRunEnd } from '../store/read-run.js';
import { tidyFinishedRun } from '../store/run-folder.js';
import { resolveRun, runOptionsFromConfig, type ResolvedRun, type TrialMethod } from './run.js';

export function readRunJson<T>(file: string, what: string): T {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    // A run's config.json holds its options: without them the folder is not one droptune wrote.
    const options = (value as { options?: unknown } | null)?.options;
    if (path.basename(file) === RUN_FILES.config && (typeof options !== 'object' || options === null))
      throw new ConfigError(`${what} (${file} has no 'options' object)`);
    return value as T;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(
      `${what} (${(err as NodeJS.ErrnoException).code === 'ENOENT' ? `no ${path.basename(file)}` : `${path.basename(file)} is not valid JSON`})`,
    );
  }
}

/**
 * The run in `dir` resolved again from its config.json, to continue with `executeRun(run, { resume:
 * true })` (or runPbt). `given` may hold only `backend` (and `workers` for a scheduler's trials; pass `schedulers`, which src/run cannot import). A run that
 * had finished is `finished` (its leftovers tidied): there is nothing to continue.
 */
export function resolveResume(
  dir: string,
  given: Record<string, unknown>,
  opts: { resumeExperiment?: string; schedulers?: readonly TrialMethod[] } = {},
): { run: ResolvedRun; finished: boolean } {
  const schedulers = opts.schedulers ?? [];
  const config = readRunJson<{ options: Record<string, unknown> }>(
    path.join(dir, RUN_FILES.config),
    `--resume ${dir}: not a run folder`,
  );
  // Trials (pbt, sha) may continue on another number of threads: their results do not depend on it.
  const isScheduler = schedulers.some((s) => s.name === String(config.options['agent']));
  const allowed = isScheduler ? ['backend', 'workers'] : ['backend'];
  const others = Object.keys(given).filter((k) => !allowed.includes(k));
  if (others.length > 0)
    throw new ConfigError(
      `--resume takes no other options but ${allowed.map(flagOf).join(' and ')} (got ${others.map(flagOf).join(', ')}): the run's own are in its ${RUN_FILES.config}`,
    );
  if (config.options['fold'] !== undefined)
    throw new ConfigError(
      `--resume ${dir}: this run is a fold of an experiment; resume the experiment (${opts.resumeExperiment ?? 'with its own --resume'})`,
    );
  const recorded = runOptionsFromConfig(config.options);
  // The checkpoint holds the agent's state: the --load-agent file it started from is not needed again.
  if (existsSync(path.join(dir, checkpointJson(RUN_CHECKPOINT)))) delete recorded['loadAgent'];
  const run = resolveRun({ ...recorded, ...given, out: dir }, { resume: true, schedulers });
  // A resumed replay keeps training its episode under the seed it replays.
  const replayed = config.options['replay'] as { from: string; envSeed: number } | undefined;
  if (replayed) run.options['replay'] = replayed;
  const finished = readRunEnd(dir)?.summary.interrupted === false;
  if (finished) tidyFinishedRun(dir);
  return { run, finished };
}
