/**
 * Reads run folders (see src/core/run-log.ts) without ever writing to them.
 *
 * A run killed mid-write leaves a last .jsonl line with no newline that does not parse: that line is
 * dropped with a warning. Anything else that does not parse or lacks a field compare needs is a
 * ConfigError naming the file and line. A missing summary.json only marks the run incomplete; without
 * episodes.jsonl as well, the run was killed during its first episode and has no finished episode.
 * A folder of an older log version (config.json's `logVersion`) is read in the current numbering:
 * episodes, members and generations from 1 (src/core/run-log.ts).
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';

import { ConfigError } from '../core/errors.js';
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
import { LINEAGE_FILE, RUN_FILES } from './layout.js';

/** One run folder as read from disk. */
export interface RunData {
  /** The folder, as given (or as found under a folder of runs). */
  dir: string;
  /** A short name for tables and legends: the folder's name, unique among the runs read together. */
  name: string;
  config: RunConfig;
  /** Steps in file order; empty when steps.jsonl is absent. */
  steps: StepRecord[];
  /** Finished episodes, sorted by episode number. */
  episodes: EpisodeRecord[];
  /** Absent when the run did not end (killed, still running). */
  summary: RunSummary | undefined;
  /** PBT runs: every exploit, in order (lineage.jsonl); empty for other runs. */
  lineage: LineageRecord[];
}

export interface ReadResult<T> {
  value: T;
  /** Human-readable, one line each, already naming the file (and line). */
  warnings: string[];
}

// checking records

type Check = (value: unknown) => boolean;
const isNumber: Check = (v) => typeof v === 'number' && Number.isFinite(v);
/** JSON has no NaN: a diverged loss is written as null. */
const isMetric: Check = (v) => v === null || isNumber(v);
const isInt: Check = (v) => typeof v === 'number' && Number.isInteger(v);
const isBoolean: Check = (v) => typeof v === 'boolean';
const isString: Check = (v) => typeof v === 'string';
const isNumbers: Check = (v) => Array.isArray(v) && v.every(isMetric);
const isRows: Check = (v) => Array.isArray(v) && v.every(isNumbers);
const isStrings: Check = (v) => Array.isArray(v) && v.every(isString);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The fields compare relies on, and what each must hold. Other fields pass through unchecked. */
const STEP_FIELDS: Record<string, Check> = {
  episode: isInt,
  epoch: isInt,
  rates: isNumbers,
  valAcc: isMetric,
  valLoss: isMetric,
};
const EPISODE_FIELDS: Record<string, Check> = {
  episode: isInt,
  return: isMetric,
  epochs: isInt,
  valAcc: isMetric,
  testAcc: isMetric,
  schedule: isRows,
  episodeMs: isNumber,
};
const LINEAGE_FIELDS: Record<string, Check> = {
  generation: isInt,
  epoch: isInt,
  member: isInt,
  from: isInt,
  ratesBefore: isNumbers,
  rates: isNumbers,
};
const CONFIG_FIELDS: Record<string, Check> = { options: isObject, seed: isNumber, layerNames: isStrings };
const SUMMARY_FIELDS: Record<string, Check> = { agent: isString, wallMs: isNumber, interrupted: isBoolean };

/** Each fields table as [key, check] pairs, made once: records are checked a million at a time. */
const fieldLists = new WeakMap<Record<string, Check>, [string, Check][]>();
const fieldList = (fields: Record<string, Check>): [string, Check][] => {
  let list = fieldLists.get(fields);
  if (list === undefined) fieldLists.set(fields, (list = Object.entries(fields)));
  return list;
};

function checkFields(value: unknown, fields: Record<string, Check>, where: string): void {
  if (!isObject(value)) throw new ConfigError(`${where}: expected a JSON object`);
  const list = fieldList(fields);
  for (const [key] of list) {
    if (key in value) continue;
    const missing = list.filter(([k]) => !(k in value)).map(([k]) => `'${k}'`);
    throw new ConfigError(`${where}: missing ${missing.join(', ')}`);
  }
  for (const [key, ok] of list) {
    if (!ok(value[key]))
      throw new ConfigError(`${where}: '${key}' has the wrong type, got ${JSON.stringify(value[key])}`);
  }
}

/** JSON has no NaN: a diverged loss is written as null, read back as NaN. */
const nullAsNaN = (v: unknown): unknown =>
  v === null ? NaN : Array.isArray(v) && v.some(isNullOrArray) ? v.map(nullAsNaN) : v;
