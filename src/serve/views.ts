/**
 * The JSON each page of the dashboard draws: tables as compare builds them, plots as the vega-lite specs
 * of src/analysis/plots.ts (the browser draws them with vega-embed; compare renders the same specs to SVG).
 */
import type { TopLevelSpec } from 'vega-lite';

import { ConfigError } from '../core/errors.js';
import { compareRuns, comparisonTables, groupLabels, type Table } from '../analysis/compare.js';
import {
  comparisonPlots,
  epochPlot,
  learningCurvePlot,
  populationPlot,
  ratesPlot,
  schedulePlot,
  trainingCurvePlot,
  type Plot,
} from '../analysis/plots.js';
import { HttpError, runRowView, type Catalog, type RunRowView } from './catalog.js';
import type { DownsampleNote } from './digest.js';

export interface PlotView {
  /** Stable name of the chart (its file name in a compare report, without .svg). */
  id: string;
  title: string;
  spec: TopLevelSpec;
  /** Set when the chart draws a series cut down: what it keeps of how many. */
  downsampled?: DownsampleNote;
}

export interface RunView {
  /** The run's folder name ('.' names the folder served itself). */
  name: string;
  row: RunRowView;
  warnings: string[];
  plots: PlotView[];
  /**
   * The series drawn with fewer points than the run has (at most MAX_POINTS each: the first and last,
   * the best episode, and each bucket's lowest and highest); empty when every point is drawn.
   */
  downsampled: DownsampleNote[];
  /** The episode the run recommends so far, with its per-epoch, per-layer rates. */
  best: { episode: number; valAcc: number; testAcc: number; layerNames: string[]; schedule: number[][] } | null;
}

const plotView =
  (notes: readonly DownsampleNote[] = []) =>
  (p: Plot): PlotView => {
    const id = p.file.replace(/\.svg$/, '');
    const note = notes.find((n) => n.plot === id);
    return {
      id,
      title: note ? `${p.title} (${noteText(note)})` : p.title,
      spec: p.spec,
      ...(note ? { downsampled: note } : {}),
    };
  };

/** "1000 of 825000 points drawn": what a cut-down chart says under its title. */
export const noteText = (n: DownsampleNote): string =>
  `${n.kept} of ${n.of} ${n.unit} drawn: first, last, best and each stretch's lowest and highest`;

export function runView(catalog: Catalog, id: string): RunView {
  const dir = catalog.resolveRunId(id);
  const digest = readOr422(() => catalog.digest(id));
  const { run } = digest;
  const row = runRowView(id, digest.facts, groupLabels([run.config])[0]!, null, dir);
  const runs = [run];
  const plots: Plot[] = [epochPlot(runs, 'valAcc'), epochPlot(runs, 'valLoss'), ratesPlot(runs, digest.rates)];
  if (run.steps.length > 0) plots.push(trainingCurvePlot(run));
  if (run.episodes.length > 0) plots.push(learningCurvePlot(runs), schedulePlot(runs));
  if (run.config.options['agent'] === 'pbt' && run.episodes.length > 0) plots.push(populationPlot(runs));
  const best = digest.facts.best;
  return {
    name: run.name,
    row,
    warnings: digest.facts.scan.warnings.map(relativeTo(catalog)),
    plots: plots.map(plotView(digest.notes)),
    downsampled: digest.notes,
    best: best
      ? {
          episode: best.episode,
          valAcc: best.valAcc,
          testAcc: best.testAcc,
          layerNames: run.config.layerNames,
          schedule: best.schedule,
        }
      : null,
  };
}

export interface CompareView {
  ids: string[];
  tables: Table[];
  warnings: string[];
  plots: PlotView[];
  /** Per run compared, the series its plots draw cut down (see RunView.downsampled). */
  downsampled: { id: string; notes: DownsampleNote[] }[];
}

export function compareView(catalog: Catalog, ids: readonly string[]): CompareView {
  if (ids.length === 0) throw new HttpError(400, 'pick at least one run to compare');
  for (const id of ids) catalog.resolveRunId(id);
  // the tables need every episode (not every step); the plots draw each run's digest
  const read = ids.map((id) => readOr422(() => catalog.readForTables(id)));
  const comparison = readOr422(() => compareRuns(read.map((r) => r.run)));
  const compared = new Set(comparison.runs.map((r) => r.dir));
  const digests = ids.map((id) => readOr422(() => catalog.digest(id)));
  return {
    ids: [...ids],
    tables: comparisonTables(comparison),
    warnings: [...digests.flatMap((d) => d.facts.scan.warnings), ...comparison.warnings].map(relativeTo(catalog)),
    plots: comparisonPlots(digests.map((d) => d.run).filter((r) => compared.has(r.dir))).map(plotView()),
    downsampled: digests.flatMap((d, i) => (d.notes.length > 0 ? [{ id: ids[i]!, notes: d.notes }] : [])),
  };
}

export interface ExperimentView {
  id: string;
  preset: string;
  table: Table;
  verdict: string;
  /** The detectable effect and the Holm-corrected verdicts, one line per method. */
  power: string;
  /** Final and best-epoch protocols side by side (picks that carry both). */
  protocols: Table | null;
  /** The recommended schedules, then accuracy against compute when experiment.json has it. */
  plots: PlotView[];
  runs: string[];
}

export async function experimentView(catalog: Catalog, id: string): Promise<ExperimentView> {
  const json = readOr422(() => catalog.readExperiment(id));
  // The experiment library loads the training stack: only when an experiment is opened.
  const { METHODS, experimentTable, powerText, protocolTable, verdictText } =
    await import('../experiment/experiment.js');
  const { computePlot } = await import('../experiment/compute.js');
  const { recommendedSchedulesPlot } = await import('../analysis/plots.js');
  const picked = new Set(json.picks.map((p) => p.method));
  const methods = [
    ...METHODS.map((m) => m.name).filter((m) => picked.has(m)),
    ...[...picked].filter((m) => !METHODS.some((x) => x.name === m)),
  ];
  const folds = typeof json.config.folds === 'number' ? json.config.folds : 1;
  return {
    id,
    preset: json.preset,
    table: experimentTable(json.picks, methods, folds, json.missing ?? []),
    verdict: verdictText(json.picks, methods),
    power: powerText(json.picks, methods),
    protocols: json.picks.some((p) => p.protocols !== undefined) ? protocolTable(json.picks, methods) : null,
    plots: [
      {
        id: 'recommended',
        title: 'Recommended schedule per method',
        spec: recommendedSchedulesPlot(json.picks, methods),
      },
      ...(json.compute && json.compute.length > 0
        ? [
            {
              id: 'compute',
              title: 'Accuracy against compute',
              spec: computePlot(json.compute, 'test accuracy against epochs spent'),
            },
          ]
        : []),
    ],
    runs: catalog.scan().runs.filter((r) => id === '.' || r.startsWith(`${id}/`)),
  };
}

/** A malformed run is the client's to see (422 with the reason), not a server error. */
function readOr422<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof ConfigError) throw new HttpError(422, err.message);
    throw err;
  }
}

/** Messages name files relative to the folder served, not by their absolute path. */
const relativeTo =
  (catalog: Catalog) =>
  (message: string): string =>
    message.split(catalog.root + '/').join('');
