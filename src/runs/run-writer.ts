/**
 * Writes a run folder (see src/core/run-log.ts for the contract). Lines are appended with
 * appendFileSync, so each is on disk before the next epoch starts: a crash loses at most the epoch
 * in progress. summary.json is written last; its absence marks a run that did not finish.
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmdirSync, statSync, writeFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import { writeFileAtomic } from './checkpoint.js';
import { bestEpisode, type EpisodeRecord, type RunConfig, type RunSummary, type StepRecord } from '../core/run-log.js';
import type { Transition } from '../core/types.js';

export const RUN_FILES = {
  config: 'config.json',
  steps: 'steps.jsonl',
  episodes: 'episodes.jsonl',
  agent: 'agent.json',
  summary: 'summary.json',
} as const;

/**
 * Fails unless `dir` can become a new run folder: an empty folder, or a path whose nearest existing
 * ancestor is a folder we may write in. Checked before any training, so a bad --out costs one line.
 * Writability is probed by creating (and removing) a folder there.
 */
export function checkRunDir(dir: string): void {
  if (dir === '') throw new ConfigError(`--out must be a folder path, got ''`);
  const code = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;
  // the nearest path that exists, walking up; ENOTDIR means a parent is a file, so keep walking to it
  let existing = path.resolve(dir);
  let stats: Stats | undefined;
  for (;;) {
    try {
      stats = statSync(existing, { throwIfNoEntry: false });
    } catch (err) {
      if (code(err) !== 'ENOTDIR') throw new ConfigError(`--out ${dir}: cannot look at ${existing} (${code(err) ?? String(err)}): choose another folder`);
    }
    if (stats !== undefined) break;
    existing = path.dirname(existing);
  }
  const given = existing === path.resolve(dir);
  if (!stats.isDirectory()) {
    throw new ConfigError(given ? `--out ${dir} exists and is not a folder: choose a new or empty folder` : `--out ${dir} lies under ${existing}, which is a file: choose a folder path`);
  }
  if (given) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch (err) {
      throw new ConfigError(`--out ${dir} cannot be read (${code(err) ?? String(err)}): choose another folder`);
    }
    // The lock of the process creating the run is all a new run folder may hold.
    if (entries.some((e) => e !== 'run.lock')) throw new ConfigError(`--out ${dir} already exists and is not empty: choose another folder`);
  }
  const refused = writeRefused(existing);
  if (refused) throw new ConfigError(`--out ${dir}: ${existing} is not writable (${refused}): choose a folder you can write to`);
}

/**
 * Why nothing can be written in the folder `dir` (an error code), or undefined if it can. A real write
 * rather than access(): root passes every permission check, even under /proc or /sys.
 */
export function writeRefused(dir: string): string | undefined {
  try {
    rmdirSync(mkdtempSync(path.join(dir, '.droptune-probe-')));
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

/** Writes JSON through a temporary file, fsync and a rename, so a reader never sees half a file. */
function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

export class RunWriter {
  private constructor(readonly dir: string) {}

  /** A folder an earlier process started (for --resume): its config.json must be there. */
  static open(dir: string): RunWriter {
    if (!existsSync(path.join(dir, RUN_FILES.config))) throw new ConfigError(`--resume ${dir}: not a run folder (no ${RUN_FILES.config})`);
    return new RunWriter(dir);
  }

  /** Creates the folder and writes config.json. */
  static create(dir: string, config: RunConfig): RunWriter {
    checkRunDir(dir);
    mkdirSync(dir, { recursive: true });
    const writer = new RunWriter(dir);
    writeJsonAtomic(writer.file('config'), config);
    return writer;
  }

  file(name: keyof typeof RUN_FILES): string {
    return path.join(this.dir, RUN_FILES[name]);
  }

  step(record: StepRecord): void {
    appendFileSync(this.file('steps'), JSON.stringify(record) + '\n');
  }

  episode(record: EpisodeRecord): void {
    appendFileSync(this.file('episodes'), JSON.stringify(record) + '\n');
  }

  /** Appends one JSON line to a log of its own (lineage.jsonl). */
  appendLine(file: string, record: unknown): void {
    appendFileSync(file, JSON.stringify(record) + '\n');
  }

  agentState(state: unknown): void {
    writeJsonAtomic(this.file('agent'), state);
  }

  summary(summary: RunSummary): void {
    writeJsonAtomic(this.file('summary'), summary);
  }
}

export function stepRecord(t: Transition): StepRecord {
  const { info } = t;
  return {
    episode: t.episode,
    epoch: t.epoch,
    rates: info.rates,
    action: t.action,
    reward: t.reward,
    trainLoss: info.trainLoss,
    trainLossStd: info.trainLossStd,
    trainAcc: info.trainAcc,
    valLoss: info.valLoss,
    valAcc: info.valAcc,
    terminated: t.terminated,
    truncated: t.truncated,
    observation: t.nextObservation,
    stepMs: info.stepMs ?? 0,
  };
}

/**
 * The run's summary from its finished episodes (at least one). `epochsTrained` counts every epoch,
 * including those of an episode a stop cut short.
 */
export function summarize(agent: string, episodes: readonly EpisodeRecord[], epochsTrained: number, interrupted: boolean, wallMs: number): RunSummary {
  const best = bestEpisode(episodes);
  const first = episodes[0];
  const last = episodes[episodes.length - 1];
  if (!best || !first || !last) throw new Error('summarize: no finished episode');
  const brief = (e: EpisodeRecord) => ({ episode: e.episode, valAcc: e.valAcc, testAcc: e.testAcc });
  return {
    agent,
    episodes: episodes.length,
    totalEpochs: epochsTrained,
    best: { ...brief(best), schedule: best.schedule },
    first: brief(first),
    last: brief(last),
    interrupted,
    wallMs,
  };
}
