/**
 * The coordinator's side of the queue: an Executor whose jobs go to a BullMQ queue on Redis, to be
 * trained by `npm run worker` processes on any machine (queue-worker.ts). It writes each run folder
 * itself, from the files the worker returns (queue.ts), so the folder is the one a local pool writes.
 *
 * - Every job is queued at once (concurrency is unbounded: the workers set the pace), in the plan's
 *   order, which BullMQ keeps (FIFO).
 * - A job's id is a hash of its payload: a coordinator resumed with the same queue finds the jobs it
 *   queued before, finished or not, instead of queueing them again. A job it has consumed is removed.
 * - A job that fails is not retried (`attempts: 1`): training is deterministic, so a real error would
 *   come back. A worker that dies is another matter: its job stalls and BullMQ hands it to another
 *   worker (queue-worker.ts).
 * - Redis unreachable for `lostAfterMs`: every run waiting on it fails with one message (`lost`), and
 *   the experiment can be resumed once Redis is back.
 */
import { Queue, QueueEvents, type Job as QueuedJob } from 'bullmq';
import type { Redis } from 'ioredis';
import { firstValueFrom } from 'rxjs';
import { tidyFinishedRun } from '../../store/run-folder.js';
import { messageOf, type Executor, type RunJobOptions } from '../executor.js';
import { finishedResult, resolveJob, type Job, type JobResult } from '../job.js';
import {
  PAYLOAD_VERSION,
  REGISTRY_KEY,
  RedisUnreachable,
  withTimeout,
  checkRunReturn,
  checkSegmentReturn,
  connect,
  jobIdOf,
  readMemberFiles,
  writeMemberFiles,
  writeRunFiles,
  type QueuePayload,
  type QueueUrl,
  type RunPayload,
  type SegmentPayload,
} from './protocol.js';
import { readMemberCheckpoint, type SegmentJob, type SegmentResult } from '../../run/segment.js';

export interface QueueProgress {
  queued: number;
  running: number;
  done: number;
  failed: number;
  /** Time left at the pace so far (epochs done per second since the first job started); unknown before a job is done. */
  etaMs: number | undefined;
}

export interface QueueExecutorOptions {
  url: QueueUrl;
  queueName: string;
  /** How long Redis may be unreachable before every waiting run fails. @default 5000 */
  lostAfterMs?: number;
  /** Each change of the counts. */
  onProgress?: (progress: QueueProgress) => void;
  /** Once, when Redis is given up on: the one line to show. */
  onLost?: (message: string) => void;
}

type State = 'queued' | 'running' | 'done' | 'failed';

/** How every job is added: once, kept after it ends (a resumed coordinator finds it by its id). */
const JOB_OPTIONS = (jobId: string) => ({ jobId, attempts: 1, removeOnComplete: false, removeOnFail: false });

export { RedisUnreachable };

export class QueueExecutor implements Executor {
  readonly concurrency = Number.POSITIVE_INFINITY;
  /** Set once Redis is given up on: why. */
  lost: string | undefined;
  private readonly jobs = new Map<string, { state: State; epochs: number }>();
  private readonly lostAfterMs: number;
  /** Resolves when Redis is given up on: the runs waiting on it end as a stop ends them. */
  private readonly lostSignal: Promise<void>;
  private signalLost!: () => void;
  private lastError = 'connection closed';
  private downTimer?: NodeJS.Timeout;
  private firstActiveAt: number | undefined;
  /** Jobs queued and not yet settled, by id: what a Redis that restarted empty must be given again. */
  private readonly outstanding = new Map<string, QueuePayload>();
  private wasDown = false;
  /** Set by close(): the connections' own 'close' then is no outage to wait out. */
  private closed = false;

  private constructor(
    private readonly opts: QueueExecutorOptions,
    private readonly connections: Redis[],
    private readonly queue: Queue,
    private readonly events: QueueEvents,
  ) {
    this.lostAfterMs = opts.lostAfterMs ?? 5000;
    this.lostSignal = new Promise<void>((resolve) => {
      this.signalLost = resolve;
    });
    for (const conn of connections) {
      conn.on('error', (err: Error) => {
        this.lastError = messageOf(err);
      });
      // Down for lostAfterMs in a row: given up on. Back before that: nothing happened.
      conn.on('close', () => {
        // closing disconnects: an outage timer armed then would keep the process up for lostAfterMs
        if (this.closed) return;
        this.wasDown = true;
        this.downTimer ??= setTimeout(() => this.lose(), this.lostAfterMs);
      });
      conn.on('ready', () => {
        if (connections.every((c) => c.status === 'ready')) {
          clearTimeout(this.downTimer);
          this.downTimer = undefined;
          // Back within lostAfterMs, but perhaps a Redis restarted without its data: queue again what it lost.
          if (this.wasDown) {
            this.wasDown = false;
            void this.requeueLost().catch((err: unknown) => {
              this.lastError = messageOf(err);
            });
          }
        }
      });
    }
    events.on('active', ({ jobId }) => this.move(jobId, 'running'));
    // A stalled job (its worker died) waits again for another worker.
    events.on('waiting', ({ jobId }) => this.move(jobId, 'queued'));
  }

