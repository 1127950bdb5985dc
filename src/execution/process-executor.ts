/**
 * ProcessExecutor: N worker processes (node:child_process fork), each running the same plain-JSON jobs
 * and PBT segments the thread pool runs, through the same task module (pool-thread.ts), so a job
 * writes the same run folder whichever executor ran it.
 *
 * The processes start when the executor is made and warm up at once (tfjs, the wasm module, the
 * kernels; a dataset on its first job, then kept): that start-up is paid once per worker and overlaps
 * with whatever the caller does before its first jobs. Two processes share less than two threads of
 * one process (one heap and one garbage collector each), which is why this can be the faster executor.
 *
 * A stop request (the StopFlag) reaches a running job as a `stop` message. A worker process that dies
 * fails its job with one line and is replaced; the other jobs go on. When every worker dies while it
 * starts, each job fails with that one line instead of waiting forever.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Subscription } from 'rxjs';
import { WORKER_FILE, checkWorkers, workerExecArgv, type Executor, type RunJobOptions } from './executor.js';
import type { Job, JobResult } from './job.js';
import type { SegmentJob, SegmentResult } from '../run/segment.js';
import type { StopFlag } from '../core/stop-flag.js';

/** What the parent sends a worker process: a task to run, or a stop for the task it runs. */
export type ParentMessage =
  { type: 'task'; id: number; task: { job: Job } | { segment: SegmentJob } } | { type: 'stop'; id: number };

/** What a worker process sends back. */
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'failed-to-start'; message: string; name: string }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; message: string; name: string };

// process-child.ts under tsx in development, process-child.js in the compiled package.
const CHILD_FILE = fileURLToPath(
  new URL(`./process-child${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

export interface ProcessOptions {
  /** Worker processes, started at once and kept until close(). */
  workers: number;
  /** The task module each process runs (its default export, as piscina's). @default WORKER_FILE */
  filename?: string;
}

interface Pending {
  id: number;
  task: { job: Job } | { segment: SegmentJob };
  stop: StopFlag | undefined;
  watch?: Subscription;
  resolve(result: unknown): void;
  reject(err: Error): void;
}

interface Worker {
  child: ChildProcess;
  ready: boolean;
  running?: Pending;
  /** Why it could not start, as it said before it exited. */
  startError?: string;
}

const errorNamed = (message: string, name: string) => Object.assign(new Error(message), { name });

export class ProcessExecutor implements Executor {
  readonly concurrency: number;
  private readonly filename: string;
  private readonly workers = new Set<Worker>();
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private closing = false;
  /** Set once every worker died while starting: each job then fails with it. */
  private broken: Error | undefined;

  constructor(opts: ProcessOptions) {
    this.concurrency = checkWorkers(opts.workers);
    this.filename = opts.filename ?? WORKER_FILE;
    for (let i = 0; i < this.concurrency; i++) this.spawn();
  }

  run(job: Job, opts: RunJobOptions = {}): Promise<JobResult> {
    return this.post({ job }, opts.stop) as Promise<JobResult>;
  }

  runSegment(segment: SegmentJob, opts: RunJobOptions = {}): Promise<SegmentResult> {
    return this.post({ segment }, opts.stop) as Promise<SegmentResult>;
  }

  /** Ends the processes: call it when no job is running (a scheduler's last step). */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      [...this.workers].map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            // A closed channel ends a worker (process-child.ts); one that does not answer is killed.
            if (child.connected) child.disconnect();
            setTimeout(() => child.kill('SIGKILL'), 5000).unref();
          }),
      ),
    );
    this.workers.clear();
  }

  private post(task: Pending['task'], stop: StopFlag | undefined): Promise<unknown> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      const pending: Pending = { id: this.nextId++, task, stop, resolve, reject };
      this.queue.push(pending);
      this.dispatch();
    });
  }

  private spawn(): void {
    const child = fork(CHILD_FILE, [this.filename], {
      execArgv: workerExecArgv(CHILD_FILE),
      // structured clone, as between threads: typed arrays in results arrive as typed arrays
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const worker: Worker = { child, ready: false };
    this.workers.add(worker);
    child.on('message', (message: ChildMessage) => this.onMessage(worker, message));
    child.on('error', (err) => (worker.startError ??= err.message));
    child.on('exit', (code, signal) => this.onExit(worker, code, signal));
  }

  private onMessage(worker: Worker, message: ChildMessage): void {
    switch (message.type) {
      case 'ready':
        worker.ready = true;
        break;
      case 'failed-to-start':
        worker.startError = message.message.split('\n')[0];
        return;
      case 'result':
      case 'error': {
        const pending = worker.running;
        if (pending?.id !== message.id) return;
        worker.running = undefined;
        pending.watch?.unsubscribe();
        if (message.type === 'result') pending.resolve(message.result);
        else pending.reject(errorNamed(message.message, message.name));
        break;
      }
    }
    this.dispatch();
  }

  private onExit(worker: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers.delete(worker);
    if (worker.running) {
      worker.running.watch?.unsubscribe();
      worker.running.reject(new Error(`worker process exited with ${signal ? `signal ${signal}` : `code ${code}`}`));
    }
    if (this.closing) return;
    // A worker that had started is replaced; one that died while starting would die again.
    if (worker.ready) this.spawn();
    else if (this.workers.size === 0) {
      this.broken = new Error(
        `worker processes failed: every one exited while starting (${worker.startError ?? `code ${code ?? signal}`})`,
      );
      for (const pending of this.queue.splice(0)) pending.reject(this.broken);
    }
  }

  /** Gives each idle worker the oldest waiting task. */
  private dispatch(): void {
    for (const worker of this.workers) {
      if (this.queue.length === 0) return;
      if (!worker.ready || worker.running || !worker.child.connected) continue;
      const pending = this.queue.shift()!;
      worker.running = pending;
      const send = (message: ParentMessage) => {
        if (worker.child.connected) worker.child.send(message);
      };
      send({ type: 'task', id: pending.id, task: pending.task });
      pending.watch = pending.stop?.stop$().subscribe(() => send({ type: 'stop', id: pending.id }));
    }
  }
}
