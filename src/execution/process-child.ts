/**
 * The entry of one ProcessExecutor worker process (process-executor.ts). It imports the task module
 * named by its first argument (pool-thread.ts, the same code the thread pool runs), warms it up (tfjs,
 * the wasm module, the kernels) before it says `ready`, then runs the tasks the parent sends, one at a
 * time, and sends each result back.
 *
 * Ctrl-C reaches every process of the terminal's group: this one ignores SIGINT and SIGTERM and waits
 * for the parent's `stop` message, so that a signal loses at most the epoch in progress. When the
 * parent goes (its IPC channel closes), so does this process.
 */
import { pathToFileURL } from 'node:url';
import type { ChildMessage, ParentMessage } from './process-executor.js';
import type { WorkerTask } from './executor.js';
import { StopFlag } from '../core/stop-flag.js';

interface TaskModule {
  default: (task: WorkerTask) => Promise<unknown>;
  warmUp?: () => Promise<void>;
}

// The parent may have closed the channel meanwhile (closed while this one started): nothing to tell.
const send = (message: ChildMessage) => {
  if (process.connected) process.send!(message);
};

/** The one-line message and the class name of an error, which survive the IPC channel. */
const errorOf = (err: unknown) => ({
  message: err instanceof Error ? err.message : String(err),
  name: err instanceof Error ? err.name : 'Error',
});

async function main(): Promise<void> {
  // The parent's stop message decides when a run ends, not the terminal's signal.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => undefined);
  process.on('disconnect', () => process.exit(0));
  const stops = new Map<number, StopFlag>();
  let loaded: TaskModule;
  try {
    loaded = (await import(pathToFileURL(process.argv[2]!).href)) as TaskModule;
    await loaded.warmUp?.();
  } catch (err) {
    send({ type: 'failed-to-start', ...errorOf(err) });
    // Let the message go out before the process ends.
    process.disconnect();
    return;
  }
  const mod = loaded;
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'stop') {
      stops.get(message.id)?.request();
      return;
    }
    const stop = new StopFlag();
    stops.set(message.id, stop);
    mod
      .default({ ...message.task, stopBuffer: stop.buffer } as WorkerTask)
      .then(
        (result) => send({ type: 'result', id: message.id, result }),
        (err: unknown) => send({ type: 'error', id: message.id, ...errorOf(err) }),
      )
      .finally(() => stops.delete(message.id));
  });
  send({ type: 'ready' });
}

void main();