  /** Connects and registers the queue for workers started without --queue-name; RedisUnreachable if it cannot. */
  static async open(opts: QueueExecutorOptions): Promise<QueueExecutor> {
    const queueConn = connect(opts.url);
    const eventsConn = connect(opts.url);
    let lastError = 'no answer';
    for (const conn of [queueConn, eventsConn]) conn.on('error', (err: Error) => (lastError = messageOf(err)));
    const queue = new Queue(opts.queueName, { connection: queueConn });
    const events = new QueueEvents(opts.queueName, { connection: eventsConn });
    // BullMQ prints an 'error' nobody listens to, once per reconnection: the connections report it instead.
    queue.on('error', () => undefined);
    events.on('error', () => undefined);
    try {
      await withTimeout(Promise.all([queueConn.ping(), eventsConn.ping()]), opts.lostAfterMs ?? 5000, () => lastError);
      await events.waitUntilReady();
      await queueConn.sadd(REGISTRY_KEY, opts.queueName);
    } catch (err) {
      queueConn.disconnect();
      eventsConn.disconnect();
      throw new RedisUnreachable(`cannot reach Redis at ${opts.url.shown}: ${messageOf(err)}`);
    }
    return new QueueExecutor(opts, [queueConn, eventsConn], queue, events);
  }

  get progress(): QueueProgress {
    const count = (state: State) => [...this.jobs.values()].filter((j) => j.state === state).length;
    const epochs = (...states: State[]) =>
      [...this.jobs.values()].filter((j) => states.includes(j.state)).reduce((s, j) => s + j.epochs, 0);
    const doneEpochs = epochs('done');
    const elapsed = this.firstActiveAt === undefined ? 0 : performance.now() - this.firstActiveAt;
    return {
      queued: count('queued'),
      running: count('running'),
      done: count('done'),
      failed: count('failed'),
      etaMs: doneEpochs > 0 ? (elapsed / doneEpochs) * epochs('queued', 'running') : undefined,
    };
  }

  private move(id: string, state: State): void {
    const job = this.jobs.get(id);
    if (!job || job.state === state || job.state === 'done' || job.state === 'failed') return;
    if (state === 'running') this.firstActiveAt ??= performance.now();
    job.state = state;
    this.opts.onProgress?.(this.progress);
  }

  private settle(id: string, state: 'done' | 'failed'): void {
    const job = this.jobs.get(id);
    if (!job) return;
    job.state = state;
    this.opts.onProgress?.(this.progress);
  }

  /**
   * Adds again every outstanding job Redis no longer has. Safe: a job's id is its payload's hash, so a
   * job Redis still has is never doubled, and the one re-added is the same job.
   */
  private async requeueLost(): Promise<void> {
    for (const [id, payload] of this.outstanding) {
      if (this.lost) return;
      if ((await this.queue.getJob(id)) !== undefined) continue;
      await this.queue.add(payload.kind, payload, JOB_OPTIONS(id));
      this.move(id, 'queued');
    }
  }

  private lose(): void {
    if (this.lost) return;
    this.lost = `Redis at ${this.opts.url.shown} went away (${this.lastError})`;
    this.opts.onLost?.(this.lost);
    this.signalLost();
    for (const conn of this.connections) conn.disconnect();
  }

  async run(job: Job, opts: RunJobOptions = {}): Promise<JobResult> {
    if (this.lost) throw new Error(this.lost);
    // Resumed: a run whose folder is finished is read back, not queued.
    if (job.resume) {
      const done = finishedResult(job.out);
      if (done) {
        tidyFinishedRun(job.out);
        return done;
      }
    }
    const run = resolveJob(job);
    const payload: RunPayload = {
      version: PAYLOAD_VERSION,
      kind: 'run',
      job: {
        options: job.options,
        seed: job.seed,
        out: job.out,
        ...(job.fold ? { fold: job.fold } : {}),
        // The --load-agent file is on this machine: its content travels with the job.
        ...(run.loadAgent !== null ? { agentState: run.loadedState } : {}),
      },
    };
    const written = await this.submit(payload, run.episodes * run.envConfig.maxEpochs, opts, (value) => {
      writeRunFiles(job.out, checkRunReturn(value).files);
      const result = finishedResult(job.out);
      if (!result) throw new Error('the worker returned the files of an unfinished run');
      return result;
    });
    return written ?? { out: job.out, layerNames: [], records: [], summary: undefined, interrupted: true };
  }

