/**
 * Writes a run folder (see src/core/run-log.ts for the contract). Lines are appended with
 * appendFileSync, so each is on disk before the next epoch starts: a crash loses at most the epoch
 * in progress. summary.json is written last; its absence marks a run that did not finish.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  statSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import { appendFileChecked, writeFileAtomic } from './checkpoint.js';
import { LOCK_FILE, RUN_FILES, type RunFileName } from './layout.js';
import {
  LOG_VERSION,
  logVersionOf,
  numberingShift,
  shiftNumbering,
  type EpisodeRecord,
  type LineageRecord,
  type RunConfig,
  type RunSummary,
  type StepRecord,
} from '../core/run-log.js';

export { RUN_FILES };
// The records the run log holds, built without a file (src/store/records.ts, shared with the browser's log).
export { stepRecord, summarize } from './records.js';

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
      if (code(err) !== 'ENOTDIR')
        throw new ConfigError(
          `--out ${dir}: cannot look at ${existing} (${code(err) ?? String(err)}): choose another folder`,
        );
    }
    if (stats !== undefined) break;
    existing = path.dirname(existing);
  }
  const given = existing === path.resolve(dir);
  if (!stats.isDirectory()) {
    throw new ConfigError(
      given
        ? `--out ${dir} exists and is not a folder: choose a new or empty folder`
        : `--out ${dir} lies under ${existing}, which is a file: choose a folder path`,
    );
  }
  if (given) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch (err) {
      throw new ConfigError(`--out ${dir} cannot be read (${code(err) ?? String(err)}): choose another folder`);
    }
    // The lock of the process creating the run is all a new run folder may hold.
    if (entries.some((e) => e !== LOCK_FILE))
      throw new ConfigError(`--out ${dir} already exists and is not empty: choose another folder`);
  }
  const refused = writeRefused(existing);
  if (refused)
    throw new ConfigError(`--out ${dir}: ${existing} is not writable (${refused}): choose a folder you can write to`);
}

/**
 * Empties `dir` for a new run (`overwrite`): only a run folder (one holding config.json) or an empty one
 * is removed, never a folder of anything else. `what` names the option in messages.
 */
export function clearRunDir(dir: string, what = '--out'): void {
  if (!existsSync(dir)) return;
  const entries = readdirSync(dir);
  if (entries.length > 0 && !entries.includes(RUN_FILES.config))
    throw new ConfigError(
      `${what} ${dir} is not a run folder (no ${RUN_FILES.config}): overwrite only replaces a run folder, choose another`,
    );
  rmSync(dir, { recursive: true, force: true });
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

/**
 * Records are given numbered from 1 (LOG_VERSION); a folder of an older log version (resumed) gets them
 * in its own numbering, so its files never mix two conventions.
 */
export class RunWriter {
  /** Added to every episode, member and generation number written: 0, or −1 for a version-1 folder. */
  private readonly shift: number;

  private constructor(
    readonly dir: string,
    logVersion: number,
  ) {
    this.shift = -numberingShift(logVersion);
  }

  /** A folder an earlier process started (for --resume): its config.json must be there. */
  static open(dir: string): RunWriter {
    const file = path.join(dir, RUN_FILES.config);
    if (!existsSync(file)) throw new ConfigError(`--resume ${dir}: not a run folder (no ${RUN_FILES.config})`);
    let config: RunConfig;
    try {
      config = JSON.parse(readFileSync(file, 'utf8')) as RunConfig;
    } catch {
      throw new ConfigError(`${file}: not valid JSON`);
    }
    return new RunWriter(dir, logVersionOf(config, file));
  }

  /** Creates the folder and writes config.json, with the current log version. */
  static create(dir: string, config: RunConfig): RunWriter {
    checkRunDir(dir);
    mkdirSync(dir, { recursive: true });
    const writer = new RunWriter(dir, LOG_VERSION);
    writeJsonAtomic(writer.file('config'), { logVersion: LOG_VERSION, ...config });
    return writer;
  }

  file(name: RunFileName): string {
    return path.join(this.dir, RUN_FILES[name]);
  }

  /** The log version this folder is written in. */
  get logVersion(): number {
    return this.shift === 0 ? LOG_VERSION : 1;
  }

  step(record: StepRecord): void {
    appendFileChecked(this.file('steps'), JSON.stringify(shiftNumbering(record, this.shift)) + '\n');
  }

  episode(record: EpisodeRecord): void {
    appendFileChecked(this.file('episodes'), JSON.stringify(shiftNumbering(record, this.shift)) + '\n');
  }

  /** Writes episodes.jsonl whole (a PBT run's members, at its end). */
  allEpisodes(records: readonly EpisodeRecord[]): void {
    writeFileAtomic(
      this.file('episodes'),
      records.map((r) => JSON.stringify(shiftNumbering(r, this.shift)) + '\n').join(''),
    );
  }

  /** Appends one line to a PBT run's lineage.jsonl. */
  lineage(file: string, record: LineageRecord): void {
    appendFileChecked(file, JSON.stringify(shiftNumbering(record, this.shift)) + '\n');
  }

  agentState(state: unknown): void {
    writeJsonAtomic(this.file('agent'), state);
  }

  summary(summary: RunSummary): void {
    writeJsonAtomic(this.file('summary'), shiftNumbering(summary, this.shift));
  }
}
