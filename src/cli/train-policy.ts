/**
 * `npm run train-policy`: trains a transferable dropout policy on a set of training tasks and writes
 * the policy file `--agent policy` applies (see src/experiment/train-policy.ts). Every option is checked, and
 * --out probed, before anything trains.
 */
import { ConfigError } from '../core/errors.js';
import { flagOf, type OptionSpec } from '../core/options.js';
import { BACKENDS, initBackend, requestedBackend } from '../nn/backend.js';
import {
  BASELINE_RATES,
  TASK_SETS,
  TRAIN_POLICY_DEFAULTS,
  checkPolicyOut,
  checkTrainPolicyConfig,
  trainPolicy,
  writePolicyFile,
  type TrainPolicyConfig,
} from '../experiment/train-policy.js';
import { helpText, parseArgs } from './args.js';
import { runCli } from './run-cli.js';
import { howToRun } from './command-name.js';

const USAGE = `usage: ${howToRun('train-policy')} [options]

Trains the shared dropout controller of --agent policy on a set of training tasks (the cross-entropy
method over its nine numbers) and writes a policy file recording the command, tasks, seed and cost.
Apply it with: ${howToRun('agent')} --agent policy --policy FILE --episodes 1 ...`;

const spec = (
  key: keyof TrainPolicyConfig | 'backend',
  type: OptionSpec['type'],
  help: string,
  choices?: readonly string[],
): OptionSpec => ({
  key,
  flag: flagOf(key),
  type,
  default: key === 'backend' ? 'auto' : TRAIN_POLICY_DEFAULTS[key],
  help,
  ...(choices ? { choices } : {}),
});

export const TRAIN_POLICY_OPTIONS: OptionSpec[] = [
  spec('tasks', 'string', `training tasks: ${Object.keys(TASK_SETS).join(' or ')}, or a JSON file of tasks`),
  spec('seed', 'int', 'seed of the search, the data splits and every training run'),
  spec('generations', 'int', 'generations of the cross-entropy method'),
  spec('population', 'int', 'candidate controllers per generation (the current mean among them)'),
  spec('elites', 'int', 'best candidates that set the next mean and spread'),
  spec('taskSeeds', 'int', 'seeds per task each candidate and baseline constant is scored on, per generation'),
  spec('checkSeeds', 'int', 'fresh seeds per task for the closing check against constant rates (0: none)'),
  spec('out', 'string', 'where the policy file is written'),
  spec('backend', 'string', 'tfjs backend (or the DROPTUNE_BACKEND variable)', BACKENDS),
];

/** How the file records the command: as typed after `npm run train-policy --`. */
const commandLine = (argv: readonly string[]): string =>
  ['npm run train-policy', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' ');

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, TRAIN_POLICY_OPTIONS);
  if (args.help) {
    console.log(helpText(USAGE, [{ title: 'Options', specs: TRAIN_POLICY_OPTIONS }]));
    return 0;
  }
  if (args.positional.length > 0)
    throw new ConfigError(`unexpected argument '${args.positional[0]}' (options start with --, see --help)`);
  const { backend: backendOption, ...given } = args.values as Partial<TrainPolicyConfig> & { backend?: string };
  const config = checkTrainPolicyConfig(given);
  checkPolicyOut(config.out);
  const backend = await initBackend(requestedBackend(backendOption));
  const tasks = config.taskList;
  const perCandidate = tasks.reduce((s, t) => s + t.epochs, 0);
  console.log(`backend: ${backend}`);
  console.log(`training tasks (${tasks.length}): ${tasks.map((t) => t.name).join(', ')}`);
  console.log(
    `${config.generations} generations × (${config.population} candidates + ${BASELINE_RATES.length} constants) × ${config.taskSeeds} seeds × ${perCandidate} epochs, then a check on ${config.checkSeeds} seed(s) per task; seed ${config.seed}`,
  );
  const started = performance.now();
  const elapsed = () => `${Math.round((performance.now() - started) / 1000)}s`;
  const policy = await trainPolicy(config, {
    command: commandLine(argv),
    backendInUse: backend,
    onGeneration: (g) => {
      const m = g.mean.map((v) => v.toFixed(2)).join(' ');
      console.log(
        `generation ${g.generation + 1}/${config.generations}  fitness: mean ${g.meanFitness.toFixed(4)}, best ${g.bestFitness.toFixed(4)}, elites ${g.eliteFitness.toFixed(4)}; regret in points: mean ${g.meanRegret.toFixed(4)}, best ${g.bestRegret.toFixed(4)}  θ → [${m}]  (${elapsed()})`,
      );
    },
    onCheck: (c) => {
      if (c.seeds === 0) return;
      console.log(
        `check on fresh seeds of the training tasks (mean of the last epochs' validation accuracy / final test accuracy):`,
      );
      for (const [name, r] of Object.entries(c.summary))
        console.log(`  ${name.padEnd(9)} ${r.score.toFixed(4)} / ${r.testAcc.toFixed(4)}`);
    },
  });
  writePolicyFile(config.out, policy);
  const { weights, smoothing } = policy.controller;
  console.log(
    `controller: ${Object.entries(weights)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}, smoothing ${smoothing}`,
  );
  console.log(`wrote ${config.out} (${elapsed()})`);
  return 0;
}

runCli('train-policy', main);
