/**
 * Every file name of a run folder and of an experiment folder: the one place that knows them (the run
 * store is the source of truth, as Optuna's storage is). Everything else builds paths from these.
 *
 * A run folder:
 *   config.json       the options, seed, backend and versions (written first)
 *   steps.jsonl       one line per epoch trained
 *   episodes.jsonl    one line per finished episode (a PBT run: per member)
 *   agent.json        the agent's state after the last finished episode
 *   summary.json      written last: its presence marks a run that ended
 *   lineage.jsonl     PBT only: one line per exploit
 *   run.lock          the process writing the folder
 *   checkpoint.json   + checkpoint-<stamp>.bin: where an unfinished run stands (src/store/run-folder.ts)
 *   population/       PBT only, while unfinished: population.json and member-<m>.json (+ .bin)
 * An experiment folder:
 *   experiment-plan.json   the options it was planned with (--resume reads them)
 *   experiment.json, experiment.md, schedules.svg, sweep.svg, compute.svg   the report
 *   runs/s<seed>/<method>  the run folders, one folder of runs per seed
 *   compare/               the comparison of every run (src/analysis/report.ts)
 */
import path from 'node:path';

/** The run log every run writes, by what it holds. */
export const RUN_FILES = {
  config: 'config.json',
  steps: 'steps.jsonl',
  episodes: 'episodes.jsonl',
  agent: 'agent.json',
  summary: 'summary.json',
} as const;

export type RunFileName = keyof typeof RUN_FILES;

/** A PBT run's exploits, one line each. */
export const LINEAGE_FILE = 'lineage.jsonl';

/** The lock of the process writing a run folder. */
export const LOCK_FILE = 'run.lock';

/** The checkpoint of an unfinished single run: `checkpoint.json` and its binary. */
export const RUN_CHECKPOINT = 'checkpoint';

/** A PBT run's members' checkpoints and the coordinator's state, while the run is unfinished. */
export const POPULATION_DIR = 'population';

/** The coordinator's state at the start of a generation, in POPULATION_DIR. */
export const POPULATION_STATE_FILE = 'population.json';

/** Member `member`'s (from 0) checkpoint name in POPULATION_DIR: `member-<m>.json` and its binary. */
export const memberCheckpoint = (member: number): string => `member-${member}`;

/** The JSON file of the checkpoint `name` (src/store/checkpoint.ts). */
export const checkpointJson = (name: string): string => `${name}.json`;

/** A binary of the checkpoint `name`, told apart from its predecessors by `stamp`. */
export const checkpointBinary = (name: string, stamp: string): string => `${name}-${stamp}.bin`;

/** Whether `file` is one of the binaries of the checkpoint `name`. */
export const isCheckpointBinary = (name: string, file: string): boolean =>
  file.startsWith(`${name}-`) && file.endsWith('.bin');

/** Every file a run folder may hold at its top level (the dashboard serves these and nothing else). */
export const RUN_LOG_FILES: readonly string[] = [
  RUN_FILES.config,
  RUN_FILES.steps,
  RUN_FILES.episodes,
  RUN_FILES.summary,
  LINEAGE_FILE,
  LOCK_FILE,
];

/** The path of one file of the run folder `dir`. */
export const runFile = (dir: string, name: RunFileName): string => path.join(dir, RUN_FILES[name]);

/** An experiment folder's files. */
export const EXPERIMENT_FILES = {
  /** The options it was planned with. */
  plan: 'experiment-plan.json',
  json: 'experiment.json',
  md: 'experiment.md',
  schedules: 'schedules.svg',
  sweep: 'sweep.svg',
  /** Test accuracy against epochs spent (src/experiment/compute.ts). */
  compute: 'compute.svg',
  /** The folder of the comparison report. */
  compare: 'compare',
  /** The folder of the run folders. */
  runs: 'runs',
} as const;

/** The folder of seed `seed`'s runs in the experiment folder `out`. */
export const seedRunsDir = (out: string, seed: number): string => path.join(out, EXPERIMENT_FILES.runs, `s${seed}`);
