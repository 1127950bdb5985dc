/**
 * A run as the dashboard draws it, read a record at a time: however long its logs, what is kept is
 * bounded by MAX_POINTS per series (src/analysis/downsample.ts), and each series cut down says so.
 * `runFacts` is the list's cheaper read: episodes.jsonl parsed (for the best episode), steps.jsonl only
 * counted.
 */
import {
  bestEpisode,
  logVersionOf,
  numberingShift,
  selectedScore,
  type EpisodeRecord,
  type StepRecord,
} from '../core/run-log.js';
import { Downsampler } from '../analysis/downsample.js';
import type { RatePoint } from '../analysis/plots.js';
import { forEachEpisode, scanRun, type RunData, type RunScan } from '../store/read-run.js';
import { RUN_FILES } from '../store/layout.js';
import path from 'node:path';

/** Points kept per series of a run's page (TensorBoard keeps 10,000 scalars per tag, its page draws 1,000). */
export const MAX_POINTS = 1000;

/** A series shown with fewer points than the run has. */
export interface DownsampleNote {
  /** The plot's id (its file name in a compare report, without .svg). */
  plot: string;
  kept: number;
  of: number;
  /** What was counted: 'points' of a series, or 'episodes' (whole lines). */
  unit: 'points' | 'episodes';
}

/** What the run list shows of a run. */
export interface RunFacts {
  scan: RunScan;
  best: EpisodeRecord | undefined;
}

export interface RunDigest {
  /** The run with the episodes and steps drawn: a bounded subset, the best episode and its steps always in. */
  run: RunData;
  facts: RunFacts;
  /** The rate of each layer against the step of the run, each layer's series cut down on its own. */
  rates: RatePoint[];
  notes: DownsampleNote[];
}

/**
 * The best episode as `bestEpisode` picks it over episodes sorted by number, found while they stream by
 * in file order; an unsorted file (rare) is read again for the record.
 */
class BestTracker {
  private readonly scores: [episode: number, score: number][] = [];
  private streamed: EpisodeRecord | undefined;
  private sorted = true;
  private found: { record: EpisodeRecord | undefined } | undefined;

  constructor(private readonly file: string) {}

  push(e: EpisodeRecord): void {
    const previous = this.scores.at(-1);
    if (previous !== undefined && e.episode < previous[0]) this.sorted = false;
    this.scores.push([e.episode, selectedScore(e)]);
    if (this.streamed === undefined || selectedScore(e) > selectedScore(this.streamed)) this.streamed = e;
  }

  get count(): number {
    return this.scores.length;
  }

  best(): EpisodeRecord | undefined {
    if (this.found !== undefined) return this.found.record;
    if (this.sorted) {
      this.found = { record: this.streamed };
      return this.streamed;
    }
    const order = [...this.scores].sort((a, b) => a[0] - b[0]);
    const number = bestEpisode(order.map(([episode, score]) => ({ episode, valAcc: score })))?.episode;
    let record: EpisodeRecord | undefined;
    forEachEpisode(this.file, (e) => {
      if (e.episode === number) record ??= e;
    });
    this.found = { record };
    return record;
  }
}

/** The list's read of a run: every check readRun makes on episodes.jsonl, steps.jsonl only counted. */
export function runFacts(dir: string): RunFacts {
  const best = new BestTracker(path.join(dir, RUN_FILES.episodes));
  const scan = scanRun(dir, { onEpisode: (e) => best.push(e) });
  return { scan, best: best.best() };
}

