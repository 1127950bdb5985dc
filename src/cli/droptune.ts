#!/usr/bin/env node
/**
 * `droptune <command> [options]`: the package's one executable (npx droptune agent …). Each command
 * is its own module under src/cli/; this loads it as if it had been started directly, so its
 * `--help`, its errors and its exit codes are the same as `npm run <command>` in development.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startedThroughBin } from './command-name.js';

const COMMANDS: Record<string, string> = {
  agent: 'train an agent on the dropout env and log the run (runs/<name>/)',
  compare: 'compare logged runs: tables, confidence intervals, plots',
  experiment: 'grid search vs learned schedules on held-out test accuracy, with a verdict',
  bench: 'time an env epoch and the kernels, against PyTorch when it is installed',
  'train-policy': 'fit the zero-shot dropout policy on training tasks',
  dashboard: 'serve a live page of the runs and experiments under a folder (127.0.0.1)',
  worker: 'train the jobs of experiments and populations queued on Redis (--queue redis://…)',
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, what]) => `  ${name.padEnd(width)}  ${what}`);
  return `usage: droptune <command> [options]   (droptune <command> --help for its options)\n\ncommands:\n${lines.join('\n')}\n`;
}

const [command, ...rest] = process.argv.slice(2);
if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
  process.stdout.write(usage());
  process.exit(command === undefined ? 2 : 0);
}
if (!Object.hasOwn(COMMANDS, command)) {
  process.stderr.write(`droptune: unknown command '${command}': one of ${Object.keys(COMMANDS).join(', ')}\n`);
  process.exit(2);
}
// The command module sees itself as the entry point: argv[1] is its own file, its options follow.
const ext = path.extname(fileURLToPath(import.meta.url));
const file = fileURLToPath(new URL(`./${command}${ext}`, import.meta.url));
process.argv = [process.argv[0]!, file, ...rest];
startedThroughBin();
await import(`./${command}.js`);
