/**
 * `npm run experiment -- --preset quick|standard`: the comparison the product exists for.
 *
 * Every method gets the same seeds and (about) the same epoch budget, G episodes of E epochs, where G is
 * the size of the static-rate grid:
 *   grid       constant rates, one run per grid rate (rate shared by all layers), dropout off to evaluate;
 *              with --folds K, each rate is scored by K-fold cross-validation over train ∪ validation
 *              (the GridSearchCV case) and the chosen rate is retrained once on the train split for test
 *   schedules  curriculum, annealed, early, late: one run per grid rate (0 excluded: it is the constant 0)
 *   rules      plateau (seed 000's validation-loss rule), random: G episodes
 *   learners   epsilon-greedy, ucb, thompson, linucb, reinforce: G episodes, learning across them
 * Each method recommends the episode with the best validation accuracy among all it trained; the figure
 * that matters is that episode's test accuracy (the test split is never seen while choosing), against
 * the grid's pick, paired by seed.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkInt, checkOneOf } from '../core/check.js';
import { ConfigError } from '../core/errors.js';
import { flagOf, type OptionSpec } from '../core/options.js';
import { bestEpisode } from '../core/run-log.js';
import { DATASETS, loadDataset, type Dataset } from '../data/dataset.js';
import { foldDataset } from '../data/folds.js';
import { BACKENDS, initBackend, requestedBackend } from '../nn/backend.js';
import { renderMarkdown, renderText, formatEstimate, type Table } from '../runs/compare.js';
import { readRuns } from '../runs/read-run.js';
import { RUN_FILES } from '../runs/run-writer.js';
import { compareRuns } from '../runs/compare.js';
import { recommendedSchedulesPlot, renderSvg } from '../runs/plots.js';
import { writeComparison } from '../runs/report.js';
import { estimate, pairedDifference } from '../runs/stats.js';
import { helpText, parseArgs } from './args.js';
import { executeRun, resolveRun, type RunResult } from '../tune/run.js';
import { runCli } from './run-cli.js';

interface Preset {
  dataset: (typeof DATASETS)[number];
  model: string;
  trainSize: number;
  valSize: number;
  testSize: number;
  epochs: number;
  grid: number[];
  seeds: number;
}

export const PRESETS: Record<'quick' | 'standard', Preset> = {
  quick: { dataset: 'mnist', model: 'mlp:256,128', trainSize: 1000, valSize: 500, testSize: 1000, epochs: 5, grid: [0.1, 0.3, 0.5], seeds: 2 },
  standard: { dataset: 'mnist', model: 'mlp:256,128', trainSize: 2000, valSize: 1000, testSize: 2000, epochs: 10, grid: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], seeds: 5 },
};

const OPTIONS: OptionSpec[] = [
  { key: 'preset', flag: '--preset', type: 'string', default: 'quick', help: 'size of the experiment', choices: ['quick', 'standard'] },
  { key: 'seeds', flag: '--seeds', type: 'int', default: undefined, help: 'seeds 0..N-1 (default: the preset\'s)' },
  { key: 'dataset', flag: '--dataset', type: 'string', default: undefined, help: "data (default: the preset's)", choices: DATASETS },
  { key: 'model', flag: '--model', type: 'string', default: undefined, help: "model spec (default: the preset's)" },
  { key: 'folds', flag: '--folds', type: 'int', default: 1, help: 'K-fold cross-validation for the grid (1: the fixed validation split)' },
  { key: 'carry', flag: '--carry', type: 'boolean', default: false, help: 'learners start each seed from the agent.json the previous seed ended with' },
  { key: 'methods', flag: '--methods', type: 'string', default: 'all', help: 'comma-separated subset of: ' },
  { key: 'out', flag: '--out', type: 'string', default: undefined, help: 'folder for the runs and the report (default: runs/experiment-<preset>-<date>)' },
  { key: 'backend', flag: flagOf('backend'), type: 'string', default: 'auto', help: 'tfjs backend', choices: BACKENDS },
  { key: 'dataDir', flag: flagOf('dataDir'), type: 'string', default: '/usr/share/datasets/fashion-mnist', help: 'folder of the fashion-mnist IDX files' },
];

/** A method: the runs it makes for one seed. Options are agent options by key. */
interface Method {
  name: string;
  kind: 'grid' | 'schedule' | 'rule' | 'learner';
  runs(p: Preset): { name: string; options: Record<string, unknown> }[];
}

