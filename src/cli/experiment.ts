/**
 * `npm run experiment -- --preset quick|standard`: the comparison the product exists for (what it runs
 * and how it scores: src/experiment/experiment.ts). This file parses options, wires the runs to an executor
 * (--workers N: a pool of N worker threads; 1: this process), handles Ctrl-C and prints.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import { flagOf, type OptionSpec } from '../core/options.js';
import { CSV_HEADER_MODES } from '../data/csv.js';
import { DATASET_FORMS } from '../data/dataset.js';
import { LABEL_NOISE_KINDS } from '../data/label-noise.js';
import { SELECT_DEFAULTS, SELECT_PROTOCOLS } from '../core/select.js';
import { BACKENDS, initBackend } from '../nn/backend.js';
import { renderText } from '../analysis/compare.js';
import { DEFAULT_WORKERS, EXECUTOR_OPTION, type Executor, type ExecutorKind } from '../execution/executor.js';
import { createExecutor } from '../execution/create-executor.js';
import { queueNameFor } from '../execution/queue/protocol.js';
import { openQueue, queueOptions } from './queue-setup.js';
import { stopOnSignals } from './signals.js';
import {
  EXPERIMENT_DEFAULTS,
  METHODS,
  PLAN_FILE,
  checkSavedPlan,
  PRESET_NAMES,
  describePresets,
  experimentTable,
  gridSweep,
  planExperiment,
  sweepTable,
  verdictText,
  powerText,
  protocolTable,
  runExperiment,
  writeExperiment,
  type ExperimentConfig,
  type GroupReport,
} from '../experiment/experiment.js';
import { ENV_OPTIONS } from '../run/run.js';
import { EXPERIMENT_FILES, seedRunsDir } from '../store/layout.js';
import { StopFlag } from '../core/stop-flag.js';
import { EXPERIMENT_LOCK, acquireRunLock } from '../store/run-folder.js';
import { helpText, parseArgs } from './args.js';
import { runCli } from './run-cli.js';
import { commandName, howToRun } from './command-name.js';

const OPTIONS: OptionSpec[] = [
  {
    key: 'preset',
    flag: '--preset',
    type: 'string',
    default: EXPERIMENT_DEFAULTS.preset,
    help: 'size of the experiment',
    choices: PRESET_NAMES,
  },
  { key: 'seeds', flag: '--seeds', type: 'int', default: undefined, help: "seeds 0..N-1 (default: the preset's)" },
  {
    key: 'dataset',
    flag: '--dataset',
    type: 'string',
    default: undefined,
    help: `data: ${DATASET_FORMS.join(', ')} (default: the preset's)`,
  },
  { key: 'model', flag: '--model', type: 'string', default: undefined, help: "model spec (default: the preset's)" },
  {
    key: 'trainSize',
    flag: '--train-size',
    type: 'int',
    default: undefined,
    help: "training samples (default: the preset's)",
  },
  {
    key: 'valSize',
    flag: '--val-size',
    type: 'int',
    default: undefined,
    help: "validation samples (default: the preset's)",
  },
  {
    key: 'testSize',
    flag: '--test-size',
    type: 'int',
    default: undefined,
    help: "test samples (default: the preset's)",
  },
  { key: 'epochs', flag: '--epochs', type: 'int', default: undefined, help: "epochs per run (default: the preset's)" },
  {
    key: 'grid',
    flag: '--grid',
    type: 'numbers',
    default: undefined,
    help: "static rates of the grid, comma-separated (default: the preset's)",
  },
  {
    key: 'folds',
    flag: '--folds',
    type: 'int',
    default: EXPERIMENT_DEFAULTS.folds,
    help: 'K-fold cross-validation for the grid (1: the fixed validation split)',
  },
  {
    key: 'carry',
    flag: '--carry',
    type: 'boolean',
    default: EXPERIMENT_DEFAULTS.carry,
    help: 'learners start each seed from the agent.json the previous seed ended with',
  },
  {
    key: 'methods',
    flag: '--methods',
    type: 'string',
    default: 'all',
    help: `comma-separated subset of: ${METHODS.map((m) => m.name).join(', ')}`,
  },
  {
    key: 'out',
    flag: '--out',
    type: 'string',
    default: undefined,
    help: 'folder for the runs and the report (default: runs/experiment-<preset>-<date>)',
  },
  {
    key: 'backend',
    flag: flagOf('backend'),
    type: 'string',
    default: EXPERIMENT_DEFAULTS.backend,
    help: 'tfjs backend',
    choices: BACKENDS,
  },
  {
    key: 'dataDir',
    flag: flagOf('dataDir'),
    type: 'string',
    default: EXPERIMENT_DEFAULTS.dataDir,
    help: 'folder of the fashion-mnist IDX files',
  },
  {
    key: 'csvLabel',
    flag: flagOf('csvLabel'),
    type: 'string',
    default: undefined,
    help: 'csv: the label column, by name or 0-based index (default: the last column)',
  },
  {
    key: 'csvHeader',
    flag: flagOf('csvHeader'),
    type: 'string',
    default: undefined,
    help: 'csv: is the first row a header (default: auto)',
    choices: CSV_HEADER_MODES,
  },
  {
    key: 'labelNoise',
    flag: flagOf('labelNoise'),
    type: 'number',
    default: undefined,
    help: "fraction of training and validation labels replaced by another class; test stays clean (default: the preset's, else 0)",
  },
  {
    key: 'labelNoiseKind',
    flag: flagOf('labelNoiseKind'),
    type: 'string',
    default: undefined,
    help: "symmetric: a uniformly drawn other class; pair: class c flips to (c + 1) mod K (default: the preset's, else symmetric)",
    choices: LABEL_NOISE_KINDS,
  },
  {
    key: 'select',
    flag: '--select',
    type: 'string',
    default: SELECT_DEFAULTS.select,
    help: "how every method scores episodes: final (last epoch's valAcc), smoothed (mean of the last --select-window), best-epoch (Keras's restore_best_weights)",
    choices: SELECT_PROTOCOLS,
  },
  {
    key: 'selectWindow',
    flag: '--select-window',
    type: 'int',
    default: SELECT_DEFAULTS.selectWindow,
    help: '--select smoothed: the last epochs averaged',
  },
  {
    key: 'workers',
    flag: '--workers',
    type: 'int',
    default: DEFAULT_WORKERS,
    help: 'runs at once, one worker each (see --executor; 1: all in this process); the default is the number of cores',
  },
  EXECUTOR_OPTION,
  {
    key: 'queue',
    flag: '--queue',
    type: 'string',
    default: undefined,
    help: `send the runs to a Redis queue for \`${commandName('worker')}\` processes on any machine: redis://[[user]:password@]host[:port][/db], rediss:// for TLS`,
  },
  {
    key: 'queueName',
    flag: '--queue-name',
    type: 'string',
    default: undefined,
    help: 'the queue to use with --queue (default: named after --out)',
  },
  {
    key: 'resume',
    flag: '--resume',
    type: 'string',
    default: undefined,
    help: 'continue the experiment in this folder: finished runs are kept, the others continue (its own options apply; --workers may change, --methods may add methods, --seeds may add seeds)',
  },
];

/** Env options every run of the experiment takes (the preset's, overridden here); --model is above. */
const RUN_ENV_OPTIONS: OptionSpec[] = ENV_OPTIONS.filter(
  (o) => o.key !== 'model' && o.key !== 'action' && o.key !== 'testEachEpoch',
).map((o) => ({
  ...o,
  default: undefined,
  help: `${o.help} (default: the preset's, else ${JSON.stringify(o.default)})`,
}));

