/** The executor for `--workers N --executor thread|process`: its own file, since it knows every kind of executor. */
import {
  DEFAULT_EXECUTOR,
  InProcessExecutor,
  PoolExecutor,
  checkWorkers,
  type Executor,
  type ExecutorKind,
} from './executor.js';
import { ProcessExecutor } from './process-executor.js';

/** --workers 1 runs in this thread, more in that many worker threads or worker processes. */
export function createExecutor(workers: number, kind: ExecutorKind = DEFAULT_EXECUTOR): Executor {
  if (checkWorkers(workers) === 1) return new InProcessExecutor();
  return kind === 'process' ? new ProcessExecutor({ workers }) : new PoolExecutor({ workers });
}
