/**
 * Throughput of an executor on a small fixed experiment, for `npm run bench`: runs shaped like the
 * standard preset's (mnist, 2,000 train / 1,000 validation / 2,000 test digits, mlp:256,128, 10 epochs
 * per episode), the random agent, 4 runs (seeds 0–3) × 2 episodes = 8 episodes, on the default
 * backend, written to a temporary folder that is removed afterwards. (Runs of 1,000 digits and 3
 * epochs, where resets and evaluations weigh more, scaled 1.5× on 2 workers here, and 1.7× as two
 * separate processes: the two cores share more than the work splits.)
 *
 * Before the clock starts, every worker runs one tiny warm-up job: starting a thread (loading tfjs,
 * the agents and the wasm module) takes seconds and is paid once per experiment, not per episode.
 * `startupSeconds` reports it. Loading mnist is inside the timed part, as in an experiment.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type ExecutorKind } from './executor.js';
import { createExecutor } from './create-executor.js';
import type { Job } from './job.js';
import { runTasks, type Task } from './task-graph.js';

export const THROUGHPUT_WORKLOAD = {
  runs: 4,
  options: {
    agent: 'random',
    episodes: 2,
    epochs: 10,
    dataset: 'mnist',
    trainSize: 2000,
    valSize: 1000,
    testSize: 2000,
    model: 'mlp:256,128',
  },
} as const;

const WARM_UP = {
  agent: 'constant',
  rate: 0.1,
  episodes: 1,
  epochs: 1,
  dataset: 'synthetic',
  trainSize: 32,
  valSize: 16,
  testSize: 16,
  model: 'mlp:8',
};

export interface Throughput {
  episodes: number;
  /** Wall time of the runs, start-up excluded. */
  seconds: number;
  perMinute: number;
  /** Wall time of starting the executor and its warm-up jobs. */
  startupSeconds: number;
}

/** Runs the fixed workload with `workers` (1: in this thread) of `kind` and measures episodes per minute. */
export async function episodesPerMinute(workers: number, kind?: ExecutorKind): Promise<Throughput> {
  const dir = mkdtempSync(path.join(tmpdir(), 'droptune-throughput-'));
  const started = performance.now();
  const executor = createExecutor(workers, kind);
  try {
    const tasksOf = (name: string, count: number, options: Record<string, unknown>): Task[] =>
      Array.from({ length: count }, (_, seed): Task => {
        const job: Job = { options, seed, out: path.join(dir, `${name}-s${seed}`) };
        return { id: job.out, job };
      });
    const run = async (tasks: Task[]) => {
      const outcomes = await runTasks(tasks, executor);
      const failed = [...outcomes.values()].flatMap((o) =>
        o.status === 'failed' ? [o.error] : o.status === 'not started' ? [o.reason] : [],
      );
      if (failed.length > 0) throw new Error(`episodesPerMinute: ${failed.join('; ')}`);
    };
    await run(tasksOf('warm-up', executor.concurrency, WARM_UP));
    const timed = performance.now();
    await run(tasksOf('run', THROUGHPUT_WORKLOAD.runs, THROUGHPUT_WORKLOAD.options));
    const seconds = (performance.now() - timed) / 1000;
    const episodes = THROUGHPUT_WORKLOAD.runs * THROUGHPUT_WORKLOAD.options.episodes;
    return { episodes, seconds, perMinute: (episodes / seconds) * 60, startupSeconds: (timed - started) / 1000 };
  } finally {
    await executor.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
