/**
 * The queue worker (`npm run worker -- --queue redis://…`): pulls runs from BullMQ queues, trains each
 * in a scratch folder of this machine and returns the run folder's files (queue.ts); the coordinator
 * writes them.
 *
 * Training runs in worker threads (a PoolExecutor of --concurrency threads), never on this thread: the
 * main thread's event loop stays free to renew each job's lock every lockDuration / 2, however long an
 * epoch takes. A lock is lost only when this process dies or loses Redis, and then BullMQ's stalled-job
 * check (run by every worker, every stalledInterval) hands the job to another worker.
 */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UnrecoverableError, Worker, type JobJson, type Job as QueuedJob } from 'bullmq';
import { resolvePolicyPath } from '../../../agents/node-loaders.js';
import { SCHEDULE_NAMES } from '../../../agents/schedule.js';
import { packageRoot } from '../../core/package-root.js';
import type { Redis } from 'ioredis';
import { PoolExecutor, messageOf, type Executor } from '../executor.js';
import { resolveJob } from '../job.js';
import { POPULATION_DIR } from '../../store/layout.js';
import { checkDataConfig } from '../../data/dataset.js';
import { checkEnvConfig } from '../../../envs/dropout-env.js';
import {
  MalformedJob,
  PAYLOAD_VERSION,
  REGISTRY_KEY,
  checkPayload,
  checkReachable,
  connect,
  readMemberFiles,
  readRunFiles,
  writeMemberFiles,
  type QueuePayload,
  type QueueUrl,
  type RunReturn,
  type SegmentReturn,
} from './protocol.js';

