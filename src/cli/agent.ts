/**
 * `npm run agent`: trains an agent over many episodes of DropoutEnv and writes a run folder.
 * Everything the user asked for is checked before anything is trained or written, so a mistake
 * costs one line on stderr, exit code 2, and leaves nothing in runs/.
 */
import path from 'node:path';
import { Subject } from 'rxjs';
import { agentNames } from '../../agents/index.js';
import { ConfigError } from '../core/errors.js';
import type { RunSummary } from '../core/run-log.js';
import { initBackend } from '../nn/backend.js';
import { RUN_FILES } from '../runs/run-writer.js';
import { helpText, parseArgs } from './args.js';
import { progressPrinter } from './progress.js';
import { DATA_OPTIONS, ENV_OPTIONS, RUN_OPTIONS, agentOptionSpecs, allRunSpecs, executeRun, findConstantBaseline, resolveRun, type ResolvedRun } from '../tune/run.js';
import { runCli } from './run-cli.js';

const USAGE = 'usage: npm run agent -- [options]\n\nTrains a dropout-tuning agent over many episodes of a real training run and writes runs/<run>/.';

function scheduleTable(schedule: number[][], layerNames: readonly string[]): string {
  const header = ['epoch'.padEnd(10), ...schedule.map((_, e) => String(e + 1).padStart(5))].join('');
  const rows = layerNames.map((name, l) => [name.padEnd(10), ...schedule.map((rates) => rates[l]!.toFixed(2).padStart(5))].join(''));
  return [header, ...rows].map((line) => `  ${line}`).join('\n');
}

function printSummary(summary: RunSummary, layerNames: string[], run: ResolvedRun): void {
  const { best, first } = summary;
  const signed = (v: number) => (v >= 0 ? '+' : '') + v.toFixed(4);
  console.log(`\n${summary.interrupted ? 'Interrupted after' : 'Finished'} ${summary.episodes} episode${summary.episodes === 1 ? '' : 's'} (${summary.totalEpochs} epochs).`);
  console.log(`Best schedule: episode ${best.episode + 1}, validation accuracy ${best.valAcc.toFixed(4)}, test accuracy ${best.testAcc.toFixed(4)}`);
  console.log(scheduleTable(best.schedule, layerNames));
  console.log(`First episode:  validation ${first.valAcc.toFixed(4)}, test ${first.testAcc.toFixed(4)}  (best − first: test ${signed(best.testAcc - first.testAcc)})`);
  const baseline = findConstantBaseline(run);
  if (baseline) {
    const b = baseline.summary.best;
    console.log(`Constant-rate baseline ${baseline.dir} (rate ${String(baseline.rate)}): validation ${b.valAcc.toFixed(4)}, test ${b.testAcc.toFixed(4)}  (best − baseline: test ${signed(best.testAcc - b.testAcc)})`);
  } else if (run.agent !== 'constant') {
    console.log('No constant-rate baseline beside this run (same data, model, epochs, seed); `--agent constant --rate R --episodes 1` makes one.');
  }
  console.log(`Replay the best schedule: npm run agent -- --agent schedule --schedule ${path.join(run.out, RUN_FILES.summary)} --episodes 1`);
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, allRunSpecs());
  if (args.help) {
    console.log(helpText(USAGE, [
      { title: 'Run', specs: RUN_OPTIONS },
      { title: 'Data', specs: DATA_OPTIONS },
      { title: 'Model and environment', specs: ENV_OPTIONS },
      { title: `Agents' own options (${agentNames().join(', ')})`, specs: agentOptionSpecs() },
    ]));
    return 0;
  }
  if (args.positional.length > 0) throw new ConfigError(`unexpected argument '${args.positional[0]}' (options start with --, see --help)`);
  const run = resolveRun(args.values);

  const backend = await initBackend(run.backend);
  console.log(`backend: ${backend}`);
  console.log(`run: ${run.out}  (${run.agent}, ${run.episodes} episodes × ${run.envConfig.maxEpochs} epochs, ${run.data.dataset} ${run.envConfig.model}, seed ${run.seed})`);

  // Ctrl-C: finish the epoch in progress, flush, say what was saved, exit non-zero. A second Ctrl-C quits now.
  const stop$ = new Subject<void>();
  let stopping = false;
  const onSigint = () => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write('\ninterrupted: finishing the current epoch (Ctrl-C again to quit at once)\n');
    stop$.next();
  };
  process.on('SIGINT', onSigint);
  const progress = progressPrinter(run.episodes, run.envConfig.maxEpochs);
  const result = await executeRun(run, { backendInUse: backend, stop$, onEvent: (e) => progress.next(e) });
  process.off('SIGINT', onSigint);

  if (!result.summary) {
    console.log(`\nno episode finished: the epochs trained are in ${path.join(run.out, RUN_FILES.steps)}; no summary.json, so the run is marked incomplete`);
    return 130;
  }
  printSummary(result.summary, result.layerNames, run);
  const files = Object.values(RUN_FILES).map((f) => path.join(run.out, f));
  console.log(`\nsaved: ${files.join(', ')}`);
  return result.interrupted ? 130 : 0;
}

runCli('agent', main);
