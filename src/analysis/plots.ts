/**
 * Plots of a comparison as vega-lite specs, rendered to SVG in Node by vega (no browser, no canvas).
 * Every plot colors by run with the same run → color mapping, so a run looks the same everywhere.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

import { bestEpisode } from '../core/run-log.js';
import type { RunData } from '../store/read-run.js';

export interface Plot {
  /** File name, e.g. `schedules.svg`. */
  file: string;
  title: string;
  spec: TopLevelSpec;
}

/** Renders a vega-lite spec to SVG markup. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** JSON has no NaN: a diverged loss goes to vega as null, which it leaves out of a line. */
const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

/**
 * What a legend shows for each name: the names without the leading `-`/`/`/`_`-separated parts they all
 * share (the date of `2026-11-23-thompson-s1` and `2026-11-23-ucb-s1`), so runs that differ only at the
 * end can still be told apart. A name left empty keeps its last shared part. Labels stay distinct
 * whenever the names are.
 */
export function legendLabels(names: readonly string[]): string[] {
  if (names.length < 2) return [...names];
  const parts = names.map((n) => n.split(/(?<=[-/_])/));
  let shared = 0;
  while (parts.every((p) => p.length > shared + 1 && p[shared] === parts[0]![shared])) shared += 1;
  return parts.map((p) => p.slice(shared).join(''));
}

/** A legend wide enough for the labels: vega cuts a label at 160 px by default. */
const LEGEND = { labelLimit: 480 };

function runColor(runs: readonly RunData[]) {
  const names = runs.map((r) => r.name);
  const labels = new Map(names.map((name, i) => [name, legendLabels(names)[i]!]));
  return {
    field: 'run',
    type: 'nominal' as const,
    title: 'run',
    scale: { domain: names, scheme: names.length > 10 ? 'tableau20' : 'category10' },
    // the data keep the full names (tooltips); the legend shows the distinguishing part
    legend: { ...LEGEND, labelExpr: `${JSON.stringify(Object.fromEntries(labels))}[datum.label] || datum.label` },
  };
}

const layerName = (run: RunData, layer: number): string => run.config.layerNames[layer] ?? `layer ${layer + 1}`;

/** (a) Each run's best schedule: per-layer rate vs epoch, one panel per run, dash per layer. */
export function schedulePlot(runs: readonly RunData[]): Plot {
  const values = runs.flatMap((run) => {
    const best = bestEpisode(run.episodes);
    if (best === undefined) return [];
    return best.schedule.flatMap((rates, e) =>
      rates.map((rate, layer) => ({
        run: run.name,
        layer: layerName(run, layer),
        epoch: e + 1,
        rate: finite(rate),
        episode: best.episode,
      })),
    );
  });
  return {
    file: 'schedules.svg',
    title: "Each run's best schedule: dropout rate per layer vs epoch",
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: "Best episode's dropout schedule per run",
      data: { values },
      facet: { field: 'run', type: 'nominal', title: null, sort: runs.map((r) => r.name) },
      columns: 4,
      spec: {
        width: 200,
        height: 140,
        encoding: {
          x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1, format: 'd' }, scale: { nice: false } },
          y: { field: 'rate', type: 'quantitative', title: 'dropout rate', scale: { zero: true } },
          color: runColor(runs),
        },
        // points in a layer of their own: a line with `point: true` gets a filled, stroke-less dash legend
        layer: [
          {
            mark: { type: 'line' },
            encoding: {
              strokeDash: {
                field: 'layer',
                type: 'nominal',
                title: 'layer',
                legend: { symbolType: 'stroke', symbolSize: 300 },
              },
            },
          },
          {
            mark: { type: 'point', filled: true },
            encoding: {
              tooltip: [
                { field: 'run' },
                { field: 'episode' },
                { field: 'layer' },
                { field: 'epoch' },
                { field: 'rate' },
              ],
            },
          },
        ],
      },
      background: 'white',
    },
  };
}

