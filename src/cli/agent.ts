/**
 * `npm run agent`: trains an agent over many episodes of DropoutEnv and writes a run folder.
 * Everything the user asked for is checked before anything is trained or written, so a mistake
 * costs one line on stderr, exit code 2, and leaves nothing in runs/.
 */
import path from 'node:path';
import { Subject } from 'rxjs';
import { agentNames } from '../../agents/index.js';
import { ConfigError } from '../core/errors.js';
import type { EpisodeRecord, RunSummary } from '../core/run-log.js';
import { initBackend } from '../nn/backend.js';
import { RUN_FILES } from '../store/layout.js';
import { helpText, parseArgs } from './args.js';
import { progressPrinter, scheduleTable } from './progress.js';
import { FINAL_MODEL_DIR, trainFinalModel } from '../run/final-model.js';
import {
  DATA_OPTIONS,
  ENV_OPTIONS,
  RUN_OPTIONS,
  executeRun,
  findConstantBaseline,
  type ResolvedRun,
} from '../run/run.js';
import { EXECUTOR_OPTION, messageOf, type Executor, type ExecutorKind } from '../execution/executor.js';
import { createExecutor } from '../execution/create-executor.js';
import { queueNameFor, type QueueUrl } from '../execution/queue/protocol.js';
import { openQueue, queueOptions } from './queue-setup.js';
import { stopOnSignals } from './signals.js';
import type { OptionSpec } from '../core/options.js';
import {
  SCHEDULERS,
  ownOptionSpecs,
  resolveAnyRun,
  runSpecs,
  schedulerFor,
  schedulerNames,
  type TrialScheduler,
} from '../schedulers/index.js';
import { planReplay, replayEnvSeed, type ReplayPlan } from '../run/replay.js';
import { resolveResume } from '../run/resume.js';
import { StopFlag } from '../core/stop-flag.js';
import { runCli } from './run-cli.js';
import { startDashboard, type Dashboard } from '../serve/server.js';
import { commandName, howToRun } from './command-name.js';

/** Where a scheduler's trials train instead of --workers threads: `npm run worker` processes on a Redis queue. */
const QUEUE_OPTIONS: OptionSpec[] = [
  {
    key: 'queue',
    flag: '--queue',
    type: 'string',
    default: undefined,
    help: `--agent pbt or sha: train the trials' segments on \`${commandName('worker')}\` processes through this Redis: redis://[[user]:password@]host[:port][/db], rediss:// for TLS`,
  },
  {
    key: 'queueName',
    flag: '--queue-name',
    type: 'string',
    default: undefined,
    help: 'the queue to use with --queue (default: named after the run folder)',
  },
];

const USAGE = `usage: ${howToRun('agent')} [options]\n\nTrains a dropout-tuning agent over many episodes of a real training run and writes runs/<run>/.`;

function printSummary(summary: RunSummary, layerNames: string[], run: ResolvedRun): void {
  const { best, first } = summary;
  const signed = (v: number) => (v >= 0 ? '+' : '') + v.toFixed(4);
  console.log(
    `\n${summary.interrupted ? 'Interrupted after' : 'Finished'} ${summary.episodes} episode${summary.episodes === 1 ? '' : 's'} (${summary.totalEpochs} epochs).`,
  );
  console.log(
    `Best schedule: episode ${best.episode}, validation accuracy ${best.valAcc.toFixed(4)}, test accuracy ${best.testAcc.toFixed(4)}`,
  );
  console.log(scheduleTable(best.schedule, layerNames));
  console.log(
    `First episode:  validation ${first.valAcc.toFixed(4)}, test ${first.testAcc.toFixed(4)}  (best − first: test ${signed(best.testAcc - first.testAcc)})`,
  );
  const baseline = findConstantBaseline(run);
  if (baseline) {
    const b = baseline.summary.best;
    console.log(
      `Constant-rate baseline ${baseline.dir} (rate ${String(baseline.rate)}): validation ${b.valAcc.toFixed(4)}, test ${b.testAcc.toFixed(4)}  (best − baseline: test ${signed(best.testAcc - b.testAcc)})`,
    );
  } else if (run.agent !== 'constant') {
    console.log(
      'No constant-rate baseline beside this run (same data, model, epochs, seed); `--agent constant --rate R --episodes 1` makes one.',
    );
  }
  console.log(
    `Replay the best episode exactly (same schedule, same seed): ${howToRun('agent')} --replay ${run.out}#${best.episode}`,
  );
}

/** A PBT member's copies, as `member 3 after epoch 4, …`; empty for an episode that trained on its own. */
const inherited = (e: EpisodeRecord): string =>
  (e.lineage ?? []).map((l) => `member ${l.from} after epoch ${l.epoch}`).join(', ');