/**
 * The options of the experiment to resume in `dir`, with `--workers` and `--backend` as given now, and
 * `--methods` when it adds methods: the finished runs are read back and only the new methods train.
 */
function resumedConfig(dir: string, given: Record<string, unknown>): Partial<ExperimentConfig> {
  const others = [
    ...Object.keys(given).filter(
      (k) => !['workers', 'backend', 'options', 'methods', 'seeds', 'queue', 'queueName'].includes(k),
    ),
    ...Object.keys((given['options'] as object | undefined) ?? {}),
  ];
  if (others.length > 0)
    throw new ConfigError(
      `--resume takes no other options but --workers, --queue, --queue-name, --backend, --methods and --seeds (got ${others.map(flagOf).join(', ')}): the experiment's own are in its ${PLAN_FILE}`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path.join(dir, PLAN_FILE), 'utf8'));
  } catch (err) {
    throw new ConfigError(
      `--resume ${dir}: not an experiment folder (${(err as NodeJS.ErrnoException).code === 'ENOENT' ? `no ${PLAN_FILE}` : `${PLAN_FILE} is not valid JSON`})`,
    );
  }
  let saved: Partial<ExperimentConfig>;
  try {
    saved = checkSavedPlan(parsed, path.join(dir, PLAN_FILE));
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`--resume ${dir}: ${err.message}`);
    throw err;
  }
  const methods = given['methods'] as string[] | undefined;
  const dropped = (saved.methods ?? []).filter((m) => methods !== undefined && !methods.includes(m));
  if (dropped.length > 0)
    throw new ConfigError(
      `--methods with --resume may only add methods: ${dropped.join(', ')} ${dropped.length === 1 ? 'is' : 'are'} in ${path.join(dir, PLAN_FILE)}`,
    );
  const seeds = given['seeds'] as number | undefined;
  if (seeds !== undefined && saved.seeds !== undefined && seeds < saved.seeds)
    throw new ConfigError(
      `--seeds with --resume may only add seeds: ${path.join(dir, PLAN_FILE)} has ${saved.seeds}, got ${seeds}`,
    );
  return { ...saved, ...given, methods: methods ?? saved.methods, out: dir, resume: true };
}