const slug = (r: number) => `r${Math.round(r * 100).toString().padStart(2, '0')}`;
const overGrid = (p: Preset, skipZero: boolean, options: (rate: number) => Record<string, unknown>) =>
  p.grid.filter((r) => !(skipZero && r === 0)).map((rate) => ({ name: slug(rate), options: options(rate) }));
const episodesOf = (agent: string) => (p: Preset) => [{ name: agent, options: { agent, episodes: p.grid.length } }];

export const METHODS: Method[] = [
  { name: 'grid', kind: 'grid', runs: (p) => overGrid(p, false, (rate) => ({ agent: 'constant', rate, episodes: 1 })) },
  ...(['curriculum', 'annealed', 'early', 'late'] as const).map((schedule): Method => ({
    name: schedule,
    kind: 'schedule',
    runs: (p) => overGrid(p, true, (rate) => ({ agent: 'schedule', schedule, rate, episodes: 1, cutoff: Math.ceil(p.epochs / 2), annealEpochs: p.epochs })),
  })),
  { name: 'plateau', kind: 'rule', runs: episodesOf('plateau') },
  { name: 'random', kind: 'rule', runs: episodesOf('random') },
  ...['epsilon-greedy', 'ucb', 'thompson', 'linucb', 'reinforce'].map((agent): Method => ({ name: agent, kind: 'learner', runs: episodesOf(agent) })),
];
OPTIONS.find((o) => o.key === 'methods')!.help += METHODS.map((m) => m.name).join(', ');

/** What a method recommends for one seed: the best episode (by validation accuracy) over its runs. */
interface Pick {
  method: string;
  seed: number;
  valAcc: number;
  testAcc: number;
  epochs: number;
  schedule: number[][];
  from: string;
}

