/**
 * Population based training over an executor (the rule itself, exploit and explore, is pbt.ts): the
 * `pbt` TrialScheduler (../scheduler.ts).
 *
 * Synchronous generations, so that a seed gives one result whatever the number of workers: in
 * generation g every member trains epochs g·I+1 … min((g+1)·I, E) as one segment (segment.ts) on the
 * executor; when all are back and the burn-in is over, the coordinator ranks them on a smoothed score,
 * and each bottom member copies a top member's checkpoint (with shuffle and mask streams of its own,
 * ../streams.ts) and explores its rates. Every decision is drawn here, from one seeded stream.
 *
 * Members start from the same env seed (episode 1 of the run seed, so the same initial weights and
 * shuffles as the grid's runs), each at distinct per-layer rates (pbt.ts startingRates), and the
 * population costs what the grid costs: P × E epochs. With --population-start grid, member m is
 * exactly the constant-rate run at its rate until its first copy.
 *
 * The run folder is an ordinary run log, members in place of episodes:
 *   steps.jsonl     every epoch of every member (episode = member, from 1), generation by generation
 *   lineage.jsonl   one line per exploit: who copied whom after which epoch, and the rates before/after
 *                   (members and generations numbered from 1, as in every log; indices from 0 inside)
 *   episodes.jsonl  per member: its full schedule (the history it inherited included) and its lineage
 *   summary.json    the best member; its schedule replays as a fixed one (--agent schedule --schedule)
 *   population/     the members' checkpoints and population.json, while the run is unfinished
 * A run stopped or killed at any moment continues with `resume` and ends with the same logs.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
  OPTIONS,
  checkConfig,
  exploitAndExplore,
  smoothedValAcc,
  startingRates,
  type Exploit,
  type PbtConfig,
} from './pbt.js';
import { withFreshStreams } from '../streams.js';
import { DropoutEnv } from '../../../envs/dropout-env.js';
import { ConfigError } from '../../core/errors.js';
import { createRng, restoreRng, type RngState } from '../../core/rng.js';
import type { EpisodeRecord, LineageRecord, RunSummary } from '../../core/run-log.js';
import type { SelectProtocol } from '../../core/select.js';
import type { StepInfo, Transition } from '../../core/types.js';
import { loadDataset, type Dataset } from '../../data/dataset.js';
import { episodeRecord, episodeSeed } from '../../loop/loop.js';
import { writeFileAtomic } from '../../store/checkpoint.js';
import { LINEAGE_FILE, POPULATION_DIR, POPULATION_STATE_FILE } from '../../store/layout.js';
import { acquireRunLock, cutLogsBack, removeTempFiles, warnOnStderr } from '../../store/run-folder.js';
import { RunWriter, stepRecord, summarize } from '../../store/run-writer.js';
import type { RunResult, ResolvedRun } from '../../run/run.js';
import { packageVersions } from '../../run/run.js';
import { readMemberCheckpoint, writeMemberCheckpoint, type SegmentJob, type SegmentResult } from '../../run/segment.js';
import type { TrialScheduler } from '../scheduler.js';

export { LINEAGE_FILE, POPULATION_DIR };

/** One member as the coordinator tracks it. */
interface MemberState {
  /** The rates of the generation in progress. */
  rates: number[];
  /** Its reset (generation 0 trains it): the initial validation accuracy. */
  reset?: { observation: number[]; info: StepInfo };
  /** Its effective history, epoch by epoch: what it inherited with a copy, then its own. */
  trajectory: Pick<Transition, 'reward' | 'info'>[];
  lineage: { epoch: number; from: number }[];
  /** This generation starts from a copy of that member's checkpoint (done before any segment trains). */
  copyFrom?: number;
}

/** population.json: the coordinator at the start of a generation. Written atomically. */
interface PopulationState {
  version: 1;
  generation: number;
  /** The coordinator's stream, as it stands at this generation's start. */
  rng: RngState;
  /** Lines of steps.jsonl and lineage.jsonl written before this generation. */
  stepsLines: number;
  lineageLines: number;
  epochsTrained: number;
  members: MemberState[];
}

