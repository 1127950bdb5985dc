/**
 * What makes a run folder safe to stop and continue:
 *   run.lock         one writer at a time; a lock whose process is gone is taken over, with a warning
 *   checkpoint.json  the run's commit point, rewritten after every epoch (src/store/checkpoint.ts):
 *                    where the loop stands, how many log lines belong to it, the agent's state at the
 *                    start of the current episode, and mid-episode the env snapshot and the episode's
 *                    transitions so far
 * `--resume` cuts steps.jsonl and episodes.jsonl back to the checkpoint's line counts (dropping a torn
 * last line, or lines of the epoch that was in progress) and continues from it.
 */
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import { ConfigError, storageErrorOf } from '../core/errors.js';
import type { StepInfo, Transition } from '../core/types.js';
import { readCheckpoint, removeCheckpoint, writeCheckpoint, writeFileAtomic } from './checkpoint.js';
import { LOCK_FILE, RUN_CHECKPOINT, checkpointJson } from './layout.js';

export { LOCK_FILE };

/** Where resume notes go unless a caller says otherwise (a torn line repaired, a stale lock taken over). */
export const warnOnStderr = (message: string): void => {
  process.stderr.write(`warning: ${message}\n`);
};
/** An experiment folder's lock: one coordinator at a time (its runs have run locks of their own). */
export const EXPERIMENT_LOCK = 'experiment.lock';

// names

/**
 * The date (and time) in a default folder name, in UTC: `2026-11-23`, or `2026-11-23-1109` with the
 * time. Run folders are `runs/<date>-<agent>-s<seed>`, experiments `runs/experiment-<preset>-<date>-<time>`.
 */
export function folderStamp(date: Date, withTime = false): string {
  const iso = date.toISOString();
  return withTime ? `${iso.slice(0, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}` : iso.slice(0, 10);
}

/** runs/<date>-<name>, with -2, -3, … when that folder is taken: a run's default folder. */
export function defaultRunFolder(name: string): string {
  return freeFolder(path.join('runs', `${folderStamp(new Date())}-${name}`));
}

/** `base`, or `base-2`, `base-3`, … : the first that does not exist or is empty. */
export function freeFolder(base: string): string {
  for (let i = 1; ; i++) {
    const dir = i === 1 ? base : `${base}-${i}`;
    if (!existsSync(dir) || readdirSync(dir).length === 0) return dir;
  }
}
/** @deprecated RUN_CHECKPOINT of src/store/layout.ts */
export const CHECKPOINT = RUN_CHECKPOINT;

export interface RunCheckpoint {
  /** 2: episodes numbered from 1. A version-1 checkpoint (from 0) is read shifted. */
  version: 2;
  /** The episode in progress, or the next one to start (from 1). */
  episode: number;
  /** Lines of steps.jsonl and episodes.jsonl written up to this checkpoint. */
  stepsLines: number;
  episodesLines: number;
  /** Epochs trained so far in the run, cut episodes included. */
  epochsTrained: number;
  /** The agent's saveState() at the start of `episode`. */
  agent: unknown;
  /** Present in the middle of an episode. */
  midEpisode?: {
    reset: { observation: number[]; info: StepInfo };
    transitions: Transition[];
    /** The env's snapshot after the last transition (DropoutEnv's EnvSnapshot). */
    env: unknown;
  };
}

export function writeRunCheckpoint(dir: string, checkpoint: RunCheckpoint): void {
  writeCheckpoint(dir, RUN_CHECKPOINT, checkpoint);
}

export function readRunCheckpoint(dir: string): RunCheckpoint | undefined {
  const value = readCheckpoint(dir, RUN_CHECKPOINT) as
    (Omit<RunCheckpoint, 'version'> & { version: number }) | undefined;
  if (value === undefined) return undefined;
  if (value.version === 1) {
    // Written before episodes were numbered from 1.
    const mid = value.midEpisode;
    return {
      ...value,
      version: 2,
      episode: value.episode + 1,
      ...(mid
        ? { midEpisode: { ...mid, transitions: mid.transitions.map((t) => ({ ...t, episode: t.episode + 1 })) } }
        : {}),
    };
  }
  if (value.version !== 2)
    throw new ConfigError(
      `${path.join(dir, checkpointJson(RUN_CHECKPOINT))}: version ${String(value.version)} is not supported`,
    );
  return value as RunCheckpoint;
}

export function removeRunCheckpoint(dir: string): void {
  removeCheckpoint(dir, RUN_CHECKPOINT);
}

// lock

interface LockInfo {
  pid: number;
  hostname: string;
  /** This process's, shared by its worker threads: a lock with our pid but another token is a dead process's (a pid reused after a restart). */
  token: string;
}

// Set before any worker thread starts, so the threads inherit it with the environment.
const TOKEN_VAR = 'DROPTUNE_LOCK_TOKEN';
process.env[TOKEN_VAR] ??= randomUUID();
const processToken = (): string => process.env[TOKEN_VAR]!;