function pickBest(method: string, seed: number, results: RunResult[]): Pick {
  const episodes = results.flatMap((r) => r.records.map((e) => ({ ...e, from: `${r.out}#${e.episode}` })));
  const best = bestEpisode(episodes)!;
  return { method, seed, valAcc: best.valAcc, testAcc: best.testAcc, epochs: episodes.reduce((s, e) => s + e.epochs, 0), schedule: best.schedule, from: best.from };
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, OPTIONS);
  if (args.help) {
    console.log(helpText('usage: npm run experiment -- --preset quick|standard [options]\n\nLearned schedules vs the best static rate of a grid search, same seeds and budget.', [{ title: 'Options', specs: OPTIONS }]));
    return 0;
  }
  if (args.positional.length > 0) throw new ConfigError(`unexpected argument '${args.positional[0]}' (see --help)`);
  const get = (key: string) => args.values[key] ?? OPTIONS.find((o) => o.key === key)!.default;
  const presetName = checkOneOf('--preset', get('preset'), ['quick', 'standard'] as const);
  const preset: Preset = { ...PRESETS[presetName] };
  if (args.values['dataset'] !== undefined) preset.dataset = args.values['dataset'] as Preset['dataset'];
  if (args.values['model'] !== undefined) preset.model = args.values['model'] as string;
  const seeds = checkInt('--seeds', get('seeds') ?? preset.seeds, 1, 100);
  const folds = checkInt('--folds', get('folds'), 1, 20);
  const carry = get('carry') === true;
  const wanted = String(get('methods')) === 'all' ? METHODS.map((m) => m.name) : String(get('methods')).split(',');
  for (const name of wanted) checkOneOf('--methods', name, METHODS.map((m) => m.name));
  if (!wanted.includes('grid')) throw new ConfigError(`--methods must include grid: every method is compared with the grid's pick`);
  const methods = METHODS.filter((m) => wanted.includes(m.name));
  const out = (get('out') as string | undefined) ?? path.join('runs', `experiment-${presetName}-${new Date().toISOString().slice(0, 16).replace(/[:T]/g, '')}`);
  const backendChoice = requestedBackend(get('backend') as string);
  const common = { dataset: preset.dataset, model: preset.model, trainSize: preset.trainSize, valSize: preset.valSize, testSize: preset.testSize, epochs: preset.epochs, dataDir: get('dataDir'), backend: backendChoice };

  // Resolve every run first, so a bad option fails before hours of training.
  const plan = Array.from({ length: seeds }, (_, seed) =>
    methods.map((m) => ({ method: m, runs: m.runs(preset).map((r) => resolveRun({ ...common, ...r.options, seed, label: m.kind === 'grid' || m.kind === 'schedule' ? `${m.name} ${r.name}` : m.name, out: path.join(out, 'runs', `s${seed}`, `${m.name}-${r.name}`) })) })),
  );
  const backend = await initBackend(backendChoice);
  const totalEpochs = plan.flat().reduce((s, m) => s + m.runs.reduce((t, r) => t + r.episodes * preset.epochs, 0), 0);
  console.log(`experiment ${presetName}: ${seeds} seeds × ${methods.length} methods, ${preset.dataset} ${preset.model}, ${preset.trainSize} train / ${preset.valSize} val / ${preset.testSize} test, ${preset.epochs} epochs per episode, grid ${preset.grid.join(', ')}${folds > 1 ? `, grid scored by ${folds}-fold CV` : ''}${carry ? ', learners carried across seeds' : ''}`);
  console.log(`backend: ${backend}; ${totalEpochs} epochs in all${folds > 1 ? ` plus ${folds}-fold grid scoring` : ''}; writing ${out}`);

  const started = performance.now();
  const picks: Pick[] = [];
  for (let seed = 0; seed < seeds; seed++) {
    const dataset = loadDataset(plan[seed]![0]!.runs[0]!.data);
    for (const { method, runs } of plan[seed]!) {
      const t = performance.now();
      let pick: Pick;
      if (method.kind === 'grid' && folds > 1) {
        pick = await kFoldGrid(runs, dataset, folds, backend, seed);
      } else {
        const results: RunResult[] = [];
        for (const run of runs) {
          // --carry: a learner goes on from what it learned on the previous seed (another split, other weights).
          const previous = path.join(out, 'runs', `s${seed - 1}`, path.basename(run.out), RUN_FILES.agent);
          const carried = carry && method.kind === 'learner' && seed > 0
            ? { ...run, loadedState: JSON.parse(readFileSync(previous, 'utf8')) as unknown, options: { ...run.options, loadAgent: previous } }
            : run;
          results.push(await executeRun(carried, { backendInUse: backend, dataset }));
        }
        pick = pickBest(method.name, seed, results);
      }
      picks.push(pick);
      console.log(`seed ${seed}  ${method.name.padEnd(15)} valAcc ${pick.valAcc.toFixed(4)}  testAcc ${pick.testAcc.toFixed(4)}  epochs ${pick.epochs}  (${((performance.now() - t) / 1000).toFixed(0)} s)`);
    }
  }

  const table = experimentTable(picks, methods.map((m) => m.name), folds);
  console.log(`\n${renderText([table])}`);
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'experiment.json'), JSON.stringify({ preset: presetName, config: { ...preset, seeds, folds, carry }, backend, wallMs: performance.now() - started, picks }, null, 2) + '\n');
  writeFileSync(path.join(out, 'experiment.md'), `# droptune experiment: ${presetName}\n\n${renderMarkdown([table])}\n`);
  writeFileSync(path.join(out, 'schedules.svg'), await renderSvg(recommendedSchedulesPlot(picks, methods.map((m) => m.name))));

  // The compare report over every run (tables per run and per label, plots, report.html).
  const read = readRuns(Array.from({ length: seeds }, (_, seed) => path.join(out, 'runs', `s${seed}`)));
  const files = await writeComparison(path.join(out, 'compare'), compareRuns(read.value), read.value);
  console.log(`\nwrote ${path.join(out, 'experiment.md')}, ${path.join(out, 'experiment.json')}, ${files.length} compare files in ${path.join(out, 'compare')} (open report.html)`);
  console.log(`took ${((performance.now() - started) / 60000).toFixed(1)} min`);
  return 0;
}

