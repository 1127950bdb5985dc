/**
 * The piscina worker entry: one Job (or one PBT segment) per task, run in this thread with its own
 * tfjs backend.
 *
 * In development (.ts under tsx) the job code is loaded with require, as the thread starts. Under
 * Node 20, tsx's ESM hooks do not reach worker threads (privatenumber/tsx#354) but its CommonJS hook
 * does, and piscina loads this file through it: a dynamic import() here would find no .ts loader.
 * Compiled (.js, the published package) it is plain ESM, imported on the first task. A failure to load
 * is kept and thrown by each task, so the task fails with the real error; thrown at the top level it
 * would be hidden by piscina's retry of the file as ESM ("Unknown file extension .ts").
 */
import { createRequire } from 'node:module';
import type { WorkerTask } from './executor.js';
import type * as JobModule from './job.js';
import type * as SegmentModule from '../run/segment.js';
import type * as StopModule from '../core/stop-flag.js';
import type * as BackendModule from '../nn/backend.js';

interface Code {
  job: typeof JobModule;
  segment: typeof SegmentModule;
  stop: typeof StopModule;
  backend: typeof BackendModule;
}

function requireCode(): Code {
  const require = createRequire(import.meta.url);
  return {
    job: require('./job.js') as typeof JobModule,
    segment: require('../run/segment.js') as typeof SegmentModule,
    stop: require('../core/stop-flag.js') as typeof StopModule,
    backend: require('../nn/backend.js') as typeof BackendModule,
  };
}

async function importCode(): Promise<Code> {
  const [job, segment, stop, backend] = await Promise.all([
    import('./job.js'),
    import('../run/segment.js'),
    import('../core/stop-flag.js'),
    import('../nn/backend.js'),
  ]);
  return { job, segment, stop, backend };
}

const compiled = import.meta.url.endsWith('.js');
let code: Code | undefined;
let loadError: unknown;
if (!compiled) {
  try {
    code = requireCode();
  } catch (err) {
    loadError = err;
  }
}

/**
 * Loads the job code and starts the default backend (tfjs, the wasm module, droptune's kernels): what a
 * worker process (process-child.ts) does as it starts, before its first task.
 */
export async function warmUp(): Promise<void> {
  if (compiled) code ??= await importCode();
  if (!code) throw loadError;
  await code.backend.initBackend();
}

export default async function runTask(task: WorkerTask): Promise<JobModule.JobResult | SegmentModule.SegmentResult> {
  if (compiled) code ??= await importCode();
  if (!code) throw loadError;
  const {
    job: { runJob },
    segment: { runSegment },
    stop: { StopFlag },
  } = code;
  const opts = task.stopBuffer ? { stop: new StopFlag(task.stopBuffer) } : {};
  return task.segment ? runSegment(task.segment, opts) : runJob(task.job, opts);
}