  /** A PBT member's segment: its checkpoint goes with it and comes back trained, into the population folder. */
  async runSegment(segment: SegmentJob, opts: RunJobOptions = {}): Promise<SegmentResult> {
    if (this.lost) throw new Error(this.lost);
    const payload: SegmentPayload = {
      version: PAYLOAD_VERSION,
      kind: 'segment',
      segment,
      checkpoint: readMemberFiles(segment.dir, segment.member),
    };
    const result = await this.submit(
      payload,
      Math.max(1, segment.untilEpoch - (readMemberCheckpoint(segment.dir, segment.member)?.env.epoch ?? 0)),
      opts,
      (value) => {
        const { result, checkpoint } = checkSegmentReturn(value, segment.member);
        writeMemberFiles(segment.dir, segment.member, checkpoint);
        return result;
      },
    );
    // Stopped before it came back: the member's checkpoint is untouched, so the segment trains again on --resume.
    return result ?? { member: segment.member, transitions: [], interrupted: true };
  }

  /**
   * Queues the payload (or finds it queued), waits for its worker and takes its return value with
   * `accept`; undefined once stopped or with Redis gone. Rejects with the job's error.
   */
  private async submit<T>(
    payload: QueuePayload,
    epochs: number,
    opts: RunJobOptions,
    accept: (value: unknown) => T,
  ): Promise<T | undefined> {
    const id = jobIdOf(payload);
    this.jobs.set(id, { state: 'queued', epochs });
    this.outstanding.set(id, payload);
    this.opts.onProgress?.(this.progress);
    const stop$ = opts.stop?.stop$(100);
    const stopped = stop$ ? firstValueFrom(stop$) : new Promise<void>(() => undefined);
    let queued: QueuedJob | undefined;
    try {
      const finished = (async () => {
        queued = await this.queue.add(payload.kind, payload, JOB_OPTIONS(id));
        const state = await queued.getState();
        // Queued by an earlier coordinator and failed then: once more, now.
        if (state === 'failed') await queued.retry('failed', { resetAttemptsMade: true });
        if (state === 'active') this.move(id, 'running');
        for (;;) {
          try {
            return { value: (await queued.waitUntilFinished(this.events)) as unknown };
          } catch (err) {
            // A Redis that restarted empty lost the job while we waited: queue it again and wait on.
            if (this.lost || !/Missing key for job/.test(messageOf(err))) throw err;
            await this.requeueLost();
          }
        }
      })();
      finished.catch(() => undefined); // seen by the race below, or abandoned by a stop
      const value = await Promise.race([
        finished,
        this.lostSignal.then(() => undefined),
        stopped.then(() => undefined),
      ]);
      if (value === undefined) {
        // Stopped, or Redis gone: a job no worker has taken leaves the queue; a running one finishes
        // there and is kept for --resume (which finds it by its id). Not with Redis gone: a command
        // would wait for a connection that is not coming back.
        if (!this.lost && queued)
          await withTimeout(queued.remove(), this.lostAfterMs, () => 'remove timed out').catch(() => undefined);
        this.jobs.delete(id);
        if (!this.lost) this.opts.onProgress?.(this.progress);
        return undefined;
      }
      this.outstanding.delete(id);
      const result = accept(value.value);
      await withTimeout(queued!.remove(), this.lostAfterMs, () => 'remove timed out').catch(() => undefined);
      this.settle(id, 'done');
      return result;
    } catch (err) {
      this.settle(id, 'failed');
      throw err;
    } finally {
      this.outstanding.delete(id);
    }
  }

  /** Unregisters the queue and closes the connections (at once when Redis is gone). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.downTimer);
    if (!this.lost) {
      const [queueConn] = this.connections;
      await withTimeout(
        (async () => {
          await queueConn!.srem(REGISTRY_KEY, this.opts.queueName);
          await this.events.close();
          await this.queue.close();
        })(),
        this.lostAfterMs,
        () => 'closing timed out',
      ).catch(() => undefined);
    }
    for (const conn of this.connections) conn.disconnect();
  }
}