function groupLine(r: GroupReport): string {
  const head = `seed ${r.seed}  ${r.method.padEnd(15)}`;
  if ('missing' in r) return `${head} left out: ${r.missing}`;
  const { pick } = r;
  return `${head} valAcc ${pick.valAcc.toFixed(4)}  testAcc ${pick.testAcc.toFixed(4)}  epochs ${pick.epochs}  (${r.seconds.toFixed(0)} s)`;
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, [...OPTIONS, ...RUN_ENV_OPTIONS]);
  if (args.help) {
    console.log(
      helpText(
        `usage: ${howToRun('experiment')} --preset ${PRESET_NAMES.join('|')} [options]\n\nLearned schedules vs the best static rate of a grid search, same seeds and budget.\n\nPresets (every field can be overridden by the options below):\n${describePresets()}`,
        [
          { title: 'Options', specs: OPTIONS },
          { title: 'Env options for every run', specs: RUN_ENV_OPTIONS },
        ],
      ),
    );
    return 0;
  }
  if (args.positional.length > 0) throw new ConfigError(`unexpected argument '${args.positional[0]}' (see --help)`);
  const {
    resume: resumeDir,
    queue: queueGiven,
    queueName: queueNameGiven,
    executor: executorGiven,
    ...all
  } = args.values;
  const executorKind = (executorGiven ?? EXECUTOR_OPTION.default) as ExecutorKind;
  const queue = queueOptions(queueGiven, queueNameGiven);
  const queueUrl = queue?.url;
  if (queueUrl !== undefined && ('workers' in all || executorGiven !== undefined))
    throw new ConfigError(
      `${'workers' in all ? '--workers' : '--executor'} does not apply with --queue: the workers are \`${commandName('worker')}\` processes`,
    );
  const queueName = queue?.name;
  // Env options go to every run, under `options`; the rest are the experiment's own.
  const envKeys = new Set(RUN_ENV_OPTIONS.map((o) => o.key));
  const given = Object.fromEntries(Object.entries(all).filter(([k]) => !envKeys.has(k)));
  const envGiven = Object.fromEntries(Object.entries(all).filter(([k]) => envKeys.has(k)));
  if (Object.keys(envGiven).length > 0) given['options'] = envGiven;
  const methods =
    given['methods'] === undefined || given['methods'] === 'all' ? undefined : String(given['methods']).split(',');
  const plan = planExperiment(
    resumeDir !== undefined
      ? resumedConfig(String(resumeDir), { ...given, ...(methods ? { methods } : {}) })
      : ({ ...given, methods } as Partial<ExperimentConfig>),
  );
  const { config, preset } = plan;
  // One coordinator per experiment folder (queue coordinators write its runs' files themselves).
  mkdirSync(config.out, { recursive: true });
  const releaseLock = acquireRunLock(config.out, (m) => process.stderr.write(`warning: ${m}\n`), EXPERIMENT_LOCK);
  process.on('exit', releaseLock);
  const workers = Math.min(config.workers, plan.tasks.length);
  const name = queueUrl === undefined ? undefined : (queueName ?? queueNameFor(config.out));

  // Ctrl-C or SIGTERM: no run starts, the running ones finish their epoch and flush. A second one quits now.
  const stop = new StopFlag();
  const backend = await initBackend(config.backend);
  const extra = Object.entries(config.options)
    .map(([k, v]) => `${flagOf(k)} ${String(v)}`)
    .join(' ');
  console.log(
    `experiment ${config.preset}: ${config.seeds} seeds × ${plan.methods.length} methods, ${preset.dataset} ${preset.model}${extra ? ` ${extra}` : ''}, ${preset.trainSize} train / ${preset.valSize} val / ${preset.testSize} test, ${preset.epochs} epochs per episode, grid ${preset.grid.join(', ')}${config.labelNoise > 0 ? `, ${Math.round(config.labelNoise * 100)}% ${config.labelNoiseKind} label noise (train and validation)` : ''}${config.select !== 'final' ? `, select ${config.select}` : ''}${config.folds > 1 ? `, grid scored by ${config.folds}-fold CV` : ''}${config.carry ? ', learners carried across seeds' : ''}`,
  );
  const resumeHint = `${howToRun('experiment')} --resume ${config.out}${queueUrl !== undefined ? ` --queue ${queueUrl.shown}` : ''}`;
  let executor: Executor | undefined;
  let lost: string | undefined;
  if (queueUrl !== undefined) {
    executor = await openQueue({
      command: 'experiment',
      url: queueUrl,
      name: name!,
      kept: 'the runs finished so far are kept',
      resumeHint,
      onLost: (message) => {
        lost = message;
        stop.request();
      },
    });
    if (!executor) return 1;
  } else executor = createExecutor(workers, executorKind);
  const where =
    queueUrl !== undefined
      ? ` on the workers of queue ${name} at ${queueUrl.shown} (start them with: ${howToRun('worker')} --queue ${queueUrl.shown} --queue-name ${name})`
      : workers > 1
        ? ` in ${workers} worker ${executorKind === 'process' ? 'processes' : 'threads'}`
        : '';
  console.log(
    `backend: ${backend}${where}; ${plan.totalEpochs} epochs in all${config.folds > 1 ? ` plus ${config.folds}-fold grid scoring` : ''}; writing ${config.out}`,
  );

  const started = performance.now();
  const signals = stopOnSignals(
    {
      finishing: 'every running run finishes its epoch in progress, no other starts',
      lost: 'the epochs in progress are lost',
      resumeHint,
    },
    () => stop.request(),
  );
  const result = await runExperiment(plan, {
    stop,
    ...(executor ? { executor } : {}),
    onGroup: (r) => console.log(groupLine(r)),
    onOutcome: (_task, outcome) => {
      // Redis gone: said once above, not once per run.
      if (outcome.status === 'failed' && lost === undefined) process.stderr.write(`${outcome.error}\n`);
    },
  });
  await executor?.close();
  signals.release();

  console.log(`\n${renderText([experimentTable(result.picks, config.methods, config.folds, result.missing)])}`);
  console.log(`\n${verdictText(result.picks, config.methods)}`);
  const power = powerText(result.picks, config.methods);
  if (power !== '') console.log(`\n${power}`);
  console.log(`\n${renderText([protocolTable(result.picks, config.methods)])}`);
  const written = await writeExperiment(plan, result, backend);
  const sweep = gridSweep(plan);
  if (sweep.length > 0) console.log(`\n${renderText([sweepTable(sweep)])}`);
  const [json, md] = written.files;
  const compareDir = path.join(config.out, EXPERIMENT_FILES.compare);
  console.log(
    `\nwrote ${md}, ${json}, ${result.interrupted ? `no compare report (the runs are partial: ${howToRun('compare')} ${seedRunsDir(config.out, 0)} … makes one)` : `${written.compareFiles.length} compare files in ${compareDir} (open report.html)`}`,
  );
  console.log(`took ${((performance.now() - started) / 60000).toFixed(1)} min`);
  if (lost !== undefined) return 1;
  if (signals.stopped()) {
    const finished = result.picks.length;
    console.log(
      `interrupted: ${finished} of ${plan.groups.length} method/seed results finished; the runs are in ${path.join(config.out, EXPERIMENT_FILES.runs)}; continue with: ${resumeHint}`,
    );
    return signals.exitCode();
  }
  if (result.failures.length > 0) {
    process.stderr.write(
      `experiment: ${result.failures.length} run${result.failures.length === 1 ? '' : 's'} failed; ${result.missing.length} method/seed result${result.missing.length === 1 ? '' : 's'} left out of the tables\n`,
    );
    return 1;
  }
  return 0;
}

runCli('experiment', main);
