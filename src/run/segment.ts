/**
 * A segment: one population member trained for a few epochs at fixed rates, from its checkpoint.
 * PBT (pbt.ts) is a sequence of generations; in each, every member trains one segment, on whichever
 * thread the executor picks. Like a Job it is plain JSON, so it runs the same in this thread or a
 * worker, and its result depends only on the job and the member's checkpoint.
 *
 * The member's whole training state lives in the checkpoint `<dir>/member-<m>` (an env snapshot plus
 * the segment's transitions so far), rewritten after every epoch: a segment stopped or killed at any
 * moment continues from its last epoch when run again, and a finished one returns what it trained
 * without training again. The coordinator copies a checkpoint from one member to another to exploit.
 */
import { mkdirSync } from 'node:fs';
import { DropoutEnv, type DropoutEnvConfig, type EnvSnapshot } from '../../envs/dropout-env.js';
import type { StepInfo, Transition } from '../core/types.js';
import { transitionOf } from '../loop/loop.js';
import type { DataConfig } from '../data/dataset.js';
import { initBackend, type BackendChoice } from '../nn/backend.js';
import { readCheckpoint, writeCheckpoint } from '../store/checkpoint.js';
import { memberCheckpoint } from '../store/layout.js';
import { datasetFor } from '../data/cache.js';
import type { StopFlag } from '../core/stop-flag.js';

export interface SegmentJob {
  data: DataConfig;
  /** The env config, `actionMode: 'absolute'`: each action is the rates themselves. */
  env: Partial<DropoutEnvConfig>;
  backend: BackendChoice;
  /** The folder of the members' checkpoints. */
  dir: string;
  member: number;
  /** Generations are numbered from 0; the member's checkpoint says which one it belongs to. */
  generation: number;
  /** Generation 0 starts from `env.reset({ seed })`; later ones from the checkpoint of the previous one. */
  seed: number;
  /** The rates of every epoch of the segment, one per dropout layer. */
  rates: number[];
  /** Train until the member's env has trained this many epochs (or ends by diverging). */
  untilEpoch: number;
}

export interface SegmentResult {
  member: number;
  /** The reset, for a member that started in this segment (generation 0). */
  reset?: { observation: number[]; info: StepInfo };
  /** Every epoch of the segment, in order: the ones trained by an earlier, stopped call included. */
  transitions: Transition[];
  /** Stopped before `untilEpoch`; running the same job again continues it. */
  interrupted: boolean;
}

/** What a member's checkpoint holds. */
export interface MemberCheckpoint {
  /** The generation whose segment wrote it (or, for an exploit's copy, the one it was copied for − 1). */
  generation: number;
  env: EnvSnapshot;
  /** The env's observation at the snapshot (what the next transition starts from). */
  observation: number[];
  reset?: SegmentResult['reset'];
  /** Set on an exploit's copy: whose checkpoint it is, copied for which generation. */
  copiedFrom?: { member: number; generation: number };
  /** The epochs generation `generation` has trained so far. */
  transitions: Transition[];
}

export { memberCheckpoint };

export function readMemberCheckpoint(dir: string, member: number): MemberCheckpoint | undefined {
  return readCheckpoint(dir, memberCheckpoint(member)) as MemberCheckpoint | undefined;
}

export function writeMemberCheckpoint(dir: string, member: number, checkpoint: MemberCheckpoint): void {
  writeCheckpoint(dir, memberCheckpoint(member), checkpoint);
}

/** Trains one member's segment in this thread. A stop ends it after the epoch in progress. */
export async function runSegment(job: SegmentJob, opts: { stop?: StopFlag } = {}): Promise<SegmentResult> {
  await initBackend(job.backend);
  const env = new DropoutEnv(datasetFor(job.data), job.env);
  try {
    const saved = readMemberCheckpoint(job.dir, job.member);
    let reset: SegmentResult['reset'];
    let transitions: Transition[];
    let observation: number[];
    if (saved && saved.generation === job.generation) {
      // This segment was started before: go on from its last epoch.
      env.restore(saved.env);
      reset = saved.reset;
      transitions = saved.transitions;
      observation = saved.observation;
    } else if (saved && saved.generation === job.generation - 1) {
      env.restore(saved.env);
      transitions = [];
      observation = saved.observation;
    } else if (!saved && job.generation === 0) {
      const r = await env.reset({ seed: job.seed });
      reset = { observation: r.observation, info: r.info };
      transitions = [];
      observation = r.observation;
    } else {
      // numbered from 1 in the message, as everywhere the user reads them
      throw new Error(
        `segment: member ${job.member + 1} has ${saved ? `a checkpoint of generation ${saved.generation + 1}` : 'no checkpoint'}, generation ${job.generation + 1} needs ${job.generation === 0 ? 'none' : `generation ${job.generation}'s`}`,
      );
    }
    mkdirSync(job.dir, { recursive: true });
    let snapshot = env.snapshot();
    while (!snapshot.done && snapshot.epoch < job.untilEpoch) {
      // Yield, so a stop (a signal handler, or the shared flag's reader) is seen between epochs.
      await new Promise((resolve) => setImmediate(resolve));
      if (opts.stop?.requested)
        return { member: job.member, ...(reset ? { reset } : {}), transitions, interrupted: true };
      const action = [...job.rates];
      const result = await env.step(action);
      transitions.push(transitionOf(job.member, observation, action, result));
      observation = result.observation;
      snapshot = env.snapshot();
      writeMemberCheckpoint(job.dir, job.member, {
        generation: job.generation,
        env: snapshot,
        observation,
        ...(reset ? { reset } : {}),
        transitions,
      });
    }
    return { member: job.member, ...(reset ? { reset } : {}), transitions, interrupted: false };
  } finally {
    env.dispose();
  }
}