/** Whether the lock's process is still running (on this host; a lock from another host is taken as held). */
function lockHeld(held: Partial<LockInfo>): boolean {
  if (held.pid === undefined) return false;
  if (held.hostname !== undefined && held.hostname !== hostname()) return true;
  if (held.pid === process.pid) return held.token === undefined || held.token === processToken();
  return processAlive(held.pid);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the folder's lock, or throws a ConfigError naming the process that holds it. A lock left by a
 * process that is gone (this host, pid not running) is taken over; `warn` says so.
 */
export function acquireRunLock(dir: string, warn: (message: string) => void, lockFile = LOCK_FILE): () => void {
  const file = path.join(dir, lockFile);
  const mine: LockInfo = { pid: process.pid, hostname: hostname(), token: processToken() };
  try {
    writeFileSync(file, JSON.stringify(mine) + '\n', { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      rmSync(file, { force: true }); // created, then the disk was full: an empty lock nobody holds
      throw storageErrorOf(err, file);
    }
    let held: Partial<LockInfo> = {};
    try {
      held = JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
    } catch {
      // A lock torn by a crash while it was written: nobody can be holding it.
    }
    if (lockHeld(held)) {
      const sameHost = held.hostname === undefined || held.hostname === mine.hostname;
      const where = sameHost ? `process ${held.pid}` : `process ${held.pid} on host ${held.hostname}`;
      throw new ConfigError(
        `--out ${dir} is being written by ${where}: wait for it to end or stop it; if no process writes it any more, delete ${file}`,
      );
    }
    warn(`taking over the lock of ${dir}: its process ${held.pid ?? '(unknown)'} is gone`);
    writeFileAtomic(file, JSON.stringify(mine) + '\n');
  }
  return () => rmSync(file, { force: true });
}

/** Whether a live process holds the folder's lock: the run is being written (read-only, for the dashboard). */
export function runLockHeld(dir: string): boolean {
  try {
    return lockHeld(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')) as Partial<LockInfo>);
  } catch {
    return false; // no lock, or one torn by a crash: nobody holds it
  }
}

/**
 * A run killed after writing its summary but before removing its checkpoint and lock is finished, with
 * leftovers: removes them (the lock only when its process is gone).
 */
export function tidyFinishedRun(dir: string): void {
  removeRunCheckpoint(dir);
  removeTempFiles(dir);
  const lock = path.join(dir, LOCK_FILE);
  if (!existsSync(lock)) return;
  try {
    if (lockHeld(JSON.parse(readFileSync(lock, 'utf8')) as Partial<LockInfo>)) return;
  } catch {
    // torn: nobody holds it
  }
  rmSync(lock, { force: true });
}

// logs

/** Removes the temporary files of atomic writes (`.<name>.<pid>.tmp`) that a killed process left. */
export function removeTempFiles(dir: string): void {
  for (const file of readdirSync(dir))
    if (file.startsWith('.') && file.endsWith('.tmp')) rmSync(path.join(dir, file), { force: true });
}

/**
 * Keeps the first `keep` complete lines of a .jsonl file and drops the rest; returns what was dropped.
 * A torn last line (no newline: the process died while writing it) is among what is dropped.
 */
export function truncateLines(file: string, keep: number): { dropped: number; torn: boolean } {
  if (!existsSync(file)) {
    if (keep > 0) throw new ConfigError(`${file}: missing, but the checkpoint counts ${keep} lines in it`);
    return { dropped: 0, torn: false };
  }
  const text = readFileSync(file, 'utf8');
  const torn = text.length > 0 && !text.endsWith('\n');
  const lines = text.split('\n');
  if (!torn) lines.pop(); // the empty string after the last newline
  const complete = torn ? lines.length - 1 : lines.length;
  if (complete < keep)
    throw new ConfigError(
      `${file}: ${complete} complete lines, but the checkpoint counts ${keep}: the folder was changed by hand`,
    );
  if (lines.length > keep)
    writeFileAtomic(
      file,
      lines
        .slice(0, keep)
        .map((l) => l + '\n')
        .join(''),
    );
  return { dropped: lines.length - keep, torn };
}

/**
 * Resuming: cuts each log back to the line count its checkpoint recorded, saying what went. A torn last
 * line is repaired; whole lines beyond the count belong to the `unit` (epoch, generation) in progress.
 */
export function cutLogsBack(
  logs: readonly (readonly [file: string, keep: number])[],
  unit: string,
  warn: (message: string) => void,
): void {
  for (const [file, keep] of logs) {
    const { dropped, torn } = truncateLines(file, keep);
    if (torn) warn(`${file}: repaired a torn last line (the process died while writing it)`);
    else if (dropped > 0)
      warn(`${file}: dropped ${dropped} line${dropped === 1 ? '' : 's'} of the ${unit} that was in progress`);
  }
}
