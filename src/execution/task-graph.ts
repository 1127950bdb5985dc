/**
 * Runs a plan of jobs on an executor: a job waits for the jobs it comes `after`, and no more jobs run
 * at once than the executor's concurrency. With a concurrency of 1 the order of dispatch is exactly the
 * plan's. With more, the longest ready job goes first (by `cost`, ties in plan order; a job of unknown
 * cost counts as longest): the longest-processing-time rule, so that a long run does not start last and
 * leave the other workers idle while it finishes. A run's folder does not depend on when it ran.
 *
 * A job that fails is reported on one line and the others go on; a job that depends on a job that did
 * not finish is not started. After a stop request no job is started; the running ones end after their
 * epoch in progress.
 */
import { messageOf, type Executor } from './executor.js';
import type { Job, JobResult } from './job.js';
import type { StopFlag } from '../core/stop-flag.js';

export interface Task {
  /** Unique in the plan; what other tasks name in `after`. */
  id: string;
  /** Tasks that must have finished (done and not interrupted) before this one starts. */
  after?: string[];
  /** The job, or how to make it from the results of the tasks it comes after. */
  job: Job | ((done: ReadonlyMap<string, JobResult>) => Job);
  /** How long it runs, in any unit shared by the plan (epochs): orders dispatch when several workers run. */
  cost?: number;
}

/** A job's epochs to train (its episodes × epochs), or undefined where the options do not say. */
export function jobCost(job: Job): number | undefined {
  const epochs = job.options['epochs'];
  const episodes = job.options['episodes'] ?? 1;
  return typeof epochs === 'number' && typeof episodes === 'number' ? epochs * episodes : undefined;
}

export type Outcome =
  | { status: 'done'; job: Job; result: JobResult; seconds: number }
  /** `error` is one line: `run <out> failed: <message>`. */
  | { status: 'failed'; job: Job | undefined; error: string; seconds: number }
  | { status: 'not started'; reason: string };

export interface RunTasksOptions {
  stop?: StopFlag;
  /** Sees each outcome as it happens (completion order). */
  onOutcome?: (task: Task, outcome: Outcome) => void;
}

const finished = (o: Outcome | undefined): o is Extract<Outcome, { status: 'done' }> =>
  o?.status === 'done' && !o.result.interrupted;

/** Runs every task it can; resolves, never rejects, with the outcome of each task by id. */
export async function runTasks(
  tasks: readonly Task[],
  executor: Executor,
  opts: RunTasksOptions = {},
): Promise<Map<string, Outcome>> {
  const ids = new Set<string>();
  for (const task of tasks) {
    if (ids.has(task.id)) throw new Error(`runTasks: task id '${task.id}' is used twice`);
    for (const dep of task.after ?? [])
      if (!ids.has(dep))
        throw new Error(`runTasks: task '${task.id}' comes after '${dep}', which is not before it in the plan`);
    ids.add(task.id);
  }
  const outcomes = new Map<string, Outcome>();
  const done = new Map<string, JobResult>();
  const settle = (task: Task, outcome: Outcome) => {
    outcomes.set(task.id, outcome);
    if (finished(outcome)) done.set(task.id, outcome.result);
    opts.onOutcome?.(task, outcome);
  };
  // With several workers, longest first (stable: ties keep the plan's order).
  const costOf = (t: Task) => t.cost ?? (typeof t.job === 'function' ? undefined : jobCost(t.job)) ?? Infinity;
  const longerFirst = (a: Task, b: Task) => (costOf(a) === costOf(b) ? 0 : costOf(a) > costOf(b) ? -1 : 1);
  const pending = executor.concurrency > 1 ? [...tasks].sort(longerFirst) : [...tasks];
  const running = new Set<Promise<void>>();

  const start = (task: Task) => {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    let job: Job | undefined;
    const run = (async () => {
      job = typeof task.job === 'function' ? task.job(done) : task.job;
      return executor.run(job, { stop: opts.stop });
    })().then(
      (result) => settle(task, { status: 'done', job: job!, result, seconds: seconds() }),
      (err: unknown) =>
        settle(task, {
          status: 'failed',
          job,
          error: `run ${job?.out ?? task.id} failed: ${messageOf(err)}`,
          seconds: seconds(),
        }),
    );
    const tracked = run.finally(() => running.delete(tracked));
    running.add(tracked);
  };

  for (;;) {
    // Start what may start, in dispatch order, while there is room.
    for (let i = 0; i < pending.length && running.size < executor.concurrency && !opts.stop?.requested;) {
      const task = pending[i]!;
      const deps = task.after ?? [];
      const unfinished = deps.find((dep) => outcomes.has(dep) && !finished(outcomes.get(dep)));
      if (unfinished !== undefined) {
        pending.splice(i, 1);
        settle(task, { status: 'not started', reason: `it needs ${unfinished}, which did not finish` });
      } else if (deps.every((dep) => done.has(dep))) {
        pending.splice(i, 1);
        start(task);
      } else {
        i++;
      }
    }
    if (running.size === 0) break;
    await Promise.race(running);
  }
  for (const task of pending)
    settle(task, {
      status: 'not started',
      reason: opts.stop?.requested ? 'stopped before it started' : 'its dependencies never finished',
    });
  return outcomes;
}
