/**
 * Accuracy against compute: for the epochs a user can spend, which method gives the best model?
 *
 * Two kinds of point, both computed from the experiment's own runs, each charged exactly the epochs
 * its runs trained:
 *   the grid at k of its G rates  from the grid's runs: on each seed, every k-subset of the rates picks
 *                                 its best run by the experiment's selection score, and the seed's value
 *                                 is the mean test accuracy of those picks over all C(G, k) subsets
 *                                 (the expected result of a grid over k rates chosen at random);
 *                                 charged k × E epochs. At k = G it is the grid's own pick.
 *   a method                      its pick per seed, at the epochs it used (mean over seeds): the one-run
 *                                 methods at 1/G of the grid's epochs, pbt-half and sha-half at about
 *                                 half, the others at the grid's.
 * The value plotted is the mean over seeds with its 95% interval; the epochs are per seed.
 */
import type { TopLevelSpec } from 'vega-lite';
import { formatEstimate, type Table } from '../analysis/compare.js';
import { estimate, type Estimate } from '../analysis/stats.js';

/** One grid run, scored as the experiment's selection protocol scores it. */
export interface GridRunScore {
  rate: number;
  seed: number;
  /** The selection score that picks among runs (validation accuracy under the protocol). */
  score: number;
  /** The test accuracy of what the protocol keeps of this run. */
  testAcc: number;
  epochs: number;
}

/** A method's result on one seed, as the experiment's picks give it. */
export interface SeedResult {
  method: string;
  seed: number;
  testAcc: number;
  epochs: number;
}

export interface ComputePoint {
  /** 'grid' for the grid at k rates, else the method's name. */
  series: string;
  /** What the point is: "grid, 2 of 4 rates", or the method's name. */
  label: string;
  /** Rates in the subset (grid points only). */
  rates?: number;
  /** Epochs per seed (mean over seeds for a method). */
  epochs: number;
  /** Test accuracy over seeds. */
  testAcc: Estimate;
}

/** Every k-element subset of 0..n−1, as index lists in lexicographic order. */
export function subsets(n: number, k: number): number[][] {
  const out: number[][] = [];
  const pick = (start: number, chosen: number[]) => {
    if (chosen.length === k) {
      out.push([...chosen]);
      return;
    }
    for (let i = start; i <= n - (k - chosen.length); i++) pick(i + 1, [...chosen, i]);
  };
  pick(0, []);
  return out;
}

/**
 * The grid at k = 1..G of its rates, from its runs. A seed counts only where every rate has a run; the
 * pick within a subset is its highest score, the earliest rate of the grid on a tie (as the grid's own
 * pick breaks ties), so k = G reproduces the grid's pick exactly.
 */
export function gridSubsetPoints(runs: readonly GridRunScore[], grid: readonly number[]): ComputePoint[] {
  const seeds = [...new Set(runs.map((r) => r.seed))]
    .sort((a, b) => a - b)
    .flatMap((seed) => {
      const byRate = grid.map((rate) => runs.find((r) => r.seed === seed && r.rate === rate));
      return byRate.every((r) => r !== undefined) ? [byRate as GridRunScore[]] : [];
    });
  if (seeds.length === 0) return [];
  return grid.map((_, i) => {
    const k = i + 1;
    const chosen = subsets(grid.length, k);
    const perSeed = seeds.map((runsOfSeed) => {
      let sum = 0;
      for (const subset of chosen) {
        let best = runsOfSeed[subset[0]!]!;
        for (const j of subset) if (runsOfSeed[j]!.score > best.score) best = runsOfSeed[j]!;
        sum += best.testAcc;
      }
      return sum / chosen.length;
    });
    const epochs =
      seeds.reduce(
        (s, runsOfSeed) =>
          s +
          chosen.reduce((t, subset) => t + subset.reduce((u, j) => u + runsOfSeed[j]!.epochs, 0), 0) / chosen.length,
        0,
      ) / seeds.length;
    return {
      series: 'grid',
      label: `grid, ${k} of ${grid.length} rates`,
      rates: k,
      epochs,
      testAcc: estimate(perSeed),
    };
  });
}

/** Each method (grid excluded: its subsets stand for it) at the epochs it used, over the seeds it finished. */
export function methodPoints(results: readonly SeedResult[], methods: readonly string[]): ComputePoint[] {
  return methods.flatMap((method) => {
    const mine = results.filter((r) => r.method === method);
    if (method === 'grid' || mine.length === 0) return [];
    return [
      {
        series: method,
        label: method,
        epochs: mine.reduce((s, r) => s + r.epochs, 0) / mine.length,
        testAcc: estimate(mine.map((r) => r.testAcc)),
      },
    ];
  });
}

/** The figure: the grid at k rates as a line with intervals, every method as a labelled point with its interval. */
export function computePlot(points: readonly ComputePoint[], title: string): TopLevelSpec {
  const values = points.map((p) => ({
    series: p.series === 'grid' ? 'grid at k rates' : 'method',
    label: p.series === 'grid' ? `grid k=${p.rates}` : p.label,
    epochs: p.epochs,
    acc: p.testAcc.mean,
    lo: p.testAcc.half === undefined ? p.testAcc.mean : p.testAcc.mean - p.testAcc.half,
    hi: p.testAcc.half === undefined ? p.testAcc.mean : p.testAcc.mean + p.testAcc.half,
  }));
  const x = {
    field: 'epochs',
    type: 'quantitative' as const,
    title: 'epochs per seed',
    scale: { zero: false, nice: false, padding: 24 },
  };
  const y = {
    field: 'acc',
    type: 'quantitative' as const,
    title: 'test accuracy (mean over seeds)',
    scale: { zero: false },
  };
  const color = {
    field: 'series',
    type: 'nominal' as const,
    title: null,
    scale: { domain: ['grid at k rates', 'method'] },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 520,
    height: 300,
    data: { values },
    layer: [
      {
        mark: { type: 'rule', opacity: 0.5 },
        encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color },
      },
      {
        transform: [{ filter: "datum.series === 'grid at k rates'" }],
        mark: { type: 'line', point: true, strokeWidth: 2.5 },
        encoding: { x, y, color },
      },
      {
        transform: [{ filter: "datum.series === 'method'" }],
        mark: { type: 'point', filled: true, size: 40 },
        encoding: { x, y, color, tooltip: [{ field: 'label' }, { field: 'epochs' }, { field: 'acc' }] },
      },
      {
        mark: { type: 'text', align: 'left', dx: 5, dy: -5, fontSize: 9 },
        encoding: { x, y, text: { field: 'label' }, color },
      },
    ],
    background: 'white',
  };
}

/** The figure's points as a table, cheapest first. */
export function computeTable(points: readonly ComputePoint[], gridEpochs: number): Table {
  const rows = [...points]
    .sort((a, b) => a.epochs - b.epochs || b.testAcc.mean - a.testAcc.mean)
    .map((p) => [
      p.label,
      p.epochs.toFixed(0),
      gridEpochs > 0 ? `${(p.epochs / gridEpochs).toFixed(2)}×` : '—',
      formatEstimate(p.testAcc, 4),
    ]);
  return {
    title: 'Accuracy against compute: test accuracy for the epochs spent (mean ± 95% CI over seeds)',
    note: "the grid at k rates: every k-subset of the grid's runs, each picking its best by the selection score, averaged over subsets; charged k × E epochs. Methods at the epochs they used; × is against the whole grid's epochs",
    headers: ['method or budget', 'epochs/seed', 'of the grid', 'testAcc'],
    align: ['l', 'r', 'r', 'r'],
    rows,
  };
}