/** What the coordinator reports after each generation (progress display). */
export interface GenerationEvent {
  generation: number;
  generations: number;
  /** The epoch every member has reached. */
  epoch: number;
  /** Per member, after the generation's training: validation accuracy and rates. */
  members: { valAcc: number; rates: number[] }[];
  /** The exploits decided for the next generation (none after the last). */
  exploits: Exploit[];
}

export interface PbtOptions {
  /** Runs a segment (in this thread, or on a worker pool). */
  runSegment: (job: SegmentJob) => Promise<SegmentResult>;
  backendInUse: string;
  dataset?: Dataset;
  /** Continue the run in `run.out` from its population checkpoint. */
  resume?: boolean;
  /** Checked between generations; the segments see it too (through runSegment) and end after their epoch. */
  stopRequested?: () => boolean;
  onGeneration?: (event: GenerationEvent) => void;
  warn?: (message: string) => void;
}

/** Epoch at which generation g ends. */
const generationEnd = (g: number, interval: number, epochs: number) => Math.min((g + 1) * interval, epochs);

/** Trains the population and writes the run folder; returns what it wrote. */
export async function runPbt(run: ResolvedRun, opts: PbtOptions): Promise<RunResult> {
  const warn = opts.warn ?? warnOnStderr;
  const config = run.agentOptions as unknown as PbtConfig;
  const { maxEpochs: epochs, minRate, maxRate } = run.envConfig;
  const generations = Math.ceil(epochs / config.interval);
  const dir = path.join(run.out, POPULATION_DIR);
  const envSeed = episodeSeed(run.seed, 1);
  // The env's names and layer count: a throwaway env on the same data.
  const probe = new DropoutEnv(opts.dataset ?? loadDataset(run.data), run.env);
  const observationNames = [...probe.observationNames];
  const layerNames = Array.from({ length: probe.numLayers }, (_, i) => `dropout_${i + 1}`);
  probe.dispose();

  if (!opts.resume) mkdirSync(run.out, { recursive: true });
  const release = acquireRunLock(run.out, warn);
  try {
    const writer = opts.resume
      ? RunWriter.open(run.out)
      : RunWriter.create(run.out, {
          options: run.options,
          seed: run.seed,
          backend: opts.backendInUse,
          versions: packageVersions(),
          observationNames,
          layerNames,
          startedAtMs: Date.now(),
        });
    const lineageFile = path.join(run.out, LINEAGE_FILE);
    let state: PopulationState | undefined = opts.resume ? resumeState(run, dir, writer, lineageFile, warn) : undefined;
    if (!state) {
      mkdirSync(dir, { recursive: true });
      state = {
        version: 1,
        generation: 0,
        rng: createRng(`pbt:${run.seed}`).state(),
        stepsLines: 0,
        lineageLines: 0,
        epochsTrained: 0,
        members: startingRates(
          config.populationRates,
          layerNames.length,
          config.populationStart,
          createRng(`pbt-start:${run.seed}`),
        ).map((rates) => ({ rates, trajectory: [], lineage: [] })),
      };
      writeState(dir, state);
    }
    const started = performance.now();

    for (; state.generation < generations;) {
      const g: number = state.generation;
      if (opts.stopRequested?.()) return interrupted(run, layerNames);
      // Exploit: copies first, all of them before any segment of this generation overwrites a source.
      state.members.forEach((m, member) => {
        if (m.copyFrom === undefined) return;
        const own = readMemberCheckpoint(dir, member);
        if (own?.generation === g || (own?.generation === g - 1 && own.copiedFrom?.generation === g)) return; // done before a restart
        const source = readMemberCheckpoint(dir, m.copyFrom);
        if (source?.generation !== g - 1)
          throw new Error(
            `pbt: member ${m.copyFrom + 1}'s checkpoint is not at generation ${g}: the population folder was changed`,
          );
        // Numbered as the logs number them: the copy starts generation g + 1, member + 1.
        writeMemberCheckpoint(dir, member, {
          ...source,
          env: withFreshStreams(source.env, `pbt:${run.seed}:${g + 1}:${member + 1}`),
          transitions: [],
          copiedFrom: { member: m.copyFrom, generation: g },
        });
      });
      const untilEpoch = generationEnd(g, config.interval, epochs);
      const results = await Promise.all(
        state.members.map((m, member) =>
          opts.runSegment({
            data: run.data,
            env: run.env,
            backend: run.backend,
            dir,
            member,
            generation: g,
            seed: envSeed,
            rates: m.rates,
            untilEpoch,
          }),
        ),
      );
      if (results.some((r) => r.interrupted)) return interrupted(run, layerNames);

      // Log the generation, members in order: the same lines whichever worker finished first.
      let stepsLines: number = state.stepsLines;
      let epochsTrained: number = state.epochsTrained;
      const members: MemberState[] = state.members.map((m, member) => {
        const result = results[member]!;
        for (const t of result.transitions)
          writer.step(stepRecord({ ...t, episode: member + 1 }, run.envConfig.testEachEpoch));
        stepsLines += result.transitions.length;
        epochsTrained += result.transitions.length;
        const trajectory = [...m.trajectory, ...result.transitions.map((t) => ({ reward: t.reward, info: t.info }))];
        return { ...m, copyFrom: undefined, reset: m.reset ?? result.reset, trajectory };
      });
      const rng = restoreRng(state.rng);
      const valAccs = members.map((m) => m.trajectory.at(-1)?.info.valAcc ?? m.reset?.info.valAcc ?? Number.NaN);
      const scores = members.map((m) =>
        smoothedValAcc(
          m.trajectory.map((t) => t.info.valAcc),
          config.scoreEpochs,
        ),
      );
      // No exploit after the last generation, nor before the burn-in (Ray's burn_in_period).
      const exploitNow = g + 1 < generations && untilEpoch >= config.burnIn;
      const exploits: Exploit[] = !exploitNow
        ? []
        : exploitAndExplore(
            members.map((m, i) => ({ valAcc: scores[i]!, rates: m.rates })),
            rng,
            { ...config, minRate, maxRate },
          );
      const next = members.map((m) => ({ ...m, rates: [...m.rates], lineage: [...m.lineage] }));
      for (const e of exploits) {
        const source = members[e.from]!;
        next[e.member] = {
          rates: e.rates,
          reset: next[e.member]!.reset,
          trajectory: [...source.trajectory],
          lineage: [...source.lineage, { epoch: untilEpoch, from: e.from }],
          copyFrom: e.from,
        };
        // Numbered from 1: the copy starts generation g + 2 (g is the index of the one just trained).
        const record: LineageRecord = {
          generation: g + 2,
          epoch: untilEpoch,
          member: e.member + 1,
          from: e.from + 1,
          valAcc: valAccs[e.member]!,
          fromValAcc: valAccs[e.from]!,
          ratesBefore: e.ratesBefore,
          rates: e.rates,
          resampled: e.resampled,
        };
        writer.lineage(lineageFile, record);
      }
      state = {
        version: 1,
        generation: g + 1,
        rng: rng.state(),
        stepsLines,
        lineageLines: state.lineageLines + exploits.length,
        epochsTrained,
        members: next,
      };
      writeState(dir, state);
      opts.onGeneration?.({
        generation: g,
        generations,
        epoch: untilEpoch,
        members: members.map((m, i) => ({ valAcc: valAccs[i]!, rates: m.rates })),
        exploits,
      });
    }

    const records = state.members.map((m, member) => memberRecord(member, m, envSeed, run.select));
    writer.allEpisodes(records);
    writer.agentState({
      agent: 'pbt',
      version: 1,
      members: records.map((r, i) => ({ member: r.episode, rates: state!.members[i]!.rates, lineage: r.lineage })),
    });
    const summary: RunSummary = summarize(run.agent, records, state.epochsTrained, false, performance.now() - started);
    writer.summary(summary);
    rmSync(dir, { recursive: true, force: true });
    return { out: run.out, layerNames, records, summary, interrupted: false };
  } finally {
    release();
  }
}

