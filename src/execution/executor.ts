/**
 * Where jobs run (Ray Tune's split: the plan says what to run, an executor where).
 *   InProcessExecutor  one job at a time in this thread: what `--workers 1` does
 *   PoolExecutor       a piscina pool of worker threads, one job per thread, each thread with its own
 *                      tfjs backend (wasm is single-threaded in Node, so N threads keep N cores busy)
 *   ProcessExecutor    N worker processes (process-executor.ts), one job per process
 * All call `runJob`, so a job writes the same run folder whichever executor ran it.
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { checkInt } from '../core/check.js';
import { runJob, type Job, type JobResult } from './job.js';
import { runSegment, type SegmentJob, type SegmentResult } from '../run/segment.js';
import type { StopFlag } from '../core/stop-flag.js';
import type { OptionSpec } from '../core/options.js';

export interface RunJobOptions {
  /** Ends the job after the epoch in progress once requested. */
  stop?: StopFlag;
}

export interface Executor {
  /** How many jobs it runs at once; a scheduler gives it no more than that. */
  readonly concurrency: number;
  /** Runs the job to its end; rejects with the job's (or its worker's) error. */
  run(job: Job, opts?: RunJobOptions): Promise<JobResult>;
  /** Trains one population member's segment (PBT) to its end, or to the epoch a stop comes after. */
  runSegment(job: SegmentJob, opts?: RunJobOptions): Promise<SegmentResult>;
  /** Frees what it holds (threads); call it once every run has settled. */
  close(): Promise<void>;
}

/** The default of --workers: one worker per core. */
export const DEFAULT_WORKERS = availableParallelism();

export function checkWorkers(value: unknown): number {
  return checkInt('--workers', value, 1, 256);
}

/** What runs --workers N > 1: worker threads of this process, or worker processes. */
export const EXECUTORS = ['thread', 'process'] as const;
export type ExecutorKind = (typeof EXECUTORS)[number];
/** The default of --executor: see the README's Speed section for the figures behind it. */
export const DEFAULT_EXECUTOR: ExecutorKind = 'thread';

/** --executor, declared once for the commands that take --workers (experiment, agent --agent pbt). */
export const EXECUTOR_OPTION: OptionSpec = {
  key: 'executor',
  flag: '--executor',
  type: 'string',
  default: DEFAULT_EXECUTOR,
  help: 'with --workers > 1: worker threads of this process, or worker processes (results are the same)',
  choices: EXECUTORS,
};

export class InProcessExecutor implements Executor {
  readonly concurrency = 1;
  /** tfjs has one engine per thread: jobs given at once still run one after another. */
  private queue: Promise<unknown> = Promise.resolve();

  run(job: Job, opts: RunJobOptions = {}): Promise<JobResult> {
    return this.next(() => runJob(job, opts));
  }

  runSegment(job: SegmentJob, opts: RunJobOptions = {}): Promise<SegmentResult> {
    return this.next(() => runSegment(job, opts));
  }

  private next<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work);
    this.queue = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {}
}

/** What the main thread posts to a worker: one job or one segment (see worker.ts). */
export type WorkerTask = ({ job: Job; segment?: undefined } | { segment: SegmentJob; job?: undefined }) & {
  /** The StopFlag's buffer, shared with the worker. */
  stopBuffer?: SharedArrayBuffer;
};

// worker.ts under tsx in development, worker.js in the compiled package: the same extension as this file.
export const WORKER_FILE = fileURLToPath(
  new URL(`./pool-thread${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

/**
 * Worker threads start with the parent's execArgv, which holds tsx's loader under `tsx` and
 * `node --import tsx` (mocha's node-option). A parent that registered tsx some other way does not
 * pass it on, so a .ts worker then gets it explicitly.
 */
export function workerExecArgv(filename: string, parentArgv: readonly string[] = process.execArgv): string[] {
  const hasTsx = parentArgv.some((arg) => /\btsx\b/.test(arg));
  return filename.endsWith('.ts') && !hasTsx ? [...parentArgv, '--import', 'tsx'] : [...parentArgv];
}

export interface PoolOptions {
  /** Threads in the pool, started at once and kept until close(). */
  workers: number;
  /** The worker entry file. @default WORKER_FILE */
  filename?: string;
}

export class PoolExecutor implements Executor {
  readonly concurrency: number;
  private readonly pool: Piscina<WorkerTask, JobResult | SegmentResult>;
  /** Rejects when the pool itself fails (no worker that can start is left): no task would ever start. */
  private readonly broken: Promise<never>;
  private closing = false;

  constructor(opts: PoolOptions) {
    this.concurrency = checkWorkers(opts.workers);
    const filename = opts.filename ?? WORKER_FILE;
    this.pool = new Piscina<WorkerTask, JobResult | SegmentResult>({
      filename,
      minThreads: this.concurrency,
      maxThreads: this.concurrency,
      execArgv: workerExecArgv(filename),
    });
    this.broken = new Promise<never>((_, reject) => {
      this.pool.on('error', (err: unknown) => reject(new Error(`worker pool failed: ${messageOf(err)}`)));
      // piscina replaces a worker that dies, except one that dies before it is ready: when none is
      // left, queued tasks would wait forever.
      this.pool.on('workerDestroy', () =>
        setImmediate(() => {
          if (!this.closing && this.pool.threads.length === 0)
            reject(new Error('worker pool failed: every worker thread exited while starting'));
        }),
      );
    });
    this.broken.catch(() => undefined); // seen by every run() that races it
  }

  async run(job: Job, opts: RunJobOptions = {}): Promise<JobResult> {
    return (await this.post({ job, ...(opts.stop ? { stopBuffer: opts.stop.buffer } : {}) })) as JobResult;
  }

  async runSegment(segment: SegmentJob, opts: RunJobOptions = {}): Promise<SegmentResult> {
    return (await this.post({ segment, ...(opts.stop ? { stopBuffer: opts.stop.buffer } : {}) })) as SegmentResult;
  }

  private post(task: WorkerTask): Promise<JobResult | SegmentResult> {
    return Promise.race([this.pool.run(task), this.broken]);
  }

  /** Ends the threads at once: call it when no job is running (a scheduler's last step). */
  async close(): Promise<void> {
    this.closing = true;
    await this.pool.destroy();
  }
}

/** The first line of an error's message: what a one-line failure report shows. */
export function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.trim() || (err instanceof Error ? err.name : 'unknown error');
}