/**
 * --agent pbt (or another scheduler): the trials train on `--workers` threads or processes (this one
 * when 1). Ctrl-C and SIGTERM stop every trial after its epoch in progress; --resume continues from there.
 */
async function trainTrials(
  scheduler: TrialScheduler,
  run: ResolvedRun,
  backend: string,
  resume: boolean,
  queue: { url: QueueUrl; name: string | undefined } | undefined,
  executorKind: ExecutorKind,
): Promise<number> {
  const workers = scheduler.concurrency(run.agentOptions);
  const stop = new StopFlag();
  // Resumed on the same queue: the segments still running on workers come back through it.
  const resumeHint = `${howToRun('agent')} --resume ${run.out}${queue ? ` --queue ${queue.url.shown}` : ''}`;
  let executor: Executor;
  let lost: string | undefined;
  if (queue) {
    const name = queue.name ?? queueNameFor(run.out);
    const opened = await openQueue({
      command: 'agent',
      url: queue.url,
      name,
      kept: 'every finished generation is kept',
      resumeHint,
      onLost: (message) => {
        lost = message;
        stop.request();
      },
    });
    if (!opened) return 1;
    executor = opened;
    console.log(
      `backend: ${backend} on the workers of queue ${name} at ${queue.url.shown} (start them with: ${howToRun('worker')} --queue ${queue.url.shown} --queue-name ${name})`,
    );
  } else {
    executor = createExecutor(workers, executorKind);
    const where = workers > 1 ? ` in ${workers} worker ${executorKind === 'process' ? 'processes' : 'threads'}` : '';
    console.log(`backend: ${backend}${where}`);
  }
  const [first, ...rest] = scheduler.plan(run);
  console.log(`${first}${resume ? ', resuming' : ''}`);
  for (const line of rest) console.log(line);
  const signals = stopOnSignals(
    { finishing: 'every trial finishes its epoch in progress', lost: 'the epochs in progress are lost', resumeHint },
    () => stop.request(),
  );
  let result;
  let segmentFailure: unknown;
  try {
    result = await scheduler.run(run, {
      runSegment: (segment) =>
        executor.runSegment(segment, { stop }).catch((err: unknown) => {
          segmentFailure = err;
          throw err;
        }),
      backendInUse: backend,
      resume,
      stopRequested: () => stop.requested,
      onProgress: (e) => console.log(scheduler.progressLine(e, run)),
    });
  } catch (err) {
    // A segment that failed on a queue worker: its one-line error. A mistake or a bug in this process
    // (a bad dataset, a changed folder) is not the worker's: it goes on as it would without --queue.
    if (!queue || err !== segmentFailure || err instanceof ConfigError) throw err;
    process.stderr.write(
      `agent: a trial's segment failed on a worker: ${messageOf(err)}; continue with: ${resumeHint}\n`,
    );
    return 1;
  } finally {
    signals.release();
    await executor.close();
  }
  if (lost !== undefined) return 1;
  if (!result.summary) {
    console.log(
      `\nstopped: every trial's last epoch is checkpointed in ${path.join(run.out, scheduler.checkpointDir)}; continue with: ${resumeHint}`,
    );
    return signals.exitCode();
  }
  const { best } = result.summary;
  const member = result.records.find((r) => r.episode === best.episode)!;
  const lineage = member.lineage ?? [];
  console.log(`\nFinished ${result.records.length} trials (${result.summary.totalEpochs} epochs).`);
  console.log(
    `Best trial ${best.episode}: validation accuracy ${best.valAcc.toFixed(4)}, test accuracy ${best.testAcc.toFixed(4)}${lineage.length > 0 ? `; its weights came from ${lineage.map((l) => `member ${l.from} after epoch ${l.epoch}`).join(', then ')}` : ''}`,
  );
  console.log(scheduleTable(best.schedule, result.layerNames));
  const sorted = result.records.map((r) => r.valAcc).sort((a, b) => a - b);
  console.log(
    `Trials' final validation accuracy: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(4)}, worst ${sorted[0]!.toFixed(4)}`,
  );
  const baseline = findConstantBaseline(run);
  if (baseline) {
    const b = baseline.summary.best;
    console.log(
      `Constant-rate baseline ${baseline.dir} (rate ${String(baseline.rate)}): validation ${b.valAcc.toFixed(4)}, test ${b.testAcc.toFixed(4)}`,
    );
  }
  console.log(
    `Train the best trial's schedule from scratch as a fixed schedule: ${howToRun('agent')} --replay ${run.out}#${best.episode}`,
  );
  console.log(
    `\nsaved: ${[...Object.values(RUN_FILES), ...scheduler.files].map((f) => path.join(run.out, f)).join(', ')}`,
  );
  return 0;
}

