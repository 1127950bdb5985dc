/**
 * Compares runs: one row per run, one row per group of runs that differ only in their seed (mean ± 95%
 * CI half-width), and, against a baseline group, the paired difference of best-episode test accuracy
 * on the seeds both groups ran. Renders the same tables as fixed-width text, Markdown and HTML.
 */
import { basename, extname } from 'node:path';

import { ConfigError } from '../core/errors.js';
import { bestEpisode, type EpisodeRecord, type LineageRecord, type RunConfig } from '../core/run-log.js';
import type { RunData } from '../store/read-run.js';
import { estimate, pairedDifference, type Estimate } from './stats.js';

export type RunStatus = 'done' | 'interrupted' | 'incomplete';

export interface RunRow {
  run: string;
  dir: string;
  /** The group this run belongs to, see `groupLabels`. */
  label: string;
  agent: string;
  seed: number;
  episodes: number;
  /** Epochs trained over the run: the compute spent. */
  epochs: number;
  /** Highest final valAcc, earliest on ties (the rule of RunSummary.best). */
  bestEpisode: number;
  bestValAcc: number;
  finalValAcc: number;
  /** Test accuracy of the best episode: the held-out score of the schedule the run recommends. */
  bestTestAcc: number;
  /** summary.wallMs, or the sum of episodeMs when the run has no summary. */
  wallMs: number;
  /** done: summary.json written; interrupted: stopped early but summarized; incomplete: no summary. */
  status: RunStatus;
}

/** The per-run metrics that are averaged per group. */
export const GROUP_METRICS = ['episodes', 'epochs', 'bestValAcc', 'finalValAcc', 'bestTestAcc', 'wallMs'] as const;
export type GroupMetric = (typeof GROUP_METRICS)[number];

export interface GroupRow {
  label: string;
  agent: string;
  runs: number;
  seeds: number[];
  stats: Record<GroupMetric, Estimate>;
}

export interface BaselineRow {
  label: string;
  /** Seeds both this group and the baseline ran. */
  seeds: number[];
  /** best testAcc (this group − baseline) on those seeds; undefined without a shared seed. */
  diff: Estimate | undefined;
}

export interface BaselineComparison {
  label: string;
  metric: 'bestTestAcc';
  rows: BaselineRow[];
}

export interface Comparison {
  runs: RunRow[];
  groups: GroupRow[];
  baseline: BaselineComparison | undefined;
  /** PBT runs: who copied whom, run by run (runs without exploits are left out). */
  lineage: { run: string; exploits: LineageRecord[] }[];
  warnings: string[];
}

/** The run's recommended episode, by RunSummary.best's rule; the run must have finished an episode. */
function best(run: RunData): EpisodeRecord {
  const episode = bestEpisode(run.episodes);
  if (episode === undefined) throw new RangeError(`${run.dir}: no finished episode`);
  return episode;
}

// labels

/** Options that an agent owns although every run of it may share them (so they never vary). */
export const AGENT_OWN_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  constant: ['rate'],
  schedule: ['schedule'],
};

/** Options that say where or how a run was written, never what it did. */
const NOT_DISTINGUISHING = new Set([
  'agent',
  'seed',
  'label',
  'out',
  'outDir',
  'dir',
  'runDir',
  'runsDir',
  'name',
  'runName',
  'config',
  'quiet',
  'verbose',
  'progress',
  'resume',
  'help',
  'startedAt',
  'timestamp',
  'time',
  'date',
  'host',
  'hostname',
  'pid',
  'cwd',
]);
const isBookkeeping = (key: string): boolean =>
  NOT_DISTINGUISHING.has(key) || key.endsWith('Ms') || key.endsWith('Dir');

/** A value as a label shows it: file paths by their base name, lists comma-separated. */
function showValue(value: unknown): string {
  // A schedule taken from a run (its summary.json, or episodes.jsonl#N) shows as that run and episode.
  const fromRun = typeof value === 'string' ? /^(.*?)[/\\](summary\.json|episodes\.jsonl)(#\d+)?$/.exec(value) : null;
  if (fromRun) return `${basename(fromRun[1]!)}${fromRun[3] ?? ' best'}`;
  if (typeof value === 'string') return /[/\\]|\.json$/.test(value) ? basename(value, extname(value)) : value;
  if (Array.isArray(value)) return value.map(showValue).join(',');
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value) ?? String(value);
}