export interface QueueWorkerOptions {
  url: QueueUrl;
  /** Serve this queue only. @default every queue a coordinator registered, looked up every 2 s */
  queueName?: string;
  /** Runs at once, one thread each. @default 1 */
  concurrency?: number;
  /** How long a job's lock lasts without renewal: how soon a dead worker's job can go elsewhere. @default 30000 */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs (a dead worker's). @default 30000 */
  stalledIntervalMs?: number;
  /** Stalls a job may have (its worker died) before it fails. @default 2 */
  maxStalledCount?: number;
  /** Where runs train. @default the system's temporary folder */
  scratch?: string;
  /** One line per job started, done, failed or rejected. */
  log?: (line: string) => void;
  /** Where runs train. @default new PoolExecutor({ workers: concurrency }) */
  executor?: Executor;
  /** The only folder (with droptune's bundled policies) a job may read files from. @default the working directory */
  dataRoot?: string;
}

/** A job's data BullMQ could not parse: the processor sees this instead, and fails the job with a reason. */
const NOT_JSON = { $droptuneNotJson: true };

/**
 * BullMQ's Worker, except that a job whose data is not JSON reaches the processor (which fails it with
 * its reason) instead of throwing inside BullMQ, which left it active and stalling forever.
 */
class TolerantWorker extends Worker {
  protected override createJob(data: JobJson, jobId: string) {
    try {
      JSON.parse(data.data || '{}');
    } catch {
      return super.createJob({ ...data, data: JSON.stringify(NOT_JSON) }, jobId);
    }
    return super.createJob(data, jobId);
  }
}

/** Every file a job's options would make this worker open: data, model, schedule, policy, agent state. */
function filesOf(options: Record<string, unknown>): { option: string; file: string }[] {
  const files: { option: string; file: string }[] = [];
  const add = (option: string, value: unknown) => {
    if (typeof value === 'string' && value !== '') files.push({ option, file: value });
  };
  const dataset = options['dataset'];
  if (typeof dataset === 'string' && /^(csv|idx):/.test(dataset)) add('--dataset', dataset.slice(4));
  add('--data-dir', options['dataDir']);
  const model = options['model'];
  if (typeof model === 'string' && model.startsWith('file:')) add('--model', model.slice(5));
  add('--load-agent', options['loadAgent']);
  const schedule = options['schedule'];
  if (typeof schedule === 'string' && !(SCHEDULE_NAMES as readonly string[]).includes(schedule))
    add('--schedule', schedule.replace(/#\d+$/, ''));
  const policy = options['policy'];
  if (typeof policy === 'string') add('--policy', resolvePolicyPath(policy));
  return files;
}

/** The real path of `file`, or of its nearest existing parent (a missing file is the job's own error). */
function realOf(file: string): string {
  let at = path.resolve(file);
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(realpathSync(at), ...rest);
    } catch {
      const parent = path.dirname(at);
      if (parent === at) return path.resolve(file);
      rest.unshift(path.basename(at));
      at = parent;
    }
  }
}

/**
 * A job's options less a carried learner's start: `--carry` hands seed k the agent.json that seed k − 1's
 * run of the same experiment wrote (runs/s<k−1>/<name>/agent.json, beside the job's own run folder), which
 * the coordinator's folder holds wherever --data-root is. Any other file stays confined.
 */
function carriedAgentAllowed(job: { options: Record<string, unknown>; out: string }): Record<string, unknown> {
  const loadAgent = job.options['loadAgent'];
  if (typeof loadAgent !== 'string' || path.basename(loadAgent) !== 'agent.json') return job.options;
  const runsDir = path.dirname(path.dirname(path.resolve(job.out)));
  const carriedRunsDir = path.dirname(path.dirname(path.dirname(path.resolve(loadAgent))));
  if (carriedRunsDir !== runsDir) return job.options;
  const { loadAgent: _carried, ...rest } = job.options;
  return rest;
}

/** Throws a MalformedJob unless every file the job would open lies under one of `roots` (symlinks followed). */
export function checkConfined(options: Record<string, unknown>, roots: readonly string[]): void {
  const real = roots.map((r) => realOf(r));
  for (const { option, file } of filesOf(options)) {
    const target = realOf(file);
    if (!real.some((root) => target === root || target.startsWith(root + path.sep)))
      throw new MalformedJob(
        `${option} ${file} lies outside this worker's data root ${roots[0]} (start the worker with --data-root to widen it)`,
      );
  }
}

export const WORKER_DEFAULTS = {
  concurrency: 1,
  lockDurationMs: 30_000,
  stalledIntervalMs: 30_000,
  maxStalledCount: 2,
} as const;

const isNotJson = (data: unknown): boolean =>
  typeof data === 'object' && data !== null && (data as Record<string, unknown>)['$droptuneNotJson'] === true;

export class QueueWorker {
  private readonly opts: QueueWorkerOptions & Required<Pick<QueueWorkerOptions, keyof typeof WORKER_DEFAULTS>>;
  private readonly executor: Executor;
  private readonly workers = new Map<string, Worker>();
  /** The workers' connections: BullMQ leaves a connection it was given open. */
  private readonly connections: Redis[] = [];
  private registry?: Redis;
  private poll?: NodeJS.Timeout;
  private closing = false;

