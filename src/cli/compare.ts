/**
 * npm run compare -- <run folders or a folder of runs> [--out DIR] [--baseline AGENT]
 *
 * Reads the runs (never writing to them), prints the comparison tables, and writes compare.json,
 * compare.md, the plots as .svg and report.html into the output folder.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { ConfigError } from '../core/errors.js';
import { compareRuns, comparisonTables, renderText } from '../analysis/compare.js';
import { RUN_FILES } from '../store/layout.js';
import { readRuns } from '../store/read-run.js';
import { checkOutPath, writeComparison } from '../analysis/report.js';
import { unknownOption } from './args.js';
import { dropOutputOnError } from './run-cli.js';
import { howToRun } from './command-name.js';

const HELP = `Compare droptune runs: per-run and per-group tables (mean ± 95% CI over seeds), plots, an HTML report.

usage: ${howToRun('compare')} <run folders or a folder of runs ...> [--out DIR] [--baseline AGENT]

  <paths>            run folders (holding config.json), folders of runs, or a mix
  --out DIR          where to write compare.json, compare.md, *.svg and report.html
                     (default: <folder>/compare for one folder of runs, else runs/compare-<timestamp>)
  --baseline AGENT   a group label (e.g. 'constant rate=0.3') or an agent with one group: adds the
                     paired difference of best-episode testAcc of every other group on shared seeds
  -h, --help         this text

Runs that differ only in their seed form a group; its label is the agent and its distinguishing
options, or the run's options.label when it has one.`;

export interface CompareArgs {
  paths: string[];
  out: string | undefined;
  baseline: string | undefined;
  help: boolean;
}

export function parseArgs(argv: readonly string[]): CompareArgs {
  const args: CompareArgs = { paths: [], out: undefined, baseline: undefined, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new ConfigError(`${flag} needs a value`);
      return v;
    };
    if (flag === '-h' || flag === '--help') args.help = true;
    else if (flag === '--out') args.out = value();
    else if (flag === '--baseline') args.baseline = value();
    else if (flag.startsWith('-'))
      throw unknownOption(flag, ['--out', '--baseline', '--help'], '(known: --out, --baseline, --help)');
    else args.paths.push(arg);
  }
  return args;
}

/** `2025-01-31T12-05-09`: sortable and safe in a file name. */
const timestamp = (d: Date): string => d.toISOString().slice(0, 19).replace(/:/g, '-');

export function defaultOutDir(paths: readonly string[], now = new Date()): string {
  const only = paths[0];
  const isFolderOfRuns = paths.length === 1 && only !== undefined && !existsSync(join(only, RUN_FILES.config));
  return isFolderOfRuns ? join(only, 'compare') : join('runs', `compare-${timestamp(now)}`);
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const args = parseArgs(argv);
    if (args.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    if (args.paths.length === 0) throw new ConfigError('give at least one run folder or folder of runs (see --help)');
    const outDir = args.out ?? defaultOutDir(args.paths);
    // before reading (and printing) anything, so a bad --out costs one line
    try {
      checkOutPath(outDir);
    } catch (err) {
      if (args.out !== undefined || !(err instanceof ConfigError)) throw err;
      throw new ConfigError(`${err.message} (this is the default output folder; give another with --out)`);
    }
    const read = readRuns(args.paths);
    const comparison = compareRuns(read.value, { baseline: args.baseline });
    comparison.warnings.unshift(...read.warnings);
    for (const warning of comparison.warnings) process.stderr.write(`compare: warning: ${warning}\n`);

    const color = process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined;
    process.stdout.write(renderText(comparisonTables(comparison), { color }) + '\n\n');
    const files = await writeComparison(outDir, comparison, read.value);
    process.stdout.write(`wrote:\n${files.map((f) => `  ${f}`).join('\n')}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`compare: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

// run only as the entry point, so tests can import parseArgs and defaultOutDir
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  dropOutputOnError();
  process.exitCode = await main(process.argv.slice(2));
}
