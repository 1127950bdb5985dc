/**
 * A run log held in memory, for the browser (no run folder there): the same records a RunWriter writes
 * to config.json, steps.jsonl, episodes.jsonl, agent.json and summary.json, kept as objects, handed to a
 * callback as they are made, and given whole as JSON (a Blob to download).
 */
import { LOG_VERSION, type EpisodeRecord, type RunConfig, type RunSummary, type StepRecord } from '../core/run-log.js';

/** What a run's records are written to: a run folder (RunWriter) or memory (MemoryRunLog). */
export interface RunLogSink {
  step(record: StepRecord): void;
  episode(record: EpisodeRecord): void;
  agentState(state: unknown): void;
  summary(summary: RunSummary): void;
}

/** One record as it is made, by the run folder's file it would go to. */
export type RunLogEntry =
  | { file: 'config'; record: RunConfig }
  | { file: 'steps'; record: StepRecord }
  | { file: 'episodes'; record: EpisodeRecord }
  | { file: 'agent'; record: unknown }
  | { file: 'summary'; record: RunSummary };

/** The files of a run folder, by the keys of RUN_FILES (src/store/layout.ts). */
export type RunLogFile = RunLogEntry['file'];

/** A whole run log, one key per file of a run folder (RUN_FILES of src/store/layout.ts). */
export interface RunLogContents {
  config: RunConfig;
  steps: StepRecord[];
  episodes: EpisodeRecord[];
  /** The agent's state after the last finished episode; null before. */
  agent: unknown;
  /** null until an episode has finished. */
  summary: RunSummary | null;
}

export class MemoryRunLog implements RunLogSink {
  readonly config: RunConfig;
  readonly steps: StepRecord[] = [];
  readonly episodes: EpisodeRecord[] = [];
  agent: unknown = null;
  summaryRecord: RunSummary | null = null;

  /** Starts the log with its config, as RunWriter.create writes config.json (with the log version). */
  constructor(
    config: RunConfig,
    private readonly onEntry?: (entry: RunLogEntry) => void,
  ) {
    this.config = { logVersion: LOG_VERSION, ...config };
    this.onEntry?.({ file: 'config', record: this.config });
  }

  step(record: StepRecord): void {
    this.steps.push(record);
    this.onEntry?.({ file: 'steps', record });
  }

  episode(record: EpisodeRecord): void {
    this.episodes.push(record);
    this.onEntry?.({ file: 'episodes', record });
  }

  agentState(state: unknown): void {
    this.agent = state;
    this.onEntry?.({ file: 'agent', record: state });
  }

  summary(summary: RunSummary): void {
    this.summaryRecord = summary;
    this.onEntry?.({ file: 'summary', record: summary });
  }

  /** The whole log so far (JSON.stringify gives the download's text). */
  toJSON(): RunLogContents {
    return {
      config: this.config,
      steps: [...this.steps],
      episodes: [...this.episodes],
      agent: this.agent,
      summary: this.summaryRecord,
    };
  }

  /** The whole log as a JSON Blob: `URL.createObjectURL(log.toBlob())` is a link to download it. */
  toBlob(): Blob {
    return new Blob([JSON.stringify(this.toJSON(), null, 2) + '\n'], { type: 'application/json' });
  }
}
