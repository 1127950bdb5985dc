/**
 * `droptune/internals`: what droptune's own tools, benchmarks and tests need beside the public API
 * (src/index.ts). No promise of stability: these change with the implementation.
 */

/** nn: the wasm kernels tfjs-backend-wasm 4.22 lacks (registered on import of droptune already). */
export { registerWasmConvGrad } from './nn/wasm-conv-grad.js';
export { registerWasmMatMul } from './nn/wasm-matmul.js';
export { registerWasmConvInputGrad } from './nn/wasm-conv-input-grad.js';
export { registerWasmKernels } from './nn/backend.js';

/** store: the run folder's file names, and a finished run read back. */
export {
  EXPERIMENT_FILES,
  LINEAGE_FILE,
  LOCK_FILE,
  POPULATION_DIR,
  RUN_CHECKPOINT,
  RUN_FILES,
  seedRunsDir,
} from './store/layout.js';
export { readRunEnd, type RunEnd } from './store/read-run.js';

/** run: one PBT member's segment, as an executor runs it. */
export { runSegment, type SegmentJob, type SegmentResult } from './run/segment.js';

/** execution: the task graph, the pool's thread file, the queue's names, the throughput figure. */
export { runTasks, type Task, type Outcome } from './execution/task-graph.js';
export { WORKER_FILE } from './execution/executor.js';
export { finishedResult } from './execution/job.js';
export { parseQueueUrl, queueNameFor } from './execution/queue/protocol.js';
export { episodesPerMinute } from './execution/throughput.js';
