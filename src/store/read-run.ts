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
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
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

function checkFields(value: unknown, fields: Record<string, Check>, where: string): void {
  if (!isObject(value)) throw new ConfigError(`${where}: expected a JSON object`);
  const missing = Object.keys(fields).filter((key) => !(key in value));
  if (missing.length > 0) throw new ConfigError(`${where}: missing ${missing.map((k) => `'${k}'`).join(', ')}`);
  for (const [key, ok] of Object.entries(fields)) {
    if (!ok(value[key]))
      throw new ConfigError(`${where}: '${key}' has the wrong type, got ${JSON.stringify(value[key])}`);
  }
}

/** A metric written as null (JSON has no NaN) becomes NaN again, so arithmetic cannot mistake it for 0. */
function nullToNaN(record: Record<string, unknown>, fields: Record<string, Check>): Record<string, unknown> {
  const fix = (v: unknown): unknown => (v === null ? NaN : Array.isArray(v) ? v.map(fix) : v);
  for (const key of Object.keys(fields)) record[key] = fix(record[key]);
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

/** Parses a .jsonl file; a truncated last line (no newline, not JSON) is dropped with a warning. */
export function readJsonl<T>(file: string, fields: Record<string, Check>): ReadResult<T[]> {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const endsWithNewline = lines[lines.length - 1] === '';
  if (endsWithNewline) lines.pop();
  const records: T[] = [];
  const warnings: string[] = [];
  lines.forEach((line, i) => {
    const where = `${file}:${i + 1}`;
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      if (i === lines.length - 1 && !endsWithNewline) {
        warnings.push(`${where}: dropped a truncated last line (the run was cut off mid-write)`);
        return;
      }
      throw new ConfigError(`${where}: not valid JSON`);
    }
    checkFields(value, fields, where);
    records.push(nullToNaN(value as Record<string, unknown>, fields) as T);
  });
  return { value: records, warnings };
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

/** A PBT run's lineage.jsonl (who copied whom), numbered from 1; empty for a run without one. */
export function readLineage(dir: string, version = logVersionAt(dir)): ReadResult<LineageRecord[]> {
  const file = join(dir, LINEAGE_FILE);
  return existsSync(file)
    ? upgraded(readJsonl<LineageRecord>(file, LINEAGE_FIELDS), version)
    : { value: [], warnings: [] };
}

/** Reads one run folder. */
export function readRun(dir: string): ReadResult<RunData> {
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

  // A run killed in its first episode has no episodes.jsonl yet: incomplete, not corrupt (compare warns
  // that it has no finished episode). With summary.json the run claims to have ended: then it is an error.
  const summaryFile = join(dir, RUN_FILES.summary);
  const episodesFile = join(dir, RUN_FILES.episodes);
  const unstarted = !existsSync(episodesFile) && !existsSync(summaryFile);
  const read: ReadResult<EpisodeRecord[]> = unstarted
    ? { value: [], warnings: [] }
    : readEpisodes(need(RUN_FILES.episodes), version);
  warnings.push(...read.warnings);
  const seen = new Set<number>();
  read.value.forEach((e) => {
    if (seen.has(e.episode)) throw new ConfigError(`${episodesFile}: episode ${e.episode} appears twice`);
    seen.add(e.episode);
  });
  const episodes = [...read.value].sort((a, b) => a.episode - b.episode);

  let steps: StepRecord[] = [];
  const stepsFile = join(dir, RUN_FILES.steps);
  if (existsSync(stepsFile)) {
    const readSteps = upgraded(readJsonl<StepRecord>(stepsFile, STEP_FIELDS), version);
    warnings.push(...readSteps.warnings);
    steps = readSteps.value;
  } else {
    warnings.push(`${dir}: no steps.jsonl; the per-epoch plots leave this run out`);
  }

  const summary = existsSync(summaryFile)
    ? shiftNumbering(readJson<RunSummary>(summaryFile, SUMMARY_FIELDS), numberingShift(version))
    : undefined;
  const lineage = readLineage(dir, version);
  warnings.push(...lineage.warnings);

  return {
    value: { dir, name: basename(resolve(dir)), config, steps, episodes, summary, lineage: lineage.value },
    warnings,
  };
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
