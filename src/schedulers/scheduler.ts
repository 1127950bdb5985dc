/**
 * A trial scheduler, as Ray Tune splits it from the search: it decides which trials train next, which
 * copy another's checkpoint and which stop; an agent acts inside one trial. PBT (pbt/) and successive
 * halving (sha/) implement this one interface; `--agent NAME` reaches them through `schedulerFor`
 * (index.ts), never through the agent registry.
 *
 * A scheduler trains nothing itself: every trial's epochs are segments (src/run/segment.ts) run by the
 * injected `runSegment` (this thread, a worker pool or a queue), and every decision is drawn from one
 * seeded stream in the coordinator, so a seed gives one result whatever the number of workers. It
 * writes the run folder through the store (RunWriter): its trials are the log's episodes.
 */
import type { Dataset } from '../data/dataset.js';
import type { ResolvedRun, RunResult, TrialMethod } from '../run/run.js';
import type { SegmentJob, SegmentResult } from '../run/segment.js';

export type { TrialMethod } from '../run/run.js';

/** What a scheduler is given to run: where segments train, and how to report. */
export interface SchedulerDeps<Event = unknown> {
  /** Trains one segment (in this thread, on a worker pool, or on a queue's workers). */
  runSegment: (job: SegmentJob) => Promise<SegmentResult>;
  /** The tfjs backend in use, as config.json records it. */
  backendInUse: string;
  /** The run's dataset, loaded already (else it is loaded from `run.data`). */
  dataset?: Dataset;
  /** Continue the run in `run.out` from its checkpoints. */
  resume?: boolean;
  /** Checked between rounds; the segments see it too (through runSegment) and end after their epoch. */
  stopRequested?: () => boolean;
  /** Sees each round (a PBT generation, a halving rung) once it is logged. */
  onProgress?: (event: Event) => void;
  /** Where resume notes go. @default stderr */
  warn?: (message: string) => void;
}

export interface TrialScheduler<Event = unknown> extends TrialMethod {
  /** Its trials' checkpoints, under the run folder while the run is unfinished. */
  checkpointDir: string;
  /** The log files it writes besides the run's own (RUN_FILES). */
  files: string[];
  /** Epochs a checked config trains in all (what an experiment charges it). */
  budgetEpochs(config: Record<string, unknown>, epochs: number): number;
  /** Segments worth running at once (more workers would idle). */
  concurrency(config: Record<string, unknown>): number;
  /** Trains every trial and writes the run folder; returns what it wrote. */
  run(run: ResolvedRun, deps: SchedulerDeps<Event>): Promise<RunResult>;
  /** What it is about to do, for the command line (one or two lines). */
  plan(run: ResolvedRun): string[];
  /** One progress line per round, for the command line. */
  progressLine(event: Event, run: ResolvedRun): string;
}
