/**
 * `npm run agent`: trains an agent over many episodes of DropoutEnv and writes a run folder.
 * Everything the user asked for is checked before anything is trained or written, so a mistake
 * costs one line on stderr, exit code 2, and leaves nothing in runs/.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Subject } from 'rxjs';
import { AGENTS, agentNames } from '../../agents/index.js';
import { ConfigError } from '../core/errors.js';
import { bestEpisode, type EpisodeRecord, type RunSummary } from '../core/run-log.js';
import { flagOf } from '../core/options.js';
import { episodeSeed } from '../loop/loop.js';
import { initBackend } from '../nn/backend.js';
import { readEpisodes } from '../store/read-run.js';
import { tidyFinishedRun } from '../store/run-folder.js';
import { RUN_FILES } from '../store/run-writer.js';
import { helpText, parseArgs, parseReplaySpec } from './args.js';
import { progressPrinter, queueProgressLine } from './progress.js';
import {
  DATA_OPTIONS,
  ENV_OPTIONS,
  RUN_OPTIONS,
  agentOptionSpecs,
  allRunSpecs,
  executeRun,
  findConstantBaseline,
  resolveRun,
  runOptionsFromConfig,
  type ResolvedRun,
} from '../run/run.js';
import type { PbtConfig } from '../../agents/pbt.js';
import { createExecutor, messageOf, type Executor } from '../execution/executor.js';
import { checkQueueName, parseQueueUrl, queueNameFor, type QueueUrl } from '../execution/queue/protocol.js';
import { QueueExecutor, RedisUnreachable } from '../execution/queue/queue-executor.js';
import type { OptionSpec } from '../core/options.js';
import { LINEAGE_FILE, POPULATION_DIR, runPbt } from '../schedulers/pbt/run-pbt.js';
import { StopFlag } from '../core/stop-flag.js';
import { runCli } from './run-cli.js';
import { startDashboard, type Dashboard } from '../serve/server.js';
import { commandName, howToRun } from './command-name.js';

/** Where a population trains instead of --workers threads: `npm run worker` processes on a Redis queue. */
const QUEUE_OPTIONS: OptionSpec[] = [
  {
    key: 'queue',
    flag: '--queue',
    type: 'string',
    default: undefined,
    help: `--agent pbt: train the members' segments on \`${commandName('worker')}\` processes through this Redis: redis://[[user]:password@]host[:port][/db], rediss:// for TLS`,
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

function scheduleTable(schedule: number[][], layerNames: readonly string[]): string {
  const header = ['epoch'.padEnd(10), ...schedule.map((_, e) => String(e + 1).padStart(5))].join('');
  const rows = layerNames.map((name, l) =>
    [name.padEnd(10), ...schedule.map((rates) => rates[l]!.toFixed(2).padStart(5))].join(''),
  );
  return [header, ...rows].map((line) => `  ${line}`).join('\n');
}

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

/** The run folder and episode of a `--replay RUN[#EPISODE]`, and how to train that episode again. */
function replayPlan(
  spec: string,
  given: Record<string, unknown>,
): { options: Record<string, unknown>; envSeed: number; recorded: EpisodeRecord; from: string } {
  const { dir, episode } = parseReplaySpec(spec, (d) => existsSync(d) && statSync(d).isDirectory());
  const config = readJson<{ options: Record<string, unknown>; seed: number }>(
    path.join(dir, RUN_FILES.config),
    `--replay ${dir}: not a run folder`,
  );
  const episodesFile = path.join(dir, RUN_FILES.episodes);
  const episodes = existsSync(episodesFile) ? readEpisodes(episodesFile).value : [];
  const wanted = episode ?? bestEpisode(episodes)?.episode;
  const recorded = episodes.find((e) => e.episode === wanted);
  if (wanted === undefined || recorded === undefined) {
    throw new ConfigError(
      `--replay ${spec}: ${wanted === undefined ? 'the run has no finished episode' : `no finished episode ${wanted} (it has ${episodes.map((e) => e.episode).join(', ') || 'none'})`}`,
    );
  }
  if (config.options['fold'] !== undefined)
    throw new ConfigError(
      `--replay ${spec}: a cross-validation fold trains on a fold of the data; replay the experiment's own runs instead`,
    );
  const {
    agent: _agent,
    episodes: _n,
    action: _action,
    loadAgent: _load,
    label: _label,
    out: _out,
    ...task
  } = runOptionsFromConfig(config.options);
  // Only the task is kept; the agent's own options do not apply to the schedule agent that replays.
  const agentKeys = new Set(agentOptionSpecs().map((o) => o.key));
  const options = Object.fromEntries(Object.entries(task).filter(([key]) => !agentKeys.has(key)));
  // A concrete-dropout run learned its rates by gradient, which a schedule cannot replay: its own agent under its seed does.
  const replayer =
    task['concreteDropout'] === true
      ? { agent: 'constant', rate: config.options['rate'] }
      : { agent: 'schedule', schedule: `${path.join(dir, RUN_FILES.episodes)}#${recorded.episode}` };
  return {
    options: {
      ...options,
      ...given,
      ...replayer,
      episodes: 1,
      label: given['label'] ?? `replay ${path.basename(dir)}#${recorded.episode}`,
    },
    envSeed: recorded.seed ?? episodeSeed(config.seed, recorded.episode),
    recorded,
    from: `${dir}#${recorded.episode}`,
  };
}

/** A PBT member's copies, as `member 3 after epoch 4, …`; empty for an episode that trained on its own. */
const inherited = (e: EpisodeRecord): string =>
  (e.lineage ?? []).map((l) => `member ${l.from} after epoch ${l.epoch}`).join(', ');

function readJson<T>(file: string, what: string): T {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    // A run's config.json holds its options: without them the folder is not one droptune wrote.
    const options = (value as { options?: unknown } | null)?.options;
    if (path.basename(file) === RUN_FILES.config && (typeof options !== 'object' || options === null))
      throw new ConfigError(`${what} (${file} has no 'options' object)`);
    return value as T;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(
      `${what} (${(err as NodeJS.ErrnoException).code === 'ENOENT' ? `no ${path.basename(file)}` : `${path.basename(file)} is not valid JSON`})`,
    );
  }
}

/**
 * SIGINT (Ctrl-C) and SIGTERM: `onStop` ends the run after the epoch in progress, which flushes and says
 * how to resume; `exitCode()` is then 130 / 143. A second signal quits at once: the log and the last
 * checkpoint are on disk, only the epoch in progress is lost.
 */
function stopOnSignals(
  resumeHint: string,
  say: { finishing: string; lost: string },
  onStop: () => void,
): { exitCode: () => number; release: () => void } {
  let stopping: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`\nquit: ${say.lost}; continue with: ${resumeHint}\n`);
      process.exit(signal === 'SIGTERM' ? 143 : 130);
    }
    stopping = signal;
    process.stderr.write(
      `\n${signal === 'SIGINT' ? 'interrupted' : 'terminated'}: ${say.finishing} (${signal === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again to quit at once)\n`,
    );
    onStop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    exitCode: () => (stopping === 'SIGTERM' ? 143 : 130),
    release: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Per layer, joined: `0.30/0.50`. */