const isNullOrArray = (v: unknown): boolean => v === null || Array.isArray(v);

/** A metric written as null (JSON has no NaN) becomes NaN again, so arithmetic cannot mistake it for 0. */
function nullToNaN(record: Record<string, unknown>, fields: Record<string, Check>): Record<string, unknown> {
  for (const [key] of fieldList(fields)) {
    const v = record[key];
    if (v === null || Array.isArray(v)) record[key] = nullAsNaN(v);
  }
  return record;
}

// reading files

function readJson<T>(file: string, fields: Record<string, Check>): T {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new ConfigError(`${file}: not valid JSON`);
  }
  checkFields(value, fields, file);
  return value as T;
}

/** How long one line of a .jsonl log may be: a step or an episode line is a few KB; more is not a log. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;

/**
 * Calls `onLine` with each line of `file` from byte `from` on (without its newline, and whether it had
 * one), reading a chunk at a time: a file of any size is read in constant memory. A line longer than
 * MAX_LINE_BYTES is a ConfigError. Returns the number of lines.
 */
export function forEachLine(
  file: string,
  onLine: (line: Buffer, index: number, terminated: boolean) => void,
  from = 0,
): number {
  const fd = openSync(file, 'r');
  try {
    let pending: Buffer = Buffer.alloc(0);
    let position = from;
    let index = 0;
    const chunk = Buffer.alloc(CHUNK_BYTES);
    for (;;) {
      const read = readSync(fd, chunk, 0, CHUNK_BYTES, position);
      if (read === 0) break;
      position += read;
      let data = pending.length > 0 ? Buffer.concat([pending, chunk.subarray(0, read)]) : chunk.subarray(0, read);
      let start = 0;
      for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
        onLine(data.subarray(start, nl), index++, true);
        start = nl + 1;
      }
      if (data.length - start > MAX_LINE_BYTES)
        throw new ConfigError(`${file}:${index + 1}: a line longer than ${MAX_LINE_BYTES} bytes: not a run log`);
      // the chunk buffer is reused: what is left of it must be copied
      data = data.subarray(start);
      pending = Buffer.from(data);
    }
    if (pending.length > 0) onLine(pending, index++, false);
    return index;
  } finally {
    closeSync(fd);
  }
}

/**
 * Calls `onRecord` with each checked record of a .jsonl file, in file order, read a chunk at a time;
 * a truncated last line (no newline, not JSON) is dropped with a warning. Returns the warnings.
 */
export function forEachJsonl<T>(file: string, fields: Record<string, Check>, onRecord: (record: T) => void): string[] {
  const warnings: string[] = [];
  forEachLine(file, (bytes, i, terminated) => {
    const record = parseJsonlLine<T>(bytes.toString('utf8'), fields, `${file}:${i + 1}`, terminated, warnings);
    if (record !== undefined) onRecord(record);
  });
  return warnings;
}

/**
 * One line of a .jsonl log as a checked record; undefined for a blank line, and for a truncated last
 * line (no newline, not JSON), which adds a warning. Otherwise a line that is not JSON is a ConfigError.
 */
function parseJsonlLine<T>(
  line: string,
  fields: Record<string, Check>,
  where: string,
  terminated: boolean,
  warnings: string[],
): T | undefined {
  if (line.length === 0 || (isSpaceCode(line.charCodeAt(0)) && line.trim() === '')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    if (!terminated) {
      warnings.push(`${where}: dropped a truncated last line (the run was cut off mid-write)`);
      return undefined;
    }
    throw new ConfigError(`${where}: not valid JSON`);
  }
  checkFields(value, fields, where);
  return nullToNaN(value as Record<string, unknown>, fields) as T;
}

const isSpaceCode = (code: number): boolean => code === 32 || code === 9 || code === 13;

/** Parses a .jsonl file; a truncated last line (no newline, not JSON) is dropped with a warning. */
export function readJsonl<T>(file: string, fields: Record<string, Check>): ReadResult<T[]> {
  const records: T[] = [];
  const warnings = forEachJsonl<T>(file, fields, (r) => records.push(r));
  return { value: records, warnings };
}

/**
 * The records of a log a line holds, counted without parsing them: every line ending in a newline that
 * is not blank, and a last line without one if it is JSON (a torn one is not a record).
 */