const finiteOr = (x: number | undefined): number => (typeof x === 'number' ? x : NaN);
// the values whose extremes each series keeps (made once: a run has a million steps)
const STEP_KEYS = [
  (x: StepRecord) => x.valAcc,
  (x: StepRecord) => x.valLoss,
  (x: StepRecord) => finiteOr(x.trainAcc),
  (x: StepRecord) => finiteOr(x.trainLoss),
];
const RATE_KEYS = [(p: RatePoint) => p.rate ?? NaN];
const EPISODE_KEYS = [(e: EpisodeRecord) => e.return, (e: EpisodeRecord) => e.valAcc];
const LINE_KEYS = [(l: Line) => l.last.valAcc, (l: Line) => l.last.valLoss];
const DRAWN_KEYS = [(e: EpisodeRecord) => e.valAcc, (e: EpisodeRecord) => finiteOr(e.valLoss)];
const linePoints = (l: Line): number => l.points;
const isFiniteNumber = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);

/** An episode's steps as drawn, cut down to a quarter of the cap. */
interface Line {
  episode: number;
  /** Where its first step is in steps.jsonl: lines are drawn in that order. */
  firstStep: number;
  steps: Downsampler<StepRecord>;
  last: StepRecord;
  /** The points it keeps, counted once it is complete. */
  points: number;
}

/**
 * A step line as RunWriter writes it starts with its episode, epoch and rates: most lines are read for
 * those alone (the rates plot draws every step). Any other shape is parsed and checked in full.
 */
const HEAD_BYTES = 512;
const STEP_HEAD = /^\{\s*"episode"\s*:\s*(\d+)\s*,\s*"epoch"\s*:\s*(\d+)\s*,\s*"rates"\s*:\s*(\[[^\]]*\])/;

/**
 * The run as its page draws it, reading each log once, a record at a time. episodes.jsonl picks the
 * episodes whose lines the epoch plots draw (first, last, best, each bucket's extremes of final valAcc and
 * valLoss, at most `cap` points in all); steps.jsonl is then parsed in full only for those and for the
 * episodes not yet finished, and read for its rates elsewhere.
 */
