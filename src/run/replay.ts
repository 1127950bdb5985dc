/**
 * Replay: a run's episode trained again under its seed (`npm run agent -- --replay RUN[#EPISODE]`),
 * by the schedule agent with the episode's rates (or, for concrete dropout, by its own constant agent).
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import { bestEpisode, type EpisodeRecord } from '../core/run-log.js';
import { episodeSeed } from '../loop/loop.js';
import { RUN_FILES } from '../store/layout.js';
import { readEpisodes } from '../store/read-run.js';
import { readRunJson } from './resume.js';
import { agentOptionSpecs, runOptionsFromConfig, type ResolvedRun, type TrialMethod } from './run.js';

/** How to train a recorded episode again: the options of the run that does it, and its env seed. */
export interface ReplayPlan {
  options: Record<string, unknown>;
  envSeed: number;
  recorded: EpisodeRecord;
  /** `RUN#EPISODE`. */
  from: string;
}

/**
 * `--replay RUN[#EPISODE]` split into the run folder and the episode (undefined: the run's best). The
 * episode after the last `#` must be a whole number from 1; a folder whose own name holds `#` is taken whole.
 */
export function parseReplaySpec(spec: string, isFolder: (dir: string) => boolean): { dir: string; episode?: number } {
  const hash = spec.lastIndexOf('#');
  if (hash === -1 || isFolder(spec)) return { dir: spec };
  const dir = spec.slice(0, hash);
  const text = spec.slice(hash + 1);
  if (!/^\d+$/.test(text) || Number(text) < 1)
    throw new ConfigError(
      `--replay ${spec}: the episode after # must be a whole number from 1, got '${text}' (RUN#EPISODE, or RUN alone for its best)`,
    );
  return { dir, episode: Number(text) };
}

/** The run folder and episode of a `--replay RUN[#EPISODE]`, and how to train that episode again. */
export function planReplay(
  spec: string,
  given: Record<string, unknown>,
  schedulers: readonly TrialMethod[] = [],
): ReplayPlan {
  const { dir, episode } = parseReplaySpec(spec, (d) => existsSync(d) && statSync(d).isDirectory());
  const config = readRunJson<{ options: Record<string, unknown>; seed: number }>(
    path.join(dir, RUN_FILES.config),
    `--replay ${dir}: not a run folder`,
  );
  const episodesFile = path.join(dir, RUN_FILES.episodes);
  const episodes = existsSync(episodesFile) ? readEpisodes(episodesFile).value : [];
  const wanted = episode ?? bestEpisode(episodes)?.episode;
  const recorded = episodes.find((e) => e.episode === wanted);
  if (wanted === undefined || recorded === undefined) {
    throw new ConfigError(
      `--replay ${spec}: ${wanted === undefined ? 'the run has no finished episode' : `no finished episode ${wanted} (it has ${episodes.map((e) => e.episode).join(', ') || 'none'})`}`,
    );
  }
  if (config.options['fold'] !== undefined)
    throw new ConfigError(
      `--replay ${spec}: a cross-validation fold trains on a fold of the data; replay the experiment's own runs instead`,
    );
  const {
    agent: _agent,
    episodes: _n,
    action: _action,
    loadAgent: _load,
    label: _label,
    out: _out,
    ...task
  } = runOptionsFromConfig(config.options);
  // Only the task is kept; the agent's own options do not apply to the schedule agent that replays.
  const agentKeys = new Set(agentOptionSpecs(schedulers).map((o) => o.key));
  const options = Object.fromEntries(Object.entries(task).filter(([key]) => !agentKeys.has(key)));
  // A concrete-dropout run learned its rates by gradient, which a schedule cannot replay: its own agent under its seed does.
  const replayer =
    task['concreteDropout'] === true
      ? { agent: 'constant', rate: config.options['rate'] }
      : { agent: 'schedule', schedule: `${path.join(dir, RUN_FILES.episodes)}#${recorded.episode}` };
  return {
    options: {
      ...options,
      ...given,
      ...replayer,
      episodes: 1,
      label: given['label'] ?? `replay ${path.basename(dir)}#${recorded.episode}`,
    },
    envSeed: recorded.seed ?? episodeSeed(config.seed, recorded.episode),
    recorded,
    from: `${dir}#${recorded.episode}`,
  };
}

/**
 * The env seed of each episode of a replaying run (its first episode is the one replayed), or undefined
 * for a run that replays nothing. A resumed replay finds its seed in the options config.json recorded.
 */
export function replayEnvSeed(run: ResolvedRun): ((episode: number) => number) | undefined {
  const seed = (run.options['replay'] as { envSeed?: number } | undefined)?.envSeed;
  return seed === undefined ? undefined : (k: number) => (k === 1 ? seed : episodeSeed(run.seed, k));
}
