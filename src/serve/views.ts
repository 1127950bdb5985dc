/**
 * The JSON each page of the dashboard draws: tables as compare builds them, plots as the vega-lite specs
 * of src/analysis/plots.ts (the browser draws them with vega-embed; compare renders the same specs to SVG).
 */
import type { TopLevelSpec } from 'vega-lite';

import { ConfigError } from '../core/errors.js';
import { bestEpisode } from '../core/run-log.js';
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

export interface PlotView {
  /** Stable name of the chart (its file name in a compare report, without .svg). */
  id: string;
  title: string;
  spec: TopLevelSpec;
}

export interface RunView {
  /** The run's folder name ('.' names the folder served itself). */
  name: string;
  row: RunRowView;
  warnings: string[];
  plots: PlotView[];
  /** The episode the run recommends so far, with its per-epoch, per-layer rates. */
  best: { episode: number; valAcc: number; testAcc: number; layerNames: string[]; schedule: number[][] } | null;
}

const plotView = (p: Plot): PlotView => ({ id: p.file.replace(/\.svg$/, ''), title: p.title, spec: p.spec });

export function runView(catalog: Catalog, id: string): RunView {
  catalog.resolveRunId(id);
  const { run, warnings } = readOr422(() => catalog.readRun(id));
  const row = runRowView(id, run, groupLabels([run.config])[0]!, null, catalog.resolveRunId(id));
  const runs = [run];
  const plots: Plot[] = [epochPlot(runs, 'valAcc'), epochPlot(runs, 'valLoss'), ratesPlot(runs)];
  if (run.steps.length > 0) plots.push(trainingCurvePlot(run));
  if (run.episodes.length > 0) plots.push(learningCurvePlot(runs), schedulePlot(runs));
  if (run.config.options['agent'] === 'pbt' && run.episodes.length > 0) plots.push(populationPlot(runs));
  const best = bestEpisode(run.episodes);
  return {
    name: run.name,
    row,
    warnings: warnings.map(relativeTo(catalog)),
    plots: plots.map(plotView),
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
}

export function compareView(catalog: Catalog, ids: readonly string[]): CompareView {
  if (ids.length === 0) throw new HttpError(400, 'pick at least one run to compare');
  for (const id of ids) catalog.resolveRunId(id);
  const read = ids.map((id) => readOr422(() => catalog.readRun(id)));
  const runs = read.map((r) => r.run);
  const comparison = readOr422(() => compareRuns(runs));
  const compared = new Set(comparison.runs.map((r) => r.dir));
  return {
    ids: [...ids],
    tables: comparisonTables(comparison),
    warnings: [...read.flatMap((r) => r.warnings), ...comparison.warnings].map(relativeTo(catalog)),
    plots: comparisonPlots(runs.filter((r) => compared.has(r.dir))).map(plotView),
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
