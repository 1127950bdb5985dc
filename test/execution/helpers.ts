/** Shared by the executor and experiment tests. */
import type { Executor } from '../../src/execution/executor.js';
import type { Job, JobResult } from '../../src/execution/job.js';

/** What each run settled with: its result's folder, or its error's message. */
export async function settle(executor: Executor, jobs: Job[]): Promise<string[]> {
  return Promise.all(
    jobs.map((job) =>
      executor.run(job).then(
        (r: JobResult) => `done ${r.out}`,
        (err: Error) => `failed: ${err.message.split('\n')[0]}`,
      ),
    ),
  );
}

/** Fails the test instead of hanging it: the pool must always settle. */
export function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms)),
  );
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