/** Member `member` (an index from 0)'s log record, numbered from 1: its whole effective schedule, as if it had been one episode, and its lineage. */
function memberRecord(member: number, m: MemberState, seed: number, select: SelectProtocol): EpisodeRecord {
  const episodeMs = m.trajectory.reduce((s, t) => s + (t.info.stepMs ?? 0), 0);
  return {
    ...episodeRecord(member + 1, m.reset!.info, m.trajectory, episodeMs, seed, select),
    lineage: m.lineage.map((l) => ({ ...l, from: l.from + 1 })),
  };
}

function interrupted(run: ResolvedRun, layerNames: string[]): RunResult {
  return { out: run.out, layerNames, records: [], summary: undefined, interrupted: true };
}

function writeState(dir: string, state: PopulationState): void {
  writeFileAtomic(path.join(dir, POPULATION_STATE_FILE), JSON.stringify(state) + '\n');
}

/** The state to continue from, with the logs cut back to it. */
function resumeState(
  run: ResolvedRun,
  dir: string,
  writer: RunWriter,
  lineageFile: string,
  warn: (message: string) => void,
): PopulationState | undefined {
  const file = path.join(dir, POPULATION_STATE_FILE);
  removeTempFiles(run.out);
  if (!existsSync(file)) {
    // Killed between config.json and the first population.json: nothing was trained yet.
    if (!existsSync(writer.file('steps')) && !existsSync(writer.file('summary'))) return undefined;
    throw new ConfigError(
      `--resume ${run.out}: no ${path.join(POPULATION_DIR, POPULATION_STATE_FILE)}: the population's checkpoint is gone`,
    );
  }
  removeTempFiles(dir);
  const state = JSON.parse(readFileSync(file, 'utf8')) as PopulationState;
  cutLogsBack(
    [
      [writer.file('steps'), state.stepsLines],
      [lineageFile, state.lineageLines],
    ],
    'generation',
    warn,
  );
  return state;
}