export function countJsonlRecords(file: string): number {
  let count = 0;
  forEachLine(file, (bytes, _i, terminated) => {
    if (bytes.length === 0 || (isSpaceCode(bytes[0]!) && bytes.toString('utf8').trim() === '')) return;
    if (terminated) count += 1;
    else {
      try {
        JSON.parse(bytes.toString('utf8'));
        count += 1;
      } catch {
        // torn: the run was cut off mid-write
      }
    }
  });
  return count;
}

/** The log version of the run folder `dir`: its config.json's; the current one when there is no config.json. */
export function logVersionAt(dir: string): number {
  const file = join(dir, RUN_FILES.config);
  if (!existsSync(file)) return LOG_VERSION;
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new ConfigError(`${file}: not valid JSON`);
  }
  return logVersionOf(isObject(config) ? config : {}, file);
}

/** Records of a log of `version`, numbered as the current version numbers them. */
const upgraded = <T>(read: ReadResult<T[]>, version: number): ReadResult<T[]> => ({
  ...read,
  value: read.value.map((r) => shiftNumbering(r, numberingShift(version))),
});

/**
 * A run's episodes.jsonl: checked records, a torn last line dropped with a warning, numbered from 1
 * whatever the folder's log version (by default, that of the config.json beside it).
 */
export function readEpisodes(file: string, version = logVersionAt(dirname(file))): ReadResult<EpisodeRecord[]> {
  return upgraded(readJsonl<EpisodeRecord>(file, EPISODE_FIELDS), version);
}

/** Each record of a run's episodes.jsonl, as readEpisodes gives them, without keeping them (file order). */
export function forEachEpisode(
  file: string,
  onEpisode: (e: EpisodeRecord) => void,
  version = logVersionAt(dirname(file)),
): string[] {
  const shift = numberingShift(version);
  return forEachJsonl<EpisodeRecord>(file, EPISODE_FIELDS, (e) => onEpisode(shiftNumbering(e, shift)));
}

/** A PBT run's lineage.jsonl (who copied whom), numbered from 1; empty for a run without one. */
export function readLineage(dir: string, version = logVersionAt(dir)): ReadResult<LineageRecord[]> {
  const file = join(dir, LINEAGE_FILE);
  return existsSync(file)
    ? upgraded(readJsonl<LineageRecord>(file, LINEAGE_FIELDS), version)
    : { value: [], warnings: [] };
}

/** What `scanRun` hands on as it reads a run folder, a record at a time. */
export interface RunScanHandlers {
  /** The run's config.json, checked, before any record. */
  onConfig?: (config: RunConfig) => void;
  /** Each finished episode, in file order. */
  onEpisode(episode: EpisodeRecord): void;
  /** Each step, in file order; without it (and onStepLine) steps.jsonl is only counted, not parsed. */
  onStep?: (step: StepRecord) => void;
  /**
   * Instead of onStep: each line of steps.jsonl (its bytes, valid only during the call), with `parse`,
   * which checks it as onStep's records are checked (undefined: a blank line, or a torn last line, which
   * adds a warning). A reader that needs one field of most lines takes it from the bytes and parses the
   * others. Returns whether the line is a record (what the step count counts).
   */
  onStepLine?: (line: Buffer, terminated: boolean, parse: () => StepRecord | undefined) => boolean;
}

/** A run folder read by `scanRun`: what it holds besides its episodes and steps, and how many of those. */
export interface RunScan {
  dir: string;
  config: RunConfig;
  summary: RunSummary | undefined;
  lineage: LineageRecord[];
  episodes: number;
  steps: number;
  warnings: string[];
}

/**
 * Reads one run folder with the checks of `readRun`, handing its episodes and steps to `handlers` one at
 * a time instead of keeping them: the memory it takes does not grow with the logs.
 */