/** (b), (c) A validation metric vs epoch: the best episode bold, every episode faint. */
export function epochPlot(runs: readonly RunData[], metric: 'valAcc' | 'valLoss'): Plot {
  const values = runs.flatMap((run) => {
    const best = bestEpisode(run.episodes)?.episode;
    return run.steps.map((s) => ({
      run: run.name,
      episode: s.episode,
      epoch: s.epoch,
      value: finite(s[metric]),
      best: s.episode === best,
    }));
  });
  const name = metric === 'valAcc' ? 'validation accuracy' : 'validation loss';
  const x = {
    field: 'epoch',
    type: 'quantitative' as const,
    axis: { tickMinStep: 1, format: 'd' },
    scale: { nice: false },
  };
  const y = { field: 'value', type: 'quantitative' as const, title: name, scale: { zero: false } };
  return {
    file: metric === 'valAcc' ? 'val-acc.svg' : 'val-loss.svg',
    title: `${name[0]!.toUpperCase()}${name.slice(1)} vs epoch (bold: each run's best episode; faint: every episode)`,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: `${name} per epoch: best episode bold, all episodes faint`,
      width: 480,
      height: 280,
      data: { values },
      layer: [
        {
          mark: { type: 'line', opacity: 0.2, strokeWidth: 1 },
          encoding: { x, y, color: runColor(runs), detail: { field: 'episode', type: 'nominal' } },
        },
        {
          transform: [{ filter: 'datum.best' }],
          mark: { type: 'line', strokeWidth: 2.5, point: true },
          encoding: {
            x,
            y,
            color: runColor(runs),
            tooltip: [{ field: 'run' }, { field: 'episode' }, { field: 'epoch' }, { field: 'value', title: metric }],
          },
        },
      ],
      // the legend would take the faint layer's opacity
      config: { legend: { symbolOpacity: 1 } },
      background: 'white',
    },
  };
}

/** (d) The learning curve: episode return and final valAcc vs episode, one line per run. */
export function learningCurvePlot(runs: readonly RunData[]): Plot {
  const values = runs.flatMap((run) =>
    run.episodes.map((e) => ({
      run: run.name,
      episode: e.episode,
      return: finite(e.return),
      valAcc: finite(e.valAcc),
    })),
  );
  const panel = (field: 'return' | 'valAcc', title: string) => ({
    width: 480,
    height: 200,
    mark: { type: 'line' as const, point: true },
    encoding: {
      x: {
        field: 'episode',
        type: 'quantitative' as const,
        axis: { tickMinStep: 1, format: 'd' },
        scale: { nice: false },
      },
      y: { field, type: 'quantitative' as const, title, scale: { zero: false } },
      color: runColor(runs),
      tooltip: [{ field: 'run' }, { field: 'episode' }, { field }],
    },
  });
  return {
    file: 'learning-curve.svg',
    title: 'Learning curve: episode return and final validation accuracy vs episode',
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: 'Learning curve per run',
      data: { values },
      vconcat: [panel('return', 'episode return'), panel('valAcc', 'final validation accuracy')],
      background: 'white',
    },
  };
}

const isPopulation = (run: RunData): boolean => run.config.options['agent'] === 'pbt';

/**
 * (e) PBT runs: every member's schedule, the history it inherited included, one panel per run. A copy
 * shows as a member's line leaving its source's: the triangles mark the rates it explored to.
 */
export function populationPlot(runs: readonly RunData[]): Plot {
  const pbt = runs.filter(isPopulation);
  const schedules = pbt.flatMap((run) =>
    run.episodes.flatMap((m) =>
      m.schedule.flatMap((rates, e) =>
        rates.map((rate, layer) => ({
          run: run.name,
          member: `member ${m.episode}`,
          layer: layerName(run, layer),
          epoch: e + 1,
          rate: finite(rate),
          valAcc: m.valAcc,
        })),
      ),
    ),
  );
  const exploits = pbt.flatMap((run) =>
    run.lineage.flatMap((x) =>
      x.rates.map((rate, layer) => ({
        kind: 'exploit',
        run: run.name,
        member: `member ${x.member}`,
        layer: layerName(run, layer),
        epoch: x.epoch + 1,
        rate,
        copied: `member ${x.member} ← member ${x.from} after epoch ${x.epoch}`,
      })),
    ),
  );
  const x = {
    field: 'epoch',
    type: 'quantitative' as const,
    axis: { tickMinStep: 1, format: 'd' },
    scale: { nice: false },
  };
  const y = { field: 'rate', type: 'quantitative' as const, title: 'dropout rate', scale: { zero: true } };
  const color = { field: 'member', type: 'nominal' as const, title: 'member', sort: { field: 'member' } };
  return {
    file: 'population.svg',
    title: "PBT: every member's schedule (inherited history included); triangles: the rates a copy explored to",
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: "PBT members' schedules and lineage",
      data: { values: [...schedules, ...exploits] },
      facet: { field: 'run', type: 'nominal', title: null, sort: pbt.map((r) => r.name) },
      columns: 2,
      spec: {
        width: 320,
        height: 180,
        layer: [
          {
            transform: [{ filter: "datum.kind === 'schedule'" }],
            mark: { type: 'line', point: true, opacity: 0.8 },
            encoding: {
              x,
              y,
              color,
              strokeDash: { field: 'layer', type: 'nominal', title: 'layer' },
              tooltip: [
                { field: 'member' },
                { field: 'layer' },
                { field: 'epoch' },
                { field: 'rate' },
                { field: 'valAcc', title: 'final valAcc' },
              ],
            },
          },
          {
            transform: [{ filter: "datum.kind === 'exploit'" }],
            mark: { type: 'point', shape: 'triangle-up', size: 90, filled: true, stroke: 'black', strokeWidth: 0.5 },
            encoding: {
              x,
              y,
              color,
              tooltip: [{ field: 'copied' }, { field: 'layer' }, { field: 'rate', title: 'explored rate' }],
            },
          },
        ],
      },
      background: 'white',
    },
  };
}

