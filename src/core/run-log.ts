/**
 * The run log: what `npm run agent` writes under runs/<run>/ and what compare reads.
 * A contract: add fields freely, never rename or remove one.
 *
 *   config.json     RunConfig            written first
 *   steps.jsonl     StepRecord per line  appended and flushed per environment step
 *   episodes.jsonl  EpisodeRecord / line appended and flushed per episode
 *   agent.json      the agent's saveState(), rewritten after every episode
 *   summary.json    RunSummary           written when the run ends (absent: the run was cut short)
 *   lineage.jsonl   LineageRecord / line PBT runs only: who copied whom (episodes are its members)
 *
 * Timing values live only in fields whose names end in `Ms`; everything else is identical for the
 * same seed and backend.
 *
 * Numbering: episodes, PBT members and generations count from 1, like epochs (log version 2, named by
 * config.json's `logVersion`). Folders written before it (no `logVersion`) counted them from 0; the
 * readers shift those by one (`shiftNumbering`), and a resumed old folder goes on in its own numbering.
 */
import { ConfigError } from './errors.js';
import type { EpisodeScore, SelectName } from './select.js';

/** The run log's format: 2 numbers episodes, members and generations from 1. */
export const LOG_VERSION = 2;

/** The log version of a folder's config.json (absent: 1, written before versions were recorded). */
export function logVersionOf(config: { logVersion?: unknown }, where = 'config.json'): number {
  const version = config.logVersion ?? 1;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1)
    throw new ConfigError(`${where}: 'logVersion' must be a positive integer, got ${JSON.stringify(version)}`);
  if (version > LOG_VERSION)
    throw new ConfigError(
      `${where}: log version ${version} was written by a newer droptune; this one reads versions up to ${LOG_VERSION}: upgrade droptune`,
    );
  return version;
}

/** What a record's episode (member, generation) numbers must be shifted by to read a log of `version`. */
export const numberingShift = (version: number): number => (version < 2 ? 1 : 0);

/**
 * A log record with its episode, member and generation numbers shifted by `shift` (+1 reads a version-1
 * log, −1 writes one); a copy, or the record itself when `shift` is 0. Covers every record kind of the
 * run log: steps and episodes (`episode`, an episode's `lineage[].from`), lineage (`generation`,
 * `member`, `from`) and the summary (`best`, `first`, `last`).
 */
export function shiftNumbering<T>(record: T, shift: number): T {
  if (shift === 0) return record;
  const r = { ...(record as Record<string, unknown>) };
  const bump = (v: unknown) => (typeof v === 'number' ? v + shift : v);
  for (const key of ['episode', 'generation', 'member', 'from']) if (key in r) r[key] = bump(r[key]);
  if (Array.isArray(r['lineage']))
    r['lineage'] = (r['lineage'] as Record<string, unknown>[]).map((l) => ({ ...l, from: bump(l['from']) }));
  for (const key of ['best', 'first', 'last']) {
    const brief = r[key] as Record<string, unknown> | undefined;
    if (brief !== null && typeof brief === 'object') r[key] = { ...brief, episode: bump(brief['episode']) };
  }
  return r as T;
}

export interface RunConfig {
  /** The log format (LOG_VERSION when written); absent in folders written before version 2. */
  logVersion?: number;
  /** Every option and its resolved value (agent, episodes, epochs, dataset, sizes, model, …). */
  options: Record<string, unknown>;
  seed: number;
  /** The tfjs backend in use: tensorflow, wasm or cpu. */
  backend: string;
  /** Versions of droptune and of the packages that shape results. */
  versions: Record<string, string>;
  /** Names of the observation entries, in order. */
  observationNames: string[];
  /** Names of the dropout layers, input to output. */
  layerNames: string[];
  /** Wall-clock start, milliseconds since the Unix epoch. */
  startedAtMs: number;
}