export function digestRun(dir: string, cap = MAX_POINTS): RunDigest {
  const lineCap = Math.max(1, Math.floor(cap / 4));
  const best = new BestTracker(path.join(dir, RUN_FILES.episodes));
  const finished = new Set<number>();
  const curve = new Downsampler<EpisodeRecord>({ cap, keys: EPISODE_KEYS });
  // the best episode joins the drawn ones after the pass: room is left for it
  const drawn = new Downsampler<EpisodeRecord>({
    cap: Math.max(1, cap - lineCap),
    keys: DRAWN_KEYS,
    weight: (e) => Math.min(e.epochs, lineCap),
  });
  let drawnEpisodes: Set<number> | undefined;
  const lines = new Map<number, Line>();
  const unfinished = new Downsampler<Line>({ cap: Math.max(1, cap - lineCap), keys: LINE_KEYS, weight: linePoints });
  const rates: Downsampler<RatePoint>[] = [];
  let layerNames: string[] = [];
  let shift = 0;
  let step = 0;
  let current: Line | undefined;

  const addRates = (episode: number, epoch: number, values: readonly number[]) => {
    for (let layer = 0; layer < values.length; layer++) {
      const rate = values[layer]!;
      const series = (rates[layer] ??= new Downsampler<RatePoint>({ cap, keys: RATE_KEYS }));
      series.push({
        run: '',
        layer: layerNames[layer] ?? `layer ${layer + 1}`,
        step,
        episode,
        epoch,
        rate: Number.isFinite(rate) ? rate : null,
      });
    }
  };
  const newLine = (s: StepRecord): Line => ({
    episode: s.episode,
    firstStep: step,
    last: s,
    points: 0,
    steps: new Downsampler<StepRecord>({ cap: lineCap, keys: STEP_KEYS }),
  });
  const complete = (l: Line): Line => {
    l.points = l.steps.result().length;
    return l;
  };
  const addStep = (s: StepRecord) => {
    if (finished.has(s.episode)) {
      // an episode drawn: its steps may come in stretches (a population's members take turns)
      let line = lines.get(s.episode);
      if (line === undefined) lines.set(s.episode, (line = newLine(s)));
      line.steps.push(s);
      line.last = s;
      return;
    }
    // not finished yet: a line of its own for each stretch, cut down like the rest
    if (current === undefined || current.episode !== s.episode) {
      if (current !== undefined) unfinished.push(complete(current));
      current = newLine(s);
    }
    current.steps.push(s);
    current.last = s;
  };

  const scan = scanRun(dir, {
    onConfig: (config) => {
      layerNames = config.layerNames;
      shift = numberingShift(logVersionOf(config, path.join(dir, RUN_FILES.config)));
    },
    onEpisode: (e) => {
      best.push(e);
      finished.add(e.episode);
      curve.push(e);
      drawn.push(e);
    },
    onStepLine: (line, terminated, parse) => {
      if (drawnEpisodes === undefined) {
        drawnEpisodes = new Set(drawn.result().map((e) => e.episode));
        const b = best.best();
        if (b !== undefined) drawnEpisodes.add(b.episode);
      }
      // the head of a line is ASCII as RunWriter writes it; anything else fails the match and is parsed
      const head = terminated ? STEP_HEAD.exec(line.toString('latin1', 0, HEAD_BYTES)) : null;
      const episode = head === null ? undefined : Number(head[1]) + shift;
      if (head !== null && episode !== undefined && finished.has(episode) && !drawnEpisodes.has(episode)) {
        let values: unknown;
        try {
          values = JSON.parse(head[3]!);
        } catch {
          values = undefined;
        }
        if (Array.isArray(values) && values.every(isFiniteNumber)) {
          step += 1;
          addRates(episode, Number(head[2]), values as number[]);
          return true;
        }
      }
      const s = parse();
      if (s === undefined) return false;
      step += 1;
      addRates(s.episode, s.epoch, s.rates);
      if (!finished.has(s.episode) || drawnEpisodes.has(s.episode)) addStep(s);
      return true;
    },
  });
  if (current !== undefined) unfinished.push(complete(current));
  for (const l of lines.values()) complete(l);

  const bestRecord = best.best();
  const episodes = curve.result();
  if (bestRecord !== undefined && !episodes.some((e) => e.episode === bestRecord.episode)) episodes.push(bestRecord);
  episodes.sort((a, b) => a.episode - b.episode);
  const keptLines = [...lines.values(), ...unfinished.result()].sort((a, b) => a.firstStep - b.firstStep);
  const allLines = lines.size + unfinished.seen;
  const notes: DownsampleNote[] = [];
  const keptRates = rates.map((r) => r.result());
  if (rates.some((r) => r.downsampled))
    notes.push({ plot: 'rates', kept: Math.max(...keptRates.map((r) => r.length)), of: step, unit: 'points' });
  const linesOf = new Set(keptLines.map((l) => l.episode)).size;
  const episodesOf = best.count + new Set(unfinished.result().map((l) => l.episode)).size;
  if (keptLines.length < allLines || lines.size < best.count)
    for (const plot of ['val-acc', 'val-loss'])
      notes.push({ plot, kept: linesOf, of: Math.max(episodesOf, linesOf), unit: 'episodes' });
  const shown = bestRecord?.episode ?? keptLines.at(-1)?.episode;
  const bestLine = [...keptLines].reverse().find((l) => l.episode === shown);
  if (bestLine?.steps.downsampled === true)
    notes.push({ plot: 'training-curves', kept: bestLine.points, of: bestLine.steps.seen, unit: 'points' });
  if (curve.downsampled)
    notes.push({ plot: 'learning-curve', kept: episodes.length, of: best.count, unit: 'episodes' });

  const run: RunData = {
    dir,
    name: path.basename(path.resolve(dir)),
    config: scan.config,
    steps: keptLines.flatMap((l) => l.steps.result()),
    episodes,
    summary: scan.summary,
    lineage: scan.lineage,
  };
  return { run, facts: { scan, best: bestRecord }, rates: keptRates.flat().sort((a, b) => a.step - b.step), notes };
}