/** --final: the tuned model out of the run. */
const FINAL_OPTIONS: OptionSpec[] = [
  {
    key: 'final',
    flag: '--final',
    type: 'boolean',
    default: false,
    help: `after the run, train its best episode again and save that model (stock Dropout, plain tfjs loads it) in RUN/${FINAL_MODEL_DIR}/`,
  },
];

/** Not run options (never recorded in config.json): how to watch this run. */
const DASHBOARD_OPTIONS: OptionSpec[] = [
  {
    key: 'dashboard',
    flag: '--dashboard',
    type: 'boolean',
    default: false,
    help: `serve a live page of this run on 127.0.0.1 and print its address (${commandName('dashboard')} for all runs)`,
  },
  {
    key: 'dashboardPort',
    flag: '--dashboard-port',
    type: 'int',
    default: 0,
    help: 'port of --dashboard (0: a free one)',
  },
];

/** --dashboard: serves the run folder live while it trains, then until Ctrl-C. */
async function serveRun(out: string, port: unknown): Promise<Dashboard> {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(`--dashboard-port must be a whole number in [0, 65535], got ${String(port)}`);
  const dashboard = await startDashboard({ root: out, port });
  console.log(`dashboard: ${dashboard.url}#/run/.  (live, read-only)`);
  return dashboard;
}

async function keepServing(dashboard: Dashboard | undefined, code: number): Promise<number> {
  if (!dashboard) return code;
  // Only a run that ended well stays on show: stopped by Ctrl-C or SIGTERM the user is leaving, and a
  // run that failed (Redis unreachable, a worker's error) has its one line and its exit code to give.
  if (code !== 0) {
    await dashboard.close();
    return code;
  }
  console.log(`\nthe dashboard stays at ${dashboard.url}#/run/. until Ctrl-C`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await dashboard.close();
  return code;
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv, [
    ...runSpecs(),
    ...FINAL_OPTIONS,
    EXECUTOR_OPTION,
    ...DASHBOARD_OPTIONS,
    ...QUEUE_OPTIONS,
  ]);
  const { dashboard: wantsDashboard, dashboardPort, ...runValues } = parsed.values;
  if (dashboardPort !== undefined && wantsDashboard !== true)
    throw new ConfigError('--dashboard-port needs --dashboard');
  const args = { ...parsed, values: runValues };
  if (args.help) {
    console.log(
      helpText(USAGE, [
        { title: 'Run', specs: [...runSpecs().slice(0, RUN_OPTIONS.length), ...FINAL_OPTIONS] },
        { title: 'Data', specs: DATA_OPTIONS },
        { title: 'Model and environment', specs: ENV_OPTIONS },
        {
          title: `Agents' and schedulers' own options (${[...agentNames(), ...schedulerNames()].join(', ')})`,
          specs: ownOptionSpecs(),
        },
        { title: 'Trials on this machine (--agent pbt, sha)', specs: [EXECUTOR_OPTION] },
        { title: 'Watching', specs: DASHBOARD_OPTIONS },
        { title: 'Trials on a Redis queue (pbt, sha)', specs: QUEUE_OPTIONS },
      ]),
    );
    return 0;
  }
  if (args.positional.length > 0)
    throw new ConfigError(`unexpected argument '${args.positional[0]}' (options start with --, see --help)`);
  const {
    resume: resumeDir,
    replay,
    queue: queueGiven,
    queueName: queueNameGiven,
    executor: executorGiven,
    final,
    ...given
  } = args.values as Record<string, unknown> & { resume?: string; replay?: string; executor?: string; final?: boolean };
  const executorKind = (executorGiven ?? EXECUTOR_OPTION.default) as ExecutorKind;
  const queue = queueOptions(queueGiven, queueNameGiven);
  if (resumeDir !== undefined && replay !== undefined)
    throw new ConfigError('--resume and --replay do not go together: resume continues a run, replay starts a new one');

  let run: ResolvedRun;
  let replaying: ReplayPlan | undefined;
  if (resumeDir !== undefined) {
    const resumed = resolveResume(resumeDir, given, {
      resumeExperiment: `${howToRun('experiment')} --resume <folder>`,
      schedulers: SCHEDULERS,
    });
    if (resumed.finished) {
      console.log(
        `${resumeDir} has finished: nothing to resume (its summary is ${path.join(resumeDir, RUN_FILES.summary)})`,
      );
      return 0;
    }
    run = resumed.run;
  } else if (replay !== undefined) {
    replaying = planReplay(replay, given, SCHEDULERS);
    run = resolveAnyRun(replaying.options);
    run.options['replay'] = { from: replaying.from, envSeed: replaying.envSeed };
  } else {
    run = resolveAnyRun(given);
  }

  const scheduler = schedulerFor(run.agent);
  if (queue && !scheduler)
    throw new ConfigError(
      `--queue applies to a scheduler over trials (--agent ${schedulerNames().join(' or ')}), not to --agent ${run.agent}; experiments take it too (${howToRun('experiment')} --queue …)`,
    );
  if (queue && ('workers' in given || executorGiven !== undefined))
    throw new ConfigError(
      `${'workers' in given ? '--workers' : '--executor'} does not apply with --queue: the members train on \`${commandName('worker')}\` processes`,
    );
  if (executorGiven !== undefined && !scheduler)
    throw new ConfigError(
      `--executor applies to a scheduler over trials (--agent ${schedulerNames().join(' or ')}), not to --agent ${run.agent}: one run trains in this process`,
    );
  if (final === true && scheduler)
    throw new ConfigError(
      `--final does not apply to --agent ${run.agent}: its trials continue from each other's checkpoints; train its best schedule with --replay RUN#N --final`,
    );
  const dashboard = wantsDashboard === true ? await serveRun(run.out, dashboardPort ?? 0) : undefined;
  const backend = await initBackend(run.backend);
  if (scheduler)
    return keepServing(
      dashboard,
      await trainTrials(scheduler, run, backend, resumeDir !== undefined, queue, executorKind),
    );
  return keepServing(dashboard, await trainRun(run, backend, resumeDir, replaying, final === true));
}