export interface StepRecord {
  episode: number;
  /** Epochs trained so far in the episode (1 for the first step). */
  epoch: number;
  /** One rate per dropout layer, after the action (the rates this epoch trained with). */
  rates: number[];
  action: number[];
  reward: number;
  trainLoss: number;
  trainLossStd: number;
  trainAcc: number;
  valLoss: number;
  valAcc: number;
  /** Test split after this epoch, dropout off: only with testEachEpoch (or --select best-epoch). */
  testAcc?: number;
  testLoss?: number;
  terminated: boolean;
  truncated: boolean;
  /** The observation after the step. */
  observation: number[];
  stepMs: number;
}

export interface EpisodeRecord {
  episode: number;
  /** The env seed the episode was reset with: `--replay` trains it again under the same one. */
  seed?: number;
  /** Sum of the episode's rewards. */
  return: number;
  /** Epochs trained in the episode. */
  epochs: number;
  /** Validation accuracy before any training, and at the end (dropout off). */
  initialValAcc: number;
  valAcc: number;
  valLoss: number;
  /** Test split at the end of the episode, dropout off: never shown to the agent. */
  testAcc: number;
  testLoss: number;
  diverged: boolean;
  /** Per epoch, the per-layer rates used: schedule[epoch - 1][layer]. */
  schedule: number[][];
  /**
   * The episode under the run's selection protocol (src/core/select.ts), when it is not final: its score,
   * the test accuracy of the weights it keeps and their epoch. Absent: final (score valAcc, testAcc).
   */
  selected?: EpisodeScore & { select: SelectName };
  /** best-epoch's reading whenever the test split was measured every epoch (the report's side-by-side). */
  bestEpoch?: EpisodeScore;
  /** PBT: each time the member copied another's weights and rates, after which epoch and from whom. */
  lineage?: { epoch: number; from: number }[];
  episodeMs: number;
}

/** lineage.jsonl (PBT runs): one line per exploit, in the order they happened. */
export interface LineageRecord {
  /** The generation that starts from the copy. */
  generation: number;
  /** Epochs trained when the copy was made. */
  epoch: number;
  /** The bottom member that copies, and the top member it copies. */
  member: number;
  from: number;
  /** Their validation accuracies at the ranking. */
  valAcc: number;
  fromValAcc: number;
  /** The member's rates before, and the rates it goes on with (the source's, explored). */
  ratesBefore: number[];
  rates: number[];
  /** Per layer: drawn afresh (true) or perturbed ×0.8/×1.2 (false). */
  resampled: boolean[];
}

/** An episode in a summary: its final accuracies and, under a protocol other than final, its selection. */
export interface EpisodeBrief {
  episode: number;
  valAcc: number;
  testAcc: number;
  selected?: EpisodeRecord['selected'];
}

export interface RunSummary {
  agent: string;
  episodes: number;
  /** Epochs trained over the whole run: the compute spent. */
  totalEpochs: number;
  /** The episode with the highest score under the run's selection protocol (ties: the earliest). */
  best: EpisodeBrief & { schedule: number[][] };
  first: EpisodeBrief;
  last: EpisodeBrief;
  /** True when the run stopped early (Ctrl-C); then `episodes` counts only the finished ones. */
  interrupted: boolean;
  wallMs: number;
}

/** A per-epoch, per-layer schedule file, as `--agent schedule --schedule FILE` reads it. */
export interface ScheduleFile {
  /** rates[epoch - 1][layer]; the last row repeats if an episode runs longer. */
  rates: number[][];
  /** Where it came from (free text). */
  source?: string;
}

/** An episode's score under the protocol its run was logged with: `selected.score`, else (final) its valAcc. */
export const selectedScore = (e: Pick<EpisodeRecord, 'valAcc' | 'selected'>): number => e.selected?.score ?? e.valAcc;

/** The episode a run recommends: highest score under its selection protocol (final: valAcc), the earliest on ties. */
export function bestEpisode<T extends Pick<EpisodeRecord, 'valAcc' | 'selected'>>(
  episodes: readonly T[],
): T | undefined {
  return episodes.reduce<T | undefined>(
    (best, e) => (best === undefined || selectedScore(e) > selectedScore(best) ? e : best),
    undefined,
  );
}