/** Does `key` belong to `agent` by name: `schedule` for agent schedule, `constantRate` for agent constant? */
const namedAfter = (key: string, agent: string): boolean =>
  key === agent || (key.startsWith(agent) && /^[A-Z]/.test(key.slice(agent.length)));

/**
 * The group label of each run: `options.label` when the run has one; else the agent, then its own
 * options (AGENT_OWN_OPTIONS, and options named after it), then every other option whose value differs
 * between the runs of that agent (seed and bookkeeping aside). An option named after the agent shows
 * only its value: `schedule curriculum`, `constant rate=0.3`.
 */
export function groupLabels(configs: readonly RunConfig[]): string[] {
  const agentOf = (c: RunConfig): string => String(c.options['agent']);
  const keysByAgent = new Map<string, string[]>();
  for (const agent of new Set(configs.map(agentOf))) {
    const runs = configs.filter((c) => agentOf(c) === agent);
    const allKeys = [...new Set(runs.flatMap((c) => Object.keys(c.options)))].filter((k) => !isBookkeeping(k));
    const listed = AGENT_OWN_OPTIONS[agent] ?? [];
    const own = [
      ...listed.filter((k) => allKeys.includes(k)),
      ...allKeys.filter((k) => !listed.includes(k) && namedAfter(k, agent)).sort(),
    ];
    const varying = allKeys
      .filter((k) => !own.includes(k) && new Set(runs.map((c) => JSON.stringify(c.options[k]))).size > 1)
      .sort();
    keysByAgent.set(agent, [...own, ...varying]);
  }
  return configs.map((c) => {
    const label = c.options['label'];
    if (typeof label === 'string' && label.trim() !== '') return label.trim();
    const agent = agentOf(c);
    const parts = (keysByAgent.get(agent) ?? [])
      .filter((k) => c.options[k] !== undefined)
      .map((k) => (k === agent ? showValue(c.options[k]) : `${k}=${showValue(c.options[k])}`));
    return [agent, ...parts].join(' ');
  });
}

// rows

export function runRow(run: RunData, label: string): RunRow {
  const recommended = best(run);
  const final = run.episodes[run.episodes.length - 1]!;
  const status: RunStatus = run.summary === undefined ? 'incomplete' : run.summary.interrupted ? 'interrupted' : 'done';
  return {
    run: run.name,
    dir: run.dir,
    label,
    agent: String(run.config.options['agent']),
    seed: run.config.seed,
    episodes: run.episodes.length,
    epochs: run.episodes.reduce((sum, e) => sum + e.epochs, 0),
    bestEpisode: recommended.episode,
    bestValAcc: recommended.valAcc,
    finalValAcc: final.valAcc,
    bestTestAcc: recommended.testAcc,
    wallMs: run.summary?.wallMs ?? run.episodes.reduce((sum, e) => sum + e.episodeMs, 0),
    status,
  };
}

/** Resolves `--baseline`: a group label, or an agent with exactly one group. */
export function resolveBaseline(name: string, groups: readonly GroupRow[]): string {
  if (groups.some((g) => g.label === name)) return name;
  const byAgent = groups.filter((g) => g.agent === name);
  if (byAgent.length === 1) return byAgent[0]!.label;
  const labels = groups.map((g) => `'${g.label}'`).join(', ');
  if (byAgent.length > 1) {
    throw new ConfigError(
      `--baseline '${name}' matches ${byAgent.length} groups (${byAgent.map((g) => `'${g.label}'`).join(', ')}): give the full label`,
    );
  }
  throw new ConfigError(`--baseline must be one of ${labels}, got '${name}'`);
}

