/**
 * The agents' Node side: schedule and policy files read from disk, and mathjs required on first use.
 * agents/index.ts builds the registry with these; the browser entry uses agents/browser-loaders.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as MathJs from 'mathjs';
import { ConfigError } from '../src/core/errors.js';
import { packageRoot } from '../src/core/package-root.js';
import { LOG_VERSION, logVersionOf, numberingShift } from '../src/core/run-log.js';
import { parsePolicy, type PolicyFile } from './policy.js';
import type { AgentLoaders } from './registry.js';
import { parseScheduleRows, SCHEDULE_NAMES } from './schedule.js';

// schedule files

/**
 * Reads a schedule file's rows: a ScheduleFile, a bare number[][], or a RunSummary's best.schedule; or
 * `FILE.jsonl#N`, episode N's schedule (see agents/schedule.ts).
 */
export function readScheduleFile(file: string): number[][] {
  const fail = (why: string) => new ConfigError(`--schedule ${file}: ${why}`);
  // FILE.jsonl#N: episode N of a run's episodes.jsonl.
  const episodeRef = /^(.+\.jsonl)#(\d+)$/.exec(file);
  let text: string;
  try {
    text = readFileSync(episodeRef ? episodeRef[1]! : file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw fail(`not a schedule name (${SCHEDULE_NAMES.join(', ')}) and not a readable file (${code})`);
  }
  if (episodeRef) {
    const episode = Number(episodeRef[2]);
    // N counts from 1; a folder of log version 1 (config.json beside the file) wrote N − 1.
    const config = path.join(path.dirname(episodeRef[1]!), 'config.json');
    const version = existsSync(config)
      ? logVersionOf(JSON.parse(readFileSync(config, 'utf8')) as { logVersion?: unknown }, config)
      : LOG_VERSION;
    const written = episode - numberingShift(version);
    const episodeOf = (l: string): unknown => {
      try {
        return (JSON.parse(l) as { episode?: unknown }).episode;
      } catch {
        return undefined; // a line cut off by a kill, or not a record
      }
    };
    const line = text.split('\n').find((l) => l.trim() !== '' && episodeOf(l) === written);
    if (line === undefined) throw fail(`no episode ${episode} in ${episodeRef[1]}`);
    text = JSON.stringify({ rates: (JSON.parse(line) as { schedule?: unknown }).schedule });
  }
  return parseScheduleRows(text, file);
}

// policy files

/** The package's root folder: where the shipped policies/ live. */
export const PACKAGE_ROOT = packageRoot();

/** A relative file is looked up in the current folder, then in the package. */
export function resolvePolicyPath(file: string): string {
  if (path.isAbsolute(file) || existsSync(file)) return path.resolve(file);
  return path.join(PACKAGE_ROOT, file);
}

/** Reads and checks a policy file; every problem is a ConfigError naming --policy and the file. */
export function loadPolicyFile(file: string): PolicyFile {
  const where = `--policy ${file}`;
  let text: string;
  try {
    text = readFileSync(resolvePolicyPath(file), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `${where}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a file' : `cannot be read (${code ?? String(err)})`}`,
    );
  }
  return parsePolicy(text, where);
}

// mathjs

// mathjs takes ~2 s to load: only a run of linucb pays for it, not every command that lists agents.
let mathjs: typeof MathJs | undefined;
export const loadMathjs = (): typeof MathJs => (mathjs ??= createRequire(import.meta.url)('mathjs') as typeof MathJs);

export const NODE_LOADERS: AgentLoaders = {
  scheduleRows: readScheduleFile,
  policy: loadPolicyFile,
  mathjs: loadMathjs,
};