export function scanRun(dir: string, handlers: RunScanHandlers): RunScan {
  const warnings: string[] = [];
  const need = (file: string): string => {
    const path = join(dir, file);
    if (!existsSync(path)) throw new ConfigError(`${path}: no such file (every run folder has one)`);
    return path;
  };

  const config = readJson<RunConfig>(need(RUN_FILES.config), CONFIG_FIELDS);
  if (typeof config.options['agent'] !== 'string')
    throw new ConfigError(`${join(dir, RUN_FILES.config)}: missing 'options.agent'`);
  const version = logVersionOf(config, join(dir, RUN_FILES.config));
  const shift = numberingShift(version);
  handlers.onConfig?.(config);

  // A run killed in its first episode has no episodes.jsonl yet: incomplete, not corrupt (compare warns
  // that it has no finished episode). With summary.json the run claims to have ended: then it is an error.
  const summaryFile = join(dir, RUN_FILES.summary);
  const episodesFile = join(dir, RUN_FILES.episodes);
  const unstarted = !existsSync(episodesFile) && !existsSync(summaryFile);
  const seen = new Set<number>();
  let twice: number | undefined;
  if (!unstarted) {
    const read = forEachJsonl<EpisodeRecord>(need(RUN_FILES.episodes), EPISODE_FIELDS, (record) => {
      const e = shiftNumbering(record, shift);
      if (seen.has(e.episode)) twice ??= e.episode;
      seen.add(e.episode);
      handlers.onEpisode(e);
    });
    warnings.push(...read);
  }
  if (twice !== undefined) throw new ConfigError(`${episodesFile}: episode ${twice} appears twice`);

  let steps = 0;
  const stepsFile = join(dir, RUN_FILES.steps);
  if (!existsSync(stepsFile)) {
    warnings.push(`${dir}: no steps.jsonl; the per-epoch plots leave this run out`);
  } else if (handlers.onStepLine !== undefined) {
    const onStepLine = handlers.onStepLine;
    // one parse function for every line (not a closure per line): a million lines make it count
    let at: { bytes: Buffer; index: number; terminated: boolean } = {
      bytes: Buffer.alloc(0),
      index: 0,
      terminated: true,
    };
    const parse = (): StepRecord | undefined => {
      const where = `${stepsFile}:${at.index + 1}`;
      const line = at.bytes.toString('utf8');
      const record = parseJsonlLine<StepRecord>(line, STEP_FIELDS, where, at.terminated, warnings);
      return record === undefined ? undefined : shiftNumbering(record, shift);
    };
    forEachLine(stepsFile, (bytes, index, terminated) => {
      at = { bytes, index, terminated };
      if (onStepLine(bytes, terminated, parse)) steps += 1;
    });
  } else if (handlers.onStep === undefined) {
    steps = countJsonlRecords(stepsFile);
  } else {
    const onStep = handlers.onStep;
    const read = forEachJsonl<StepRecord>(stepsFile, STEP_FIELDS, (record) => {
      steps += 1;
      onStep(shiftNumbering(record, shift));
    });
    warnings.push(...read);
  }

  const summary = existsSync(summaryFile)
    ? shiftNumbering(readJson<RunSummary>(summaryFile, SUMMARY_FIELDS), shift)
    : undefined;
  const lineage = readLineage(dir, version);
  warnings.push(...lineage.warnings);
  return { dir, config, summary, lineage: lineage.value, episodes: seen.size, steps, warnings };
}

/** Reads one run folder. */
export function readRun(dir: string): ReadResult<RunData> {
  const episodes: EpisodeRecord[] = [];
  const steps: StepRecord[] = [];
  const scan = scanRun(dir, { onEpisode: (e) => episodes.push(e), onStep: (s) => steps.push(s) });
  episodes.sort((a, b) => a.episode - b.episode);
  const { config, summary, lineage, warnings } = scan;
  return { value: { dir, name: basename(resolve(dir)), config, steps, episodes, summary, lineage }, warnings };
}

/** A run folder's config.json and summary.json, as a finished (or stopped) run left them. */
export interface RunEnd {
  config: RunConfig;
  /** Numbered from 1 whatever the folder's log version. */
  summary: RunSummary;
  /** The folder's log version (its config.json's). */
  logVersion: number;
}

/**
 * The config and summary of the run folder `dir`, the summary in the current numbering (the log-version
 * shift applied); undefined when it has no summary.json (the run never ended). Fields are not checked:
 * these are folders this package wrote (compare's readRun checks every field of folders from anywhere).
 */
export function readRunEnd(dir: string): RunEnd | undefined {
  const summaryFile = join(dir, RUN_FILES.summary);
  if (!existsSync(summaryFile)) return undefined;
  const config = readRunConfig(dir);
  const logVersion = logVersionOf(config, join(dir, RUN_FILES.config));
  const summary = shiftNumbering(readJson<RunSummary>(summaryFile, {}), numberingShift(logVersion));
  return { config, summary, logVersion };
}

/** The run folder `dir`'s config.json, unchecked but for being JSON (a folder this package wrote). */
export function readRunConfig(dir: string): RunConfig {
  return readJson<RunConfig>(join(dir, RUN_FILES.config), {});
}