/** A group's value per seed; a seed run twice counts as the mean of its runs (with a warning). */
function bySeed(rows: readonly RunRow[], warnings: string[]): Map<number, number> {
  const values = new Map<number, number[]>();
  for (const row of rows) values.set(row.seed, [...(values.get(row.seed) ?? []), row.bestTestAcc]);
  const result = new Map<number, number>();
  for (const [seed, xs] of values) {
    if (xs.length > 1)
      warnings.push(`'${rows[0]!.label}' has ${xs.length} runs with seed ${seed}: pairing uses their mean`);
    result.set(seed, xs.reduce((a, b) => a + b, 0) / xs.length);
  }
  return result;
}

/**
 * The options that define the task a run was scored on: two runs paired by seed must agree on them, or
 * their difference mixes the task with the method. Agent options (rates, action space) may differ.
 */
export const TASK_OPTIONS = [
  'dataset',
  'trainSize',
  'valSize',
  'testSize',
  'fold',
  'folds',
  'model',
  'epochs',
  'inputDropout',
  'batchNorm',
  'optimizer',
  'momentum',
  'lr',
  'batchSize',
  'l2',
  // absent in clean runs and runs judged by the final rule: such runs still agree with each other
  'labelNoise',
  'labelNoiseKind',
  'select',
  'selectWindow',
] as const;

/** How two runs' tasks differ: `epochs 5 vs 10` per differing option, in TASK_OPTIONS order. */
export function taskDifferences(a: RunConfig, b: RunConfig): string[] {
  return TASK_OPTIONS.flatMap((key) => {
    const [x, y] = [a.options[key], b.options[key]];
    return JSON.stringify(x) === JSON.stringify(y)
      ? []
      : [`${key} ${showValue(x ?? 'unset')} vs ${showValue(y ?? 'unset')}`];
  });
}

/** One warning per pair of same-seed runs (a group's, the baseline's) whose tasks differ. */
function pairingWarnings(
  rows: readonly RunRow[],
  label: string,
  baseline: string,
  configOf: (row: RunRow) => RunConfig,
): string[] {
  const base = rows.filter((r) => r.label === baseline);
  return rows
    .filter((r) => r.label === label)
    .flatMap((row) => base.filter((b) => b.seed === row.seed).map((b) => [row, b] as const))
    .flatMap(([row, b]) => {
      const differences = taskDifferences(configOf(row), configOf(b));
      return differences.length === 0
        ? []
        : [
            `'${label}' seed ${row.seed} (${row.dir}) is paired with baseline '${baseline}' (${b.dir}) but its task differs: ${differences.join(', ')}`,
          ];
    });
}

export function compareRuns(runs: readonly RunData[], opts: { baseline?: string } = {}): Comparison {
  const warnings: string[] = [];
  const finished = runs.filter((run) => {
    if (run.episodes.length > 0) return true;
    warnings.push(`${run.dir}: no finished episode; left out of the comparison`);
    return false;
  });
  if (finished.length === 0) throw new ConfigError('no run has a finished episode');

  const labels = groupLabels(finished.map((r) => r.config));
  const rows = finished
    .map((run, i) => runRow(run, labels[i]!))
    .sort((a, b) => a.label.localeCompare(b.label) || a.seed - b.seed || a.run.localeCompare(b.run));

  for (const run of finished) {
    const named = run.summary?.best?.episode;
    const computed = best(run).episode;
    if (named !== undefined && named !== computed) {
      warnings.push(
        `${run.dir}: summary.json names episode ${named} best, episodes.jsonl gives ${computed}; using episodes.jsonl`,
      );
    }
  }

  const groups: GroupRow[] = [...new Set(rows.map((r) => r.label))].map((label) => {
    const members = rows.filter((r) => r.label === label);
    const stats = Object.fromEntries(GROUP_METRICS.map((m) => [m, estimate(members.map((r) => r[m]))])) as Record<
      GroupMetric,
      Estimate
    >;
    return {
      label,
      agent: members[0]!.agent,
      runs: members.length,
      seeds: [...new Set(members.map((r) => r.seed))],
      stats,
    };
  });

  let baseline: BaselineComparison | undefined;
  if (opts.baseline !== undefined) {
    const label = resolveBaseline(opts.baseline, groups);
    const base = bySeed(
      rows.filter((r) => r.label === label),
      warnings,
    );
    const configOf = (row: RunRow): RunConfig => finished.find((run) => run.dir === row.dir)!.config;
    for (const g of groups) if (g.label !== label) warnings.push(...pairingWarnings(rows, g.label, label, configOf));
    baseline = {
      label,
      metric: 'bestTestAcc',
      rows: groups
        .filter((g) => g.label !== label)
        .map((g) => {
          const paired = pairedDifference(
            bySeed(
              rows.filter((r) => r.label === g.label),
              warnings,
            ),
            base,
          );
          return { label: g.label, seeds: paired.keys, diff: paired.estimate };
        }),
    };
  }
  const lineage = rows.flatMap((row) => {
    const exploits = finished.find((run) => run.dir === row.dir)?.lineage ?? [];
    return exploits.length > 0 ? [{ run: row.run, exploits }] : [];
  });
  return { runs: rows, groups, baseline, lineage, warnings };
}

