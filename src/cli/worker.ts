/**
 * `npm run worker -- --queue redis://host:6379`: trains the runs coordinators put on the queue
 * (`npm run experiment -- --queue …`), on this machine, and sends their run folders back. Start as many
 * as you like, anywhere the package is installed. The logic is in src/execution/queue/queue-worker.ts.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { checkInt, checkNumber } from '../core/check.js';
import { ConfigError } from '../core/errors.js';
import type { OptionSpec } from '../core/options.js';
import { RedisUnreachable, checkQueueName, parseQueueUrl } from '../execution/queue/protocol.js';
import { QueueWorker, WORKER_DEFAULTS } from '../execution/queue/queue-worker.js';
import { helpText, parseArgs } from './args.js';
import { runCli } from './run-cli.js';
import { howToRun } from './command-name.js';

const OPTIONS: OptionSpec[] = [
  {
    key: 'queue',
    flag: '--queue',
    type: 'string',
    default: undefined,
    help: 'the Redis to pull from: redis://[[user]:password@]host[:port][/db], rediss:// for TLS (required)',
  },
  {
    key: 'queueName',
    flag: '--queue-name',
    type: 'string',
    default: undefined,
    help: "serve this queue only (the coordinator prints its name); default: every coordinator's queue",
  },
  {
    key: 'concurrency',
    flag: '--concurrency',
    type: 'int',
    default: WORKER_DEFAULTS.concurrency,
    help: 'runs at once, one thread each',
  },
  {
    key: 'dataRoot',
    flag: '--data-root',
    type: 'string',
    default: undefined,
    help: 'the only folder a job may read data, models and schedules from (default: the working directory)',
  },
  {
    key: 'lockDuration',
    flag: '--lock-duration',
    type: 'number',
    default: WORKER_DEFAULTS.lockDurationMs / 1000,
    help: "seconds a job's lock lasts unrenewed: how soon a dead worker's job goes to another",
  },
  {
    key: 'stalledInterval',
    flag: '--stalled-interval',
    type: 'number',
    default: WORKER_DEFAULTS.stalledIntervalMs / 1000,
    help: "seconds between this worker's checks for stalled jobs",
  },
];

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, OPTIONS);
  if (args.help) {
    console.log(
      helpText(
        `usage: ${howToRun('worker')} --queue redis://host:6379 [options]\n\nTrains the runs and PBT segments that \`${howToRun('experiment')} --queue …\` and \`${howToRun('agent')} --agent pbt --queue …\` put on a Redis queue, and sends their files back.`,
        [{ title: 'Options', specs: OPTIONS }],
      ),
    );
    return 0;
  }
  if (args.positional.length > 0) throw new ConfigError(`unexpected argument '${args.positional[0]}' (see --help)`);
  const v = args.values;
  if (v['queue'] === undefined)
    throw new ConfigError(
      '--queue is required: the Redis URL the coordinator was given, e.g. --queue redis://host:6379',
    );
  const url = parseQueueUrl(v['queue']);
  const queueName = v['queueName'] === undefined ? undefined : checkQueueName(v['queueName']);
  const concurrency = checkInt('--concurrency', v['concurrency'] ?? WORKER_DEFAULTS.concurrency, 1, 256);
  const lockDurationMs = Math.round(
    checkNumber('--lock-duration', v['lockDuration'] ?? WORKER_DEFAULTS.lockDurationMs / 1000, 0.5, 86_400) * 1000,
  );
  const stalledIntervalMs = Math.round(
    checkNumber('--stalled-interval', v['stalledInterval'] ?? WORKER_DEFAULTS.stalledIntervalMs / 1000, 0.5, 86_400) *
      1000,
  );

  const dataRoot = path.resolve(v['dataRoot'] === undefined ? process.cwd() : String(v['dataRoot']));
  if (!existsSync(dataRoot) || !statSync(dataRoot).isDirectory())
    throw new ConfigError(`--data-root ${String(v['dataRoot'])}: not a folder`);
  const log = (line: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);
  const worker = new QueueWorker({ url, queueName, concurrency, lockDurationMs, stalledIntervalMs, log, dataRoot });
  try {
    await worker.start();
  } catch (err) {
    if (!(err instanceof RedisUnreachable)) throw err;
    process.stderr.write(`worker: ${err.message}\n`);
    return 1;
  }
  if (queueName === undefined) log(`waiting for coordinators' queues on ${url.shown}`);
  // Ctrl-C or SIGTERM: take no new job, finish the running ones. A second one quits now (its jobs stall and go elsewhere).
  return new Promise<number>((resolve) => {
    let closing = false;
    const onSignal = () => {
      if (closing) resolve(130);
      closing = true;
      log(
        'stopping: the running jobs finish, no other starts (Ctrl-C again to quit at once; its jobs then go to another worker)',
      );
      void worker.close().then(() => resolve(0));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

runCli('worker', main);