const isDir = (path: string): boolean => existsSync(path) && statSync(path).isDirectory();
const isRunDir = (path: string): boolean => existsSync(join(path, RUN_FILES.config));

/**
 * How deep below a named folder runs are looked for: an experiment under runs/ keeps its runs at
 * runs/<experiment>/runs/s<seed>/<run>, four levels down.
 */
export const SEARCH_DEPTH = 5;

/**
 * The run folders below `root`, walked in name order at most `SEARCH_DEPTH` levels down, as paths
 * relative to it ('/'-joined; '.' when root is itself a run). A run folder is not searched further
 * (its population/ holds no runs); hidden folders, node_modules, symlinks and unreadable folders are
 * not entered. `folders` are the other folders visited, root included ('.'); `skipped` those left
 * unsearched at the depth limit though they have folders inside. Compare and the dashboard both walk
 * with it.
 */
export function walkRunTree(root: string): { runs: string[]; folders: string[]; skipped: string[] } {
  const tree = { runs: [] as string[], folders: [] as string[], skipped: [] as string[] };
  const visit = (rel: string, depth: number): void => {
    const dir = rel === '.' ? root : join(root, rel);
    if (isRunDir(dir)) {
      tree.runs.push(rel);
      return;
    }
    let children: string[];
    try {
      // isDirectory() is false for a symlink: a link out of the folder is never followed
      children = readdirSync(dir, { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules')
        .map((entry) => entry.name)
        .sort();
    } catch {
      return;
    }
    tree.folders.push(rel);
    if (depth >= SEARCH_DEPTH) {
      if (children.length > 0) tree.skipped.push(rel);
      return;
    }
    for (const name of children) visit(rel === '.' ? name : `${rel}/${name}`, depth + 1);
  };
  visit('.', 0);
  return tree;
}

/**
 * Resolves what the user named (run folders, folders holding runs at any depth up to SEARCH_DEPTH, such
 * as runs/ with experiments inside, or a mix) into run folders, each once; warns of folders left
 * unsearched at the depth limit.
 */
function discoverRuns(paths: readonly string[]): ReadResult<string[]> {
  if (paths.length === 0) throw new ConfigError('no run folders given');
  const dirs: string[] = [];
  const skipped: string[] = [];
  for (const path of paths) {
    if (!existsSync(path)) throw new ConfigError(`no such folder: ${path}`);
    if (!isDir(path)) throw new ConfigError(`not a folder: ${path}`);
    if (isRunDir(path)) {
      dirs.push(path);
      continue;
    }
    const tree = walkRunTree(path);
    const below = tree.runs.map((rel) => join(path, rel));
    skipped.push(...tree.skipped.map((rel) => join(path, rel)));
    if (below.length === 0)
      throw new ConfigError(
        `${path}: neither a run folder (no config.json) nor a folder of runs (none found ${SEARCH_DEPTH} levels down)`,
      );
    dirs.push(...below);
  }
  const seen = new Set<string>();
  const unique = dirs.filter((dir) => {
    const key = resolve(dir);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const warnings = skipped.map(
    (dir) =>
      `${dir}: not searched for runs (more than ${SEARCH_DEPTH} levels down); name it to include the runs inside`,
  );
  return { value: unique, warnings };
}

/** The run folders under `paths` (see discoverRuns), each once. */
export function findRunDirs(paths: readonly string[]): string[] {
  return discoverRuns(paths).value;
}

/** For each folder, its shortest trailing path that no other folder in the list ends with. */
export function uniqueNames(dirs: readonly string[]): string[] {
  const parts = dirs.map((dir) => resolve(dir).split(sep).filter(Boolean));
  return parts.map((mine, i) => {
    for (let n = 1; n < mine.length; n++) {
      const name = mine.slice(-n).join('/');
      if (parts.every((other, j) => j === i || other.slice(-n).join('/') !== name)) return name;
    }
    return mine.join('/');
  });
}

/** Reads every run under `paths`, naming each uniquely (the folder name, then as much of its path as it takes). */
export function readRuns(paths: readonly string[]): ReadResult<RunData[]> {
  const found = discoverRuns(paths);
  const warnings: string[] = [...found.warnings];
  const runs = found.value.map((dir) => {
    const read = readRun(dir);
    warnings.push(...read.warnings);
    return read.value;
  });
  const names = uniqueNames(runs.map((run) => run.dir));
  runs.forEach((run, i) => {
    run.name = names[i]!;
  });
  return { value: runs, warnings };
}
