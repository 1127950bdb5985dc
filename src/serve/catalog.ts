/**
 * What the dashboard shows: the runs and experiments under one folder, found by walking it (symlinked
 * folders are never followed), each named by its path relative to that folder. Every path a request
 * names goes through `resolveRunId`/`resolveExperimentId`, which accept only what the walk found, so
 * no request reaches a file outside the folder. Reads only: nothing here writes.
 */
import type { ComputePoint } from '../experiment/compute.js';
import type { MethodPick } from '../experiment/experiment.js';
import { existsSync, lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';

import { ConfigError } from '../core/errors.js';
import type { EpisodeRecord } from '../core/run-log.js';
import { groupLabels } from '../analysis/compare.js';
import { scanRun, walkRunTree, type RunData } from '../store/read-run.js';
import { EXPERIMENT_FILES, RUN_LOG_FILES } from '../store/layout.js';
import { runLockHeld } from '../store/run-folder.js';
import { digestRun, runFacts, type RunDigest, type RunFacts } from './digest.js';

export type RunState = 'running' | 'finished' | 'interrupted';

/** One row of the run list: a run's facts, or the error that keeps it from being read. */
export interface RunRowView {
  /** Its folder relative to the dashboard's folder, with `/` ('.' when the folder is the run). */
  id: string;
  /** The experiment holding it, by id. */
  experiment: string | null;
  label: string;
  agent: string;
  dataset: string;
  model: string;
  seed: number | null;
  /** 'error' when the run cannot be read. */
  status: RunState | 'error';
  episodes: number;
  epochs: number;
  bestValAcc: number | null;
  bestTestAcc: number | null;
  startedAtMs: number | null;
  /** Set when the run cannot be read: the row shows it instead of the figures. */
  error?: string;
}

export interface ExperimentRowView {
  id: string;
  preset: string;
  dataset: string;
  model: string;
  seeds: number | null;
  picks: number;
  runs: number;
  error?: string;
}

/** Files of a run folder the dashboard reads: each must resolve inside the folder served. */
const RUN_LOGS = RUN_LOG_FILES;

export class Catalog {
  /** The folder served, as given, and as the file system resolves it. */
  readonly root: string;
  private resolvedRoot: string | undefined;
  /** What was read of each run folder, kept while its files' sizes and times are unchanged. */
  private readonly cache = new Map<string, CacheEntry>();
  /** Folders whose digest is kept, the last opened first. */
  private digestOrder: string[] = [];

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** Resolved once it exists: `npm run agent -- --dashboard` serves a run folder about to be made. */
  private get realRoot(): string | undefined {
    if (this.resolvedRoot === undefined && existsSync(this.root)) this.resolvedRoot = realpathSync(this.root);
    return this.resolvedRoot;
  }

  private scanned: { at: number; value: { runs: string[]; experiments: string[] } } | undefined;

  /** Every run and experiment folder under the root, by id (walked again after a second). */
  scan(): { runs: string[]; experiments: string[] } {
    if (this.scanned !== undefined && Date.now() - this.scanned.at < 1000) return this.scanned.value;
    const value = this.walk();
    this.scanned = { at: Date.now(), value };
    return value;
  }

  private walk(): { runs: string[]; experiments: string[] } {
    const root = this.realRoot;
    if (root === undefined) return { runs: [], experiments: [] };
    const { runs, folders } = walkRunTree(root);
    return { runs, experiments: folders.filter((rel) => existsSync(path.join(this.abs(rel), EXPERIMENT_FILES.json))) };
  }

  /** The folder of an id the walk found; 400 for a malformed id, 404 for one it did not find. */
  resolveRunId(id: string): string {
    checkId(id);
    if (!this.scan().runs.includes(id)) throw new HttpError(404, `no run '${id}' under the dashboard's folder`);
    return this.abs(id);
  }

  resolveExperimentId(id: string): string {
    checkId(id);
    if (!this.scan().experiments.includes(id))
      throw new HttpError(404, `no experiment '${id}' under the dashboard's folder`);
    return this.abs(id);
  }

  /**
   * What the list shows of a run (episodes.jsonl parsed, steps.jsonl only counted), cached until one of
   * its files changes; throws a ConfigError for a malformed run.
   */
  facts(id: string): RunFacts {
    return this.cached(id, 'facts', (dir) => runFacts(dir));
  }

  /**
   * A run as its page draws it: every series cut down to MAX_POINTS as its logs stream by (never read
   * whole), cached until one of its files changes; throws a ConfigError for a malformed run.
   */
  digest(id: string): RunDigest {
    return this.cached(id, 'digest', (dir) => {
      const digest = digestRun(dir);
      digest.run.name = id === '.' ? path.basename(this.root) : id;
      for (const p of digest.rates) p.run = digest.run.name;
      return digest;
    });
  }

  /**
   * A run's episodes in full and its steps only counted: what compare's tables need (not its plots,
   * which draw the digest). Not cached: a comparison is read when asked for.
   */
  readForTables(id: string): { run: RunData; warnings: string[] } {
    const dir = this.abs(id);
    return this.readOrError(dir, () => {
      const episodes: EpisodeRecord[] = [];
      // compare's tables never read a schedule: 75k episodes' schedules would be most of the memory
      const scan = scanRun(dir, { onEpisode: (e) => episodes.push({ ...e, schedule: [] }) });
      episodes.sort((a, b) => a.episode - b.episode);
      const name = id === '.' ? path.basename(this.root) : id;
      const { config, summary, lineage, warnings } = scan;
      return { run: { dir, name, config, steps: [], episodes, summary, lineage }, warnings };
    });
  }

  private cached<K extends 'facts' | 'digest'>(
    id: string,
    kind: K,
    read: (dir: string) => CacheEntry[K],
  ): NonNullable<CacheEntry[K]> {
    const dir = this.abs(id);
    const signature = fileSignature(dir);
    let entry = this.cache.get(dir);
    if (entry?.signature !== signature) {
      entry = { signature };
      this.cache.set(dir, entry);
    }
    if (entry.error !== undefined) throw new ConfigError(entry.error);
    if (entry[kind] === undefined) {
      try {
        entry[kind] = this.readOrError(dir, () => read(dir));
      } catch (err) {
        if (err instanceof ConfigError) entry.error = err.message;
        throw err;
      }
      if (kind === 'digest') this.keepFewDigests(dir);
    }
    return entry[kind]!;
  }

  /** Digests are bounded, but a few hundred runs' would not be: only the last few opened are kept. */
  private keepFewDigests(dir: string): void {
    this.digestOrder = [dir, ...this.digestOrder.filter((d) => d !== dir)];
    for (const old of this.digestOrder.splice(DIGESTS_KEPT)) {
      const entry = this.cache.get(old);
      if (entry !== undefined) entry.digest = undefined;
    }
  }

  /** Runs `read` on a run folder, refusing run files that link out; a ConfigError names files relative to the root. */
  private readOrError<T>(dir: string, read: () => T): T {
    try {
      this.refuseLinksOut(dir);
      return read();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new ConfigError(err.message.split(this.root + path.sep).join(''));
    }
  }

  /** The run list, experiment list and what ties them together. */
  list(): { runs: RunRowView[]; experiments: ExperimentRowView[] } {
    const { runs: ids, experiments } = this.scan();
    const read = ids.map((id) => {
      try {
        return { id, run: this.facts(id) };
      } catch (err) {
        return { id, error: (err as Error).message };
      }
    });
    const good = read.filter((r): r is { id: string; run: RunFacts } => r.run !== undefined);
    const labels = new Map(groupLabels(good.map((r) => r.run.scan.config)).map((label, i) => [good[i]!.id, label]));
    const experimentOf = (id: string): string | null =>
      experiments.filter((e) => e === '.' || id.startsWith(`${e}/`)).sort((a, b) => b.length - a.length)[0] ?? null;
    const runs = read.map(({ id, run, error }): RunRowView => {
      if (run === undefined) {
        return {
          id,
          experiment: experimentOf(id),
          label: '',
          agent: '',
          dataset: '',
          model: '',
          seed: null,
          status: 'error',
          episodes: 0,
          epochs: 0,
          bestValAcc: null,
          bestTestAcc: null,
          startedAtMs: null,
          error,
        };
      }
      return runRowView(id, run, labels.get(id)!, experimentOf(id), this.abs(id));
    });
    return {
      runs,
      experiments: experiments.map((id) =>
        experimentRowView(id, () => this.readExperiment(id), runs.filter((r) => r.experiment === id).length),
      ),
    };
  }

  /** An experiment's experiment.json, refused when it links outside the folder served. */
  readExperiment(id: string): ExperimentJson {
    const dir = this.resolveExperimentId(id);
    const file = path.join(dir, EXPERIMENT_FILES.json);
    if (!isInside(this.realRoot!, realpathSync(file)))
      throw new HttpError(404, `experiment.json of '${id}' links outside the dashboard's folder: not read`);
    return readExperimentJson(dir);
  }

  private abs(id: string): string {
    return id === '.' ? this.root : path.join(this.root, ...id.split('/'));
  }

  /** A run file that is a symlink resolving outside the folder served is refused, not read. */
  private refuseLinksOut(dir: string): void {
    for (const file of RUN_LOGS) {
      const p = path.join(dir, file);
      if (!existsSync(p)) continue;
      if (!isInside(this.realRoot!, realpathSync(p)))
        throw new ConfigError(`${file} links outside the dashboard's folder: not read`);
    }
  }
}

/** How many runs' digests the catalog keeps (each is bounded by MAX_POINTS per series). */
const DIGESTS_KEPT = 8;

interface CacheEntry {
  signature: string;
  facts?: RunFacts;
  digest?: RunDigest;
  /** Set when the run cannot be read: the reason, files named relative to the root. */
  error?: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** An id is a relative path of plain names: no `..`, no `.` inside, no backslash, no NUL, not absolute. */
export function checkId(id: string): void {
  if (id === '.') return;
  const bad =
    id === '' ||
    id.startsWith('/') ||
    /[\\\0]/.test(id) ||
    /^[a-zA-Z]:/.test(id) ||
    id.split('/').some((part) => part === '' || part === '.' || part === '..');
  if (bad) throw new HttpError(400, `not a run id: ${JSON.stringify(id)}`);
}

export const isInside = (root: string, p: string): boolean => {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

/** Sizes and modification times of a run's logs: changes whenever a line is appended or a file appears. */
export function fileSignature(dir: string): string {
  return RUN_LOGS.map((file) => {
    try {
      const s = lstatSync(path.join(dir, file));
      return `${s.size}:${s.mtimeMs}`;
    } catch {
      return '-';
    }
  }).join('|');
}

/** running: no summary and a live process holds the lock; interrupted: cut short (stopped or killed). */
export function runState(run: Pick<RunData, 'summary'>, dir: string): RunState {
  if (run.summary !== undefined) return run.summary.interrupted ? 'interrupted' : 'finished';
  return runLockHeld(dir) ? 'running' : 'interrupted';
}

export function runRowView(
  id: string,
  facts: RunFacts,
  label: string,
  experiment: string | null,
  dir: string,
): RunRowView {
  const { scan, best } = facts;
  const options = scan.config.options;
  return {
    id,
    experiment,
    label,
    agent: String(options['agent']),
    dataset: String(options['dataset'] ?? ''),
    model: String(options['model'] ?? ''),
    seed: scan.config.seed,
    status: runState(scan, dir),
    episodes: scan.episodes,
    epochs: scan.steps,
    bestValAcc: best !== undefined && Number.isFinite(best.valAcc) ? best.valAcc : null,
    bestTestAcc: best !== undefined && Number.isFinite(best.testAcc) ? best.testAcc : null,
    startedAtMs: typeof scan.config.startedAtMs === 'number' ? scan.config.startedAtMs : null,
  };
}

function experimentRowView(id: string, read: () => ExperimentJson, runs: number): ExperimentRowView {
  try {
    const json = read();
    return {
      id,
      preset: json.preset,
      dataset: String(json.config['dataset'] ?? ''),
      model: String(json.config['model'] ?? ''),
      seeds: typeof json.config['seeds'] === 'number' ? json.config['seeds'] : null,
      picks: json.picks.length,
      runs,
    };
  } catch (err) {
    return { id, preset: '', dataset: '', model: '', seeds: null, picks: 0, runs, error: (err as Error).message };
  }
}

/** What writeExperiment (src/experiment/experiment.ts) writes to experiment.json. */
export interface ExperimentJson {
  preset: string;
  config: Record<string, unknown> & { folds?: number };
  picks: {
    method: string;
    seed: number;
    valAcc: number;
    testAcc: number;
    epochs: number;
    schedule: number[][];
    from: string;
    protocols?: MethodPick['protocols'];
  }[];
  missing?: { method: string; seed: number; reason: string }[];
  /** Accuracy against compute (experiments written since it exists). */
  compute?: ComputePoint[];
}

const isComputePoint = (p: unknown): p is ComputePoint => {
  const q = p as Partial<ComputePoint> | null;
  return (
    typeof q === 'object' &&
    q !== null &&
    typeof q.series === 'string' &&
    typeof q.label === 'string' &&
    typeof q.epochs === 'number' &&
    typeof q.testAcc === 'object' &&
    q.testAcc !== null &&
    typeof q.testAcc.mean === 'number'
  );
};

export function readExperimentJson(dir: string): ExperimentJson {
  const file = path.join(dir, EXPERIMENT_FILES.json);
  if (!statSync(file).isFile()) throw new ConfigError('experiment.json is not a file');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new ConfigError('experiment.json: not valid JSON');
  }
  const j = json as Partial<ExperimentJson>;
  if (
    typeof j !== 'object' ||
    j === null ||
    typeof j.preset !== 'string' ||
    typeof j.config !== 'object' ||
    !Array.isArray(j.picks)
  ) {
    throw new ConfigError("experiment.json: expected 'preset', 'config' and 'picks'");
  }
  if (j.compute !== undefined && !(Array.isArray(j.compute) && j.compute.every(isComputePoint)))
    throw new ConfigError("experiment.json: 'compute' must be a list of points {series, label, epochs, testAcc}");
  return j as ExperimentJson;
}