// tables: built once, rendered as text, Markdown or HTML

export interface Table {
  title: string;
  note?: string;
  headers: string[];
  /** 'r' for numbers, 'l' for text. */
  align: ('l' | 'r')[];
  rows: string[][];
  /** Rows to show dimmed on a terminal (incomplete runs). */
  dim?: boolean[];
}

const DASH = '—';
const fixed = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : DASH);
const signed = (x: number, digits: number): string => (Number.isFinite(x) && x >= 0 ? '+' : '') + fixed(x, digits);
/** `mean ± half`, with half shown as — when the interval is undefined (one value). */
export const formatEstimate = (e: Estimate, digits: number, scale = 1, sign = false): string =>
  `${(sign ? signed : fixed)(e.mean * scale, digits)} ± ${e.half === undefined ? DASH : fixed(e.half * scale, digits)}`;

const ACC = 4;
const seedsText = (seeds: readonly number[]): string => seeds.join(',');

export function comparisonTables(c: Comparison): Table[] {
  const tables: Table[] = [
    {
      title: 'Runs',
      note: "best = the episode with the highest final valAcc (earliest on ties); testAcc is that episode's",
      headers: [
        'run',
        'label',
        'seed',
        'episodes',
        'epochs',
        'best ep',
        'best valAcc',
        'final valAcc',
        'best testAcc',
        'wall s',
        'status',
      ],
      align: ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
      rows: c.runs.map((r) => [
        r.run,
        r.label,
        String(r.seed),
        String(r.episodes),
        String(r.epochs),
        String(r.bestEpisode),
        fixed(r.bestValAcc, ACC),
        fixed(r.finalValAcc, ACC),
        fixed(r.bestTestAcc, ACC),
        fixed(r.wallMs / 1000, 1),
        r.status,
      ]),
      dim: c.runs.map((r) => r.status === 'incomplete'),
    },
    {
      title: 'Per group',
      note: `mean ± 95% CI half-width over runs (Student t); ${DASH} when a group has one run`,
      headers: [
        'label',
        'runs',
        'seeds',
        'episodes',
        'epochs',
        'best valAcc',
        'final valAcc',
        'best testAcc',
        'wall s',
      ],
      align: ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
      rows: c.groups.map((g) => [
        g.label,
        String(g.runs),
        seedsText(g.seeds),
        formatEstimate(g.stats.episodes, 1),
        formatEstimate(g.stats.epochs, 1),
        formatEstimate(g.stats.bestValAcc, ACC),
        formatEstimate(g.stats.finalValAcc, ACC),
        formatEstimate(g.stats.bestTestAcc, ACC),
        formatEstimate(g.stats.wallMs, 1, 1 / 1000),
      ]),
    },
  ];
  if (c.baseline) {
    tables.push({
      title: `Paired difference vs baseline '${c.baseline.label}'`,
      note: `best testAcc, group − baseline, on the seeds both ran; mean ± 95% CI half-width (Student t)`,
      headers: ['label', 'pairs', 'seeds', 'diff', '95% CI'],
      align: ['l', 'r', 'l', 'r', 'r'],
      rows: c.baseline.rows.map((b) => [
        b.label,
        String(b.seeds.length),
        b.seeds.length > 0 ? seedsText(b.seeds) : DASH,
        b.diff ? formatEstimate(b.diff, ACC, 1, true) : DASH,
        b.diff?.half !== undefined
          ? `[${signed(b.diff.mean - b.diff.half, ACC)}, ${signed(b.diff.mean + b.diff.half, ACC)}]`
          : DASH,
      ]),
    });
  }
  if (c.lineage.length > 0) {
    const rates = (r: readonly number[]) => r.map((x) => fixed(x, 2)).join('/');
    tables.push({
      title: 'PBT lineage',
      note: 'after the epoch shown, the member copied the weights and rates of a top member, then explored its rates (* = redrawn, else ×0.8 or ×1.2)',
      headers: ['run', 'gen', 'after epoch', 'member ← from', 'valAcc (member, from)', 'rates before → after'],
      align: ['l', 'r', 'r', 'l', 'l', 'l'],
      rows: c.lineage.flatMap(({ run, exploits }) =>
        exploits.map((e) => [
          run,
          String(e.generation),
          String(e.epoch),
          `${e.member} ← ${e.from}`,
          `${fixed(e.valAcc, ACC)}, ${fixed(e.fromValAcc, ACC)}`,
          `${rates(e.ratesBefore)} → ${e.rates.map((x, i) => `${fixed(x, 2)}${e.resampled[i] ? '*' : ''}`).join('/')}`,
        ]),
      ),
    });
  }
  return tables;
}