/** Every plot of a comparison, in report order. Runs must each have a finished episode. */
export function comparisonPlots(runs: readonly RunData[]): Plot[] {
  const plots = [schedulePlot(runs), epochPlot(runs, 'valAcc'), epochPlot(runs, 'valLoss'), learningCurvePlot(runs)];
  return runs.some(isPopulation) ? [...plots, populationPlot(runs)] : plots;
}

/** The schedule each method recommended, one panel per method, one line per seed and layer. */
export function recommendedSchedulesPlot(
  picks: readonly { method: string; seed: number; schedule: number[][] }[],
  methods: readonly string[],
): TopLevelSpec {
  const values = picks.flatMap((p) =>
    p.schedule.flatMap((rates, e) =>
      rates.map((rate, layer) => ({
        method: p.method,
        seed: `seed ${p.seed}`,
        layer: `dropout_${layer + 1}`,
        epoch: e + 1,
        rate,
      })),
    ),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Recommended schedule per method (the episode picked by validation accuracy)',
    data: { values },
    facet: { field: 'method', type: 'nominal', title: null, sort: [...methods] },
    columns: 4,
    spec: {
      width: 170,
      height: 110,
      mark: { type: 'line', point: true, strokeWidth: 1.5 },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1, format: 'd' } },
        y: { field: 'rate', type: 'quantitative', title: 'dropout rate', scale: { domain: [0, 0.8] } },
        color: { field: 'seed', type: 'nominal' },
        strokeDash: { field: 'layer', type: 'nominal', legend: { symbolType: 'stroke' } },
      },
    },
  };
}

/** One grid run's final accuracies: what the sweep plot draws. */
export interface SweepPoint {
  rate: number;
  seed: number;
  valAcc: number;
  testAcc: number;
  /** Test accuracy of the best-validation epoch's weights (best-epoch protocol), when steps recorded it. */
  bestEpochTestAcc?: number;
}

/** The grid as a sweep: test and validation accuracy against the static rate, one faint point per seed, the mean bold. */
export function sweepPlot(points: readonly SweepPoint[], title: string): TopLevelSpec {
  const values = points.flatMap((p) => [
    { rate: p.rate, seed: `seed ${p.seed}`, split: 'test', acc: finite(p.testAcc) },
    { rate: p.rate, seed: `seed ${p.seed}`, split: 'validation', acc: finite(p.valAcc) },
    ...(p.bestEpochTestAcc !== undefined
      ? [{ rate: p.rate, seed: `seed ${p.seed}`, split: 'test (best epoch)', acc: finite(p.bestEpochTestAcc) }]
      : []),
  ]);
  const splits = [
    'test',
    'validation',
    ...(points.some((p) => p.bestEpochTestAcc !== undefined) ? ['test (best epoch)'] : []),
  ];
  const x = {
    field: 'rate',
    type: 'quantitative' as const,
    title: 'dropout rate (every layer)',
    scale: { nice: false },
  };
  const color = { field: 'split', type: 'nominal' as const, title: null, scale: { domain: splits } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 420,
    height: 240,
    data: { values },
    layer: [
      {
        mark: { type: 'point', opacity: 0.35, size: 30 },
        encoding: {
          x,
          y: { field: 'acc', type: 'quantitative', title: 'final accuracy', scale: { zero: false } },
          color,
          tooltip: [{ field: 'seed' }, { field: 'split' }, { field: 'rate' }, { field: 'acc' }],
        },
      },
      { mark: { type: 'errorbar', extent: 'ci' }, encoding: { x, y: { field: 'acc', type: 'quantitative' }, color } },
      {
        mark: { type: 'line', point: true, strokeWidth: 2.5 },
        encoding: { x, y: { aggregate: 'mean', field: 'acc', type: 'quantitative' }, color },
      },
    ],
    background: 'white',
  };
}