  constructor(opts: QueueWorkerOptions) {
    this.opts = { ...WORKER_DEFAULTS, ...opts };
    this.executor = opts.executor ?? new PoolExecutor({ workers: this.opts.concurrency });
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  /** Starts serving; with no queue name, also every queue registered later. */
  async start(): Promise<void> {
    const probe = connect(this.opts.url);
    try {
      await checkReachable(probe, this.opts.url);
    } finally {
      probe.disconnect();
    }
    if (this.opts.queueName !== undefined) {
      this.serve(this.opts.queueName);
      return;
    }
    this.registry = connect(this.opts.url);
    this.registry.on('error', () => undefined); // reconnects on its own; the lookups just wait
    const lookup = async () => {
      const names = await this.registry!.smembers(REGISTRY_KEY);
      for (const name of names.sort()) if (!this.closing && !this.workers.has(name)) this.serve(name);
    };
    await lookup();
    this.poll = setInterval(() => void lookup().catch(() => undefined), 2000);
  }

  /** The queues served so far. */
  get queues(): string[] {
    return [...this.workers.keys()];
  }

  private serve(name: string): void {
    const connection = connect(this.opts.url);
    this.connections.push(connection);
    const worker = new TolerantWorker(name, (job) => this.process(name, job), {
      connection,
      concurrency: this.opts.concurrency,
      lockDuration: this.opts.lockDurationMs,
      stalledInterval: this.opts.stalledIntervalMs,
      maxStalledCount: this.opts.maxStalledCount,
    });
    // A lost connection is retried by ioredis; say so once per outage, not once per retry.
    let down = false;
    worker.on('error', (err) => {
      if (!down) this.log(`queue ${name}: ${messageOf(err)} (retrying)`);
      down = true;
    });
    worker.on('ready', () => {
      down = false;
    });
    this.workers.set(name, worker);
    this.log(
      `serving queue ${name} on ${this.opts.url.shown} with ${this.opts.concurrency} thread${this.opts.concurrency === 1 ? '' : 's'}`,
    );
  }

  private async process(queue: string, queued: QueuedJob): Promise<RunReturn | SegmentReturn> {
    const scratch = mkdtempSync(path.join(this.opts.scratch ?? tmpdir(), 'droptune-job-'));
    const dir = path.join(scratch, 'run');
    const tag = `job ${queued.id}`;
    try {
      let payload: QueuePayload;
      try {
        if (isNotJson(queued.data)) throw new MalformedJob('its data is not JSON');
        payload = checkPayload(queued.data);
        // Files only under the data root, then every option, before any training.
        const roots = [path.resolve(this.opts.dataRoot ?? process.cwd()), path.join(packageRoot(), 'policies')];
        if (payload.kind === 'run') {
          checkConfined(carriedAgentAllowed(payload.job), roots);
          resolveJob({ ...payload.job, writeTo: dir });
        } else {
          checkConfined({ ...payload.segment.data, ...payload.segment.env }, roots);
          checkDataConfig(payload.segment.data);
          checkEnvConfig(payload.segment.env);
        }
      } catch (err) {
        const reason =
          err instanceof Error && err.name === 'MalformedJob' ? err.message : `malformed job: ${messageOf(err)}`;
        this.log(`${tag} on ${queue}: rejected, ${reason}`);
        throw new UnrecoverableError(reason);
      }
      if (payload.kind === 'segment') return await this.trainSegment(tag, payload, scratch);
      const job = { ...payload.job, writeTo: dir };
      const started = performance.now();
      this.log(`${tag} ${job.out}: training`);
      try {
        const result = await this.executor.run(job);
        if (result.interrupted) throw new Error('the run stopped before its end');
        const files = readRunFiles(dir);
        this.log(`${tag} ${job.out}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
        return { version: PAYLOAD_VERSION, files };
      } catch (err) {
        this.log(`${tag} ${job.out}: failed, ${messageOf(err)}`);
        throw new Error(messageOf(err));
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  /** A member's segment, from the checkpoint that came with it; its new checkpoint goes back. */
  private async trainSegment(
    tag: string,
    payload: Extract<QueuePayload, { kind: 'segment' }>,
    scratch: string,
  ): Promise<SegmentReturn> {
    const { segment } = payload;
    // numbered from 1 in print, as the coordinator and the logs number them
    const where = `${segment.dir} member ${segment.member + 1} generation ${segment.generation + 1}`;
    const dir = path.join(scratch, POPULATION_DIR);
    writeMemberFiles(dir, segment.member, payload.checkpoint);
    const started = performance.now();
    this.log(`${tag} ${where}: training`);
    try {
      const result = await this.executor.runSegment({ ...segment, dir });
      if (result.interrupted) throw new Error('the segment stopped before its end');
      this.log(`${tag} ${where}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      return { version: PAYLOAD_VERSION, result, checkpoint: readMemberFiles(dir, segment.member) };
    } catch (err) {
      this.log(`${tag} ${where}: failed, ${messageOf(err)}`);
      throw new Error(messageOf(err));
    }
  }

  /** Takes no new job; waits for the running ones unless `force` (they then stall and go to another worker). */
  async close(force = false): Promise<void> {
    this.closing = true;
    if (this.poll) clearInterval(this.poll);
    await Promise.all([...this.workers.values()].map((w) => w.close(force)));
    this.registry?.disconnect();
    for (const connection of this.connections) connection.disconnect();
    await this.executor.close();
  }
}