/** GridSearchCV-style: each rate scored by mean validation accuracy over K folds, the winner retrained for test. */
async function kFoldGrid(runs: ReturnType<typeof resolveRun>[], dataset: Dataset, folds: number, backend: string, seed: number): Promise<Pick> {
  let best: { run: (typeof runs)[number]; score: number } | undefined;
  let epochs = 0;
  for (const run of runs) {
    const scores: number[] = [];
    for (let fold = 0; fold < folds; fold++) {
      const foldData = foldDataset(dataset, folds, fold);
      const foldRun = { ...run, out: `${run.out}-fold${fold}`, options: { ...run.options, out: `${run.out}-fold${fold}`, fold, folds, trainSize: foldData.train.n, valSize: foldData.val.n, label: 'grid-cv' } };
      const result = await executeRun(foldRun, { backendInUse: backend, dataset: foldData });
      scores.push(result.records[0]!.valAcc);
      epochs += result.records[0]!.epochs;
    }
    const score = scores.reduce((a, b) => a + b, 0) / folds;
    if (!best || score > best.score) best = { run, score };
  }
  const final = await executeRun(best!.run, { backendInUse: backend, dataset });
  const record = final.records[0]!;
  return { method: 'grid', seed, valAcc: best!.score, testAcc: record.testAcc, epochs: epochs + record.epochs, schedule: record.schedule, from: `${final.out} (rate ${String(best!.run.agentOptions['rate'])}, ${folds}-fold)` };
}

/** Per method across seeds: what it picked, on validation and on test, and test minus the grid's pick. */
function experimentTable(picks: Pick[], methods: string[], folds: number): Table {
  const bySeed = (method: string) => new Map(picks.filter((p) => p.method === method).map((p) => [p.seed, p.testAcc]));
  const grid = bySeed('grid');
  const rows = methods.map((method) => {
    const mine = picks.filter((p) => p.method === method);
    const diff = pairedDifference(bySeed(method), grid);
    const wins = diff.differences.filter((d) => d > 0).length;
    return [
      method,
      String(mine.length),
      String(Math.round(mine.reduce((s, p) => s + p.epochs, 0) / mine.length)),
      formatEstimate(estimate(mine.map((p) => p.valAcc)), 4),
      formatEstimate(estimate(mine.map((p) => p.testAcc)), 4),
      method === 'grid' || !diff.estimate ? '—' : formatEstimate(diff.estimate, 2, 100, true),
      method === 'grid' ? '—' : `${wins}/${diff.keys.length}`,
    ];
  });
  return {
    title: 'Recommended schedule per method (mean ± 95% CI over seeds)',
    note: `valAcc chooses the episode; testAcc is that episode's held-out accuracy; Δ test is paired by seed against the grid's pick${folds > 1 ? ` (grid scored by ${folds}-fold CV)` : ''}, in points`,
    headers: ['method', 'seeds', 'epochs/seed', 'valAcc (picked)', 'testAcc', 'Δ test vs grid (pts)', 'wins'],
    align: ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
    rows,
  };
}

runCli('experiment', main);