/** One epoch of a static-rate run: what the sweep against epochs plots. */
export interface EpochPoint {
  rate: number;
  seed: number;
  epoch: number;
  testAcc: number;
}

/** Test accuracy against the epoch, one line per static rate (mean over seeds): where each rate peaks and decays. */
export function sweepEpochPlot(points: readonly EpochPoint[], title: string): TopLevelSpec {
  const values = points.map((p) => ({ rate: String(p.rate), epoch: p.epoch, acc: finite(p.testAcc) }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 420,
    height: 240,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch' },
      y: {
        aggregate: 'mean',
        field: 'acc',
        type: 'quantitative',
        title: 'test accuracy (mean over seeds)',
        scale: { zero: false },
      },
      color: { field: 'rate', type: 'nominal', title: 'rate' },
    },
    background: 'white',
  };
}

/** One point of the rates plot: a layer's rate at a step of the run (steps counted over every episode). */
export interface RatePoint {
  run: string;
  layer: string;
  step: number;
  episode: number;
  epoch: number;
  rate: number | null;
}

/** Every step's rate of every layer: what `ratesPlot` draws unless it is given a series cut down. */
export function ratePoints(run: RunData): RatePoint[] {
  return run.steps.flatMap((s, i) =>
    s.rates.map((rate, layer) => ({
      run: run.name,
      layer: layerName(run, layer),
      step: i + 1,
      episode: s.episode,
      epoch: s.epoch,
      rate: finite(rate),
    })),
  );
}

/**
 * Every step's rates, one line per dropout layer, against the epoch counted over the whole run (episode
 * after episode): what an agent tried, as it tried it.
 */
export function ratesPlot(runs: readonly RunData[], values: readonly RatePoint[] = runs.flatMap(ratePoints)): Plot {
  return {
    file: 'rates.svg',
    title: 'Dropout rate of every layer per epoch, over the whole run',
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: 'Dropout rates per epoch (episode after episode)',
      width: 480,
      height: 200,
      data: { values: [...values] },
      mark: { type: 'line', point: true },
      encoding: {
        x: {
          field: 'step',
          type: 'quantitative',
          title: 'epoch of the run',
          axis: { tickMinStep: 1, format: 'd' },
          scale: { nice: false },
        },
        y: { field: 'rate', type: 'quantitative', title: 'dropout rate', scale: { zero: true } },
        color: { field: 'layer', type: 'nominal', title: 'layer' },
        ...(runs.length > 1 ? { strokeDash: { field: 'run', type: 'nominal' as const } } : {}),
        tooltip: [{ field: 'run' }, { field: 'episode' }, { field: 'epoch' }, { field: 'layer' }, { field: 'rate' }],
      },
      background: 'white',
    },
  };
}

/**
 * One run's training curves, train against validation per epoch (loss and accuracy side by side):
 * where overfitting shows. The best episode's, or the episode in progress before any has finished.
 */
export function trainingCurvePlot(run: RunData): Plot {
  const episode = bestEpisode(run.episodes)?.episode ?? run.steps.at(-1)?.episode;
  const values = run.steps
    .filter((s) => s.episode === episode)
    .flatMap((s) => [
      { epoch: s.epoch, metric: 'loss', split: 'train', value: finite(s.trainLoss) },
      { epoch: s.epoch, metric: 'loss', split: 'validation', value: finite(s.valLoss) },
      { epoch: s.epoch, metric: 'accuracy', split: 'train', value: finite(s.trainAcc) },
      { epoch: s.epoch, metric: 'accuracy', split: 'validation', value: finite(s.valAcc) },
    ]);
  return {
    file: 'training-curves.svg',
    title: `Training curves of episode ${episode ?? '–'}: train vs validation (train with dropout on, validation off)`,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: `episode ${episode ?? '–'}: train vs validation`,
      data: { values },
      facet: { column: { field: 'metric', type: 'nominal', title: null, sort: ['loss', 'accuracy'] } },
      resolve: { scale: { y: 'independent' } },
      spec: {
        width: 260,
        height: 180,
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1, format: 'd' }, scale: { nice: false } },
          y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
          color: { field: 'split', type: 'nominal', title: null, sort: ['train', 'validation'] },
        },
      },
    },
  };
}