async function trainRun(
  run: ResolvedRun,
  backend: string,
  resumeDir: string | undefined,
  replaying: ReplayPlan | undefined,
  final = false,
): Promise<number> {
  console.log(`backend: ${backend}`);
  console.log(
    `run: ${run.out}  (${run.agent}, ${run.episodes} episodes × ${run.envConfig.maxEpochs} epochs, ${run.data.dataset} ${run.envConfig.model}, seed ${run.seed})${resumeDir !== undefined ? ', resuming' : ''}`,
  );
  if (replaying) {
    const r = replaying.recorded;
    console.log(
      `replaying ${replaying.from} under its env seed ${replaying.envSeed} (recorded: validation ${r.valAcc.toFixed(4)}, test ${r.testAcc.toFixed(4)})`,
    );
    if (inherited(r))
      console.log(
        `note: this PBT member continued from other members' weights (${inherited(r)}); trained from scratch, its schedule is a new run and need not reproduce those accuracies`,
      );
  }

  const stop$ = new Subject<void>();
  const resumeHint = `${howToRun('agent')} --resume ${run.out}`;
  const signals = stopOnSignals(
    { finishing: 'finishing the current epoch', lost: 'the epoch in progress is lost', resumeHint },
    () => stop$.next(),
  );
  const progress = progressPrinter(run.episodes, run.envConfig.maxEpochs);
  const envSeed = replayEnvSeed(run);
  const result = await executeRun(run, {
    backendInUse: backend,
    stop$,
    onEvent: (e) => progress.next(e),
    resume: resumeDir !== undefined,
    envSeed,
  });
  signals.release();
  const stopCode = signals.exitCode();

  if (!result.summary) {
    console.log(
      `\nno episode finished: the epochs trained are in ${path.join(run.out, RUN_FILES.steps)}; continue with: ${resumeHint}`,
    );
    return stopCode;
  }
  if (replaying) {
    const [now, then] = [result.records[0]!, replaying.recorded];
    const same = now.valAcc === then.valAcc && now.testAcc === then.testAcc;
    const why = inherited(then) ? 'the member inherited weights, see above' : 'another backend or droptune version?';
    console.log(
      `\nreplay of ${replaying.from} under env seed ${replaying.envSeed}: validation ${now.valAcc.toFixed(4)}, test ${now.testAcc.toFixed(4)} — ${same ? 'reproduced exactly' : `recorded ${then.valAcc.toFixed(4)} / ${then.testAcc.toFixed(4)}: differs (${why})`}`,
    );
  }
  printSummary(result.summary, result.layerNames, run);
  const files = Object.values(RUN_FILES).map((f) => path.join(run.out, f));
  console.log(`\nsaved: ${files.join(', ')}`);
  if (result.interrupted) console.log(`stopped before the last episode; continue with: ${resumeHint}`);
  if (final && !result.interrupted) {
    const model = await trainFinalModel(run, result.records);
    console.log(
      `final model: episode ${model.episode} trained again (validation ${model.valAcc.toFixed(4)}, test ${model.testAcc.toFixed(4)}${model.reproduced ? ', as logged' : ', not as logged: another backend?'}), saved with stock Dropout layers: ${model.file}`,
    );
    model.model.dispose();
  }
  return result.interrupted ? stopCode : 0;
}

runCli('agent', main);