const pad = (text: string, width: number, align: 'l' | 'r'): string =>
  align === 'r' ? text.padStart(width) : text.padEnd(width);

/** Fixed-width text; `color` adds bold headers and dims incomplete runs (for a TTY only). */
export function renderText(tables: readonly Table[], opts: { color?: boolean } = {}): string {
  const bold = (s: string) => (opts.color ? `\x1b[1m${s}\x1b[0m` : s);
  const dim = (s: string) => (opts.color ? `\x1b[2m${s}\x1b[0m` : s);
  return tables
    .map((t) => {
      const widths = t.headers.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)));
      const line = (cells: readonly string[]) =>
        cells
          .map((cell, i) => pad(cell, widths[i]!, t.align[i] ?? 'l'))
          .join('  ')
          .trimEnd();
      const out = [
        bold(t.title),
        ...(t.note ? [t.note] : []),
        bold(line(t.headers)),
        widths.map((w) => '-'.repeat(w)).join('  '),
      ];
      t.rows.forEach((r, i) => out.push(t.dim?.[i] ? dim(line(r)) : line(r)));
      return out.join('\n');
    })
    .join('\n\n');
}

export function renderMarkdown(tables: readonly Table[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return tables
    .map((t) =>
      [
        `## ${t.title}`,
        '',
        ...(t.note ? [`_${t.note}_`, ''] : []),
        `| ${t.headers.map(cell).join(' | ')} |`,
        `|${t.align.map((a) => (a === 'r' ? ' ---: ' : ' :--- ')).join('|')}|`,
        ...t.rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
      ].join('\n'),
    )
    .join('\n\n');
}

export const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function renderHtmlTables(tables: readonly Table[]): string {
  return tables
    .map((t) => {
      const th = t.headers.map((h, i) => `<th class="${t.align[i]}">${escapeHtml(h)}</th>`).join('');
      const rows = t.rows.map(
        (r) => `<tr>${r.map((c, i) => `<td class="${t.align[i]}">${escapeHtml(c)}</td>`).join('')}</tr>`,
      );
      return [
        `<h2>${escapeHtml(t.title)}</h2>`,
        ...(t.note ? [`<p class="note">${escapeHtml(t.note)}</p>`] : []),
        `<table><thead><tr>${th}</tr></thead><tbody>`,
        ...rows,
        '</tbody></table>',
      ].join('\n');
    })
    .join('\n');
}

/** compare.json: the numbers, not their text; an undefined interval is null. */
export function comparisonJson(c: Comparison): string {
  return JSON.stringify(c, (_key, value: unknown) => (value === undefined ? null : value), 2) + '\n';
}