/** Per layer, joined: `0.30/0.50`. */
const showRates = (rates: readonly number[]) => rates.map((r) => r.toFixed(2)).join('/');

/** PBT as a scheduler over trials: `--agent pbt`. */
export const pbtScheduler: TrialScheduler<GenerationEvent> = {
  name: 'pbt',
  description: 'population based training: members copy the best and perturb their rates every --interval epochs',
  options: OPTIONS,
  checkConfig: (options, env) => ({ ...checkConfig(options as Partial<PbtConfig>, env) }),
  trialsNote: 'it trains --population members of --epochs epochs each',
  budgetEpochs: (config, epochs) => (config as unknown as PbtConfig).population * epochs,
  trials: (config) => (config as unknown as PbtConfig).population,
  concurrency: (config) =>
    Math.min((config as unknown as PbtConfig).workers, (config as unknown as PbtConfig).population),
  checkpointDir: POPULATION_DIR,
  files: [LINEAGE_FILE],
  run: (run, deps) => runPbt(run, { ...deps, onGeneration: deps.onProgress }),
  plan(run) {
    const config = run.agentOptions as unknown as PbtConfig;
    return [
      `run: ${run.out}  (pbt, ${config.population} members × ${run.envConfig.maxEpochs} epochs, exploit/explore every ${config.interval} from epoch ${config.burnIn}, ${run.data.dataset} ${run.envConfig.model}, seed ${run.seed})`,
      config.populationStart === 'grid'
        ? `members start at rates ${config.populationRates.join(', ')}`
        : `members start at distinct per-layer rates in [${Math.min(...config.populationRates)}, ${Math.max(...config.populationRates)}] (a Latin hypercube)`,
    ];
  },
  progressLine(e, run) {
    const ranked = e.members.map((m, i) => ({ ...m, i })).sort((a, b) => b.valAcc - a.valAcc);
    const best = ranked[0]!;
    // Members are numbered from 1 in print and in the logs; e.members and exploits index them from 0.
    const copies = e.exploits.map((x) => `${x.member + 1}←${x.from + 1} (${showRates(x.rates)})`).join(', ');
    return `epoch ${String(e.epoch).padStart(3)}/${run.envConfig.maxEpochs}  best member ${best.i + 1} valAcc ${best.valAcc.toFixed(4)} at ${showRates(best.rates)}, median ${ranked[Math.floor(ranked.length / 2)]!.valAcc.toFixed(4)}${copies ? `  exploit: ${copies}` : ''}`;
  },
};