const showRates = (rates: readonly number[]) => rates.map((r) => r.toFixed(2)).join('/');

/**
 * --agent pbt: the population trains on `--workers` threads (this one when 1). Ctrl-C and SIGTERM
 * stop every member after its epoch in progress; --resume continues from there.
 */
async function trainPopulation(
  run: ResolvedRun,
  backend: string,
  resume: boolean,
  queue?: { url: QueueUrl; name: string | undefined },
): Promise<number> {
  const config = run.agentOptions as unknown as PbtConfig;
  const workers = Math.min(config.workers, config.population);
  const stop = new StopFlag();
  // Resumed on the same queue: the segments still running on workers come back through it.
  const resumeHint = `${howToRun('agent')} --resume ${run.out}${queue ? ` --queue ${queue.url.shown}` : ''}`;
  let executor: Executor;
  let lost: string | undefined;
  if (queue) {
    const name = queue.name ?? queueNameFor(run.out);
    let lastLine = '';
    try {
      executor = await QueueExecutor.open({
        url: queue.url,
        queueName: name,
        onProgress: (p) => {
          const line = queueProgressLine(p);
          if (line !== lastLine) console.log((lastLine = line));
        },
        onLost: (message) => {
          lost = message;
          process.stderr.write(
            `agent: ${message}; every finished generation is kept: once Redis is back, ${resumeHint}\n`,
          );
          stop.request();
        },
      });
    } catch (err) {
      if (!(err instanceof RedisUnreachable)) throw err;
      process.stderr.write(`agent: ${err.message}\n`);
      return 1;
    }
    console.log(
      `backend: ${backend} on the workers of queue ${name} at ${queue.url.shown} (start them with: ${howToRun('worker')} --queue ${queue.url.shown} --queue-name ${name})`,
    );
  } else {
    executor = createExecutor(workers);
    console.log(`backend: ${backend}${workers > 1 ? ` in ${workers} worker threads` : ''}`);
  }
  console.log(
    `run: ${run.out}  (pbt, ${config.population} members × ${run.envConfig.maxEpochs} epochs, exploit/explore every ${config.interval}, ${run.data.dataset} ${run.envConfig.model}, seed ${run.seed})${resume ? ', resuming' : ''}`,
  );
  console.log(`members start at rates ${config.populationRates.join(', ')}`);
  const signals = stopOnSignals(
    resumeHint,
    { finishing: 'every member finishes its epoch in progress', lost: 'the epochs in progress are lost' },
    () => stop.request(),
  );
  let result;
  let segmentFailure: unknown;
  try {
    result = await runPbt(run, {
      runSegment: (segment) =>
        executor.runSegment(segment, { stop }).catch((err: unknown) => {
          segmentFailure = err;
          throw err;
        }),
      backendInUse: backend,
      resume,
      stopRequested: () => stop.requested,
      onGeneration: (e) => {
        const ranked = e.members.map((m, i) => ({ ...m, i })).sort((a, b) => b.valAcc - a.valAcc);
        const best = ranked[0]!;
        // Members are numbered from 1 in print and in the logs; e.members and exploits index them from 0.
        const copies = e.exploits.map((x) => `${x.member + 1}←${x.from + 1} (${showRates(x.rates)})`).join(', ');
        console.log(
          `epoch ${String(e.epoch).padStart(3)}/${run.envConfig.maxEpochs}  best member ${best.i + 1} valAcc ${best.valAcc.toFixed(4)} at ${showRates(best.rates)}, median ${ranked[Math.floor(ranked.length / 2)]!.valAcc.toFixed(4)}${copies ? `  exploit: ${copies}` : ''}`,
        );
      },
    });
  } catch (err) {
    // A segment that failed on a queue worker: its one-line error. A mistake or a bug in this process
    // (a bad dataset, a changed folder) is not the worker's: it goes on as it would without --queue.
    if (!queue || err !== segmentFailure || err instanceof ConfigError) throw err;
    process.stderr.write(
      `agent: a member's segment failed on a worker: ${messageOf(err)}; continue with: ${resumeHint}\n`,
    );
    return 1;
  } finally {
    signals.release();
    await executor.close();
  }
  if (lost !== undefined) return 1;
  if (!result.summary) {
    console.log(
      `\nstopped: every member's last epoch is checkpointed in ${path.join(run.out, POPULATION_DIR)}; continue with: ${resumeHint}`,
    );
    return signals.exitCode();
  }
  const { best } = result.summary;
  const member = result.records.find((r) => r.episode === best.episode)!;
  const lineage = member.lineage ?? [];
  console.log(`\nFinished ${result.records.length} members (${result.summary.totalEpochs} epochs).`);
  console.log(
    `Best member ${best.episode}: validation accuracy ${best.valAcc.toFixed(4)}, test accuracy ${best.testAcc.toFixed(4)}${lineage.length > 0 ? `; its weights came from ${lineage.map((l) => `member ${l.from} after epoch ${l.epoch}`).join(', then ')}` : ''}`,
  );
  console.log(scheduleTable(best.schedule, result.layerNames));
  const sorted = result.records.map((r) => r.valAcc).sort((a, b) => a - b);
  console.log(
    `Members' final validation accuracy: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(4)}, worst ${sorted[0]!.toFixed(4)}`,
  );
  const baseline = findConstantBaseline(run);
  if (baseline) {
    const b = baseline.summary.best;
    console.log(
      `Constant-rate baseline ${baseline.dir} (rate ${String(baseline.rate)}): validation ${b.valAcc.toFixed(4)}, test ${b.testAcc.toFixed(4)}`,
    );
  }
  console.log(
    `Train the best member's schedule from scratch as a fixed schedule: ${howToRun('agent')} --replay ${run.out}#${best.episode}`,
  );
  console.log(`\nsaved: ${[...Object.values(RUN_FILES), LINEAGE_FILE].map((f) => path.join(run.out, f)).join(', ')}`);
  return 0;
}

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
  const parsed = parseArgs(argv, [...allRunSpecs(), ...DASHBOARD_OPTIONS, ...QUEUE_OPTIONS]);
  const { dashboard: wantsDashboard, dashboardPort, ...runValues } = parsed.values;
  if (dashboardPort !== undefined && wantsDashboard !== true)
    throw new ConfigError('--dashboard-port needs --dashboard');
  const args = { ...parsed, values: runValues };
  if (args.help) {
    console.log(
      helpText(USAGE, [
        { title: 'Run', specs: RUN_OPTIONS },
        { title: 'Data', specs: DATA_OPTIONS },
        { title: 'Model and environment', specs: ENV_OPTIONS },
        { title: `Agents' own options (${agentNames().join(', ')})`, specs: agentOptionSpecs() },
        { title: 'Watching', specs: DASHBOARD_OPTIONS },
        { title: 'Population on a Redis queue', specs: QUEUE_OPTIONS },
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
    ...given
  } = args.values as Record<string, unknown> & { resume?: string; replay?: string };
  const queueUrl = queueGiven === undefined ? undefined : parseQueueUrl(queueGiven);
  if (queueNameGiven !== undefined && queueUrl === undefined) throw new ConfigError('--queue-name needs --queue');
  const queue =
    queueUrl === undefined
      ? undefined
      : { url: queueUrl, name: queueNameGiven === undefined ? undefined : checkQueueName(queueNameGiven) };
  if (resumeDir !== undefined && replay !== undefined)
    throw new ConfigError('--resume and --replay do not go together: resume continues a run, replay starts a new one');

  let run: ResolvedRun;
  let replaying: ReturnType<typeof replayPlan> | undefined;
  if (resumeDir !== undefined) {
    const config = readJson<{ options: Record<string, unknown> }>(
      path.join(resumeDir, RUN_FILES.config),
      `--resume ${resumeDir}: not a run folder`,
    );
    // A population may continue on another number of threads: its results do not depend on it.
    const allowed = AGENTS[String(config.options['agent'])]?.population ? ['backend', 'workers'] : ['backend'];
    const others = Object.keys(given).filter((k) => !allowed.includes(k));
    if (others.length > 0)
      throw new ConfigError(
        `--resume takes no other options but ${allowed.map(flagOf).join(' and ')} (got ${others.map(flagOf).join(', ')}): the run's own are in its ${RUN_FILES.config}`,
      );
    if (config.options['fold'] !== undefined)
      throw new ConfigError(
        `--resume ${resumeDir}: this run is a fold of an experiment; resume the experiment (${howToRun('experiment')} --resume <folder>)`,
      );
    const recorded = runOptionsFromConfig(config.options);
    // The checkpoint holds the agent's state: the --load-agent file it started from is not needed again.
    if (existsSync(path.join(resumeDir, 'checkpoint.json'))) delete recorded['loadAgent'];
    run = resolveRun({ ...recorded, ...given, out: resumeDir }, { resume: true });
    // A resumed replay keeps training its episode under the seed it replays.
    const replayed = config.options['replay'] as { from: string; envSeed: number } | undefined;
    if (replayed) run.options['replay'] = replayed;
    const summaryFile = path.join(resumeDir, RUN_FILES.summary);
    if (existsSync(summaryFile) && readJson<RunSummary>(summaryFile, 'summary').interrupted === false) {
      tidyFinishedRun(resumeDir);
      console.log(`${resumeDir} has finished: nothing to resume (its summary is ${summaryFile})`);
      return 0;
    }
  } else if (replay !== undefined) {
    replaying = replayPlan(replay, given);
    run = resolveRun(replaying.options);
    run.options['replay'] = { from: replaying.from, envSeed: replaying.envSeed };
  } else {
    run = resolveRun(given);
  }

  if (queue && !AGENTS[run.agent]!.population)
    throw new ConfigError(
      `--queue applies to --agent pbt (a population), not to --agent ${run.agent}; experiments take it too (${howToRun('experiment')} --queue …)`,
    );
  if (queue && 'workers' in given)
    throw new ConfigError(
      `--workers does not apply with --queue: the members train on \`${commandName('worker')}\` processes`,
    );
  const dashboard = wantsDashboard === true ? await serveRun(run.out, dashboardPort ?? 0) : undefined;
  const backend = await initBackend(run.backend);
  if (AGENTS[run.agent]!.population)
    return keepServing(dashboard, await trainPopulation(run, backend, resumeDir !== undefined, queue));
  return keepServing(dashboard, await trainRun(run, backend, resumeDir, replaying));
}

async function trainRun(
  run: ResolvedRun,
  backend: string,
  resumeDir: string | undefined,
  replaying: ReturnType<typeof replayPlan> | undefined,
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
    resumeHint,
    { finishing: 'finishing the current epoch', lost: 'the epoch in progress is lost' },
    () => stop$.next(),
  );
  const progress = progressPrinter(run.episodes, run.envConfig.maxEpochs);
  const replaySeed = replaying?.envSeed ?? (run.options['replay'] as { envSeed?: number } | undefined)?.envSeed;
  const envSeed =
    replaySeed !== undefined ? (k: number) => (k === 1 ? replaySeed : episodeSeed(run.seed, k)) : undefined;
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
  return result.interrupted ? stopCode : 0;
}

runCli('agent', main);
