/**
 * schedule: the rates follow a fixed schedule of the epoch, the same in every episode.
 *
 * Time: t is the index of the epoch about to be trained, counted from 0 — t = info.epoch when `act` is
 * called, so the first epoch trains at rate(0) and the last of T = maxEpochs at rate(T − 1).
 *
 * --schedule NAME, every layer at
 *   linear      rate(t) = r + (r_final − r) · min(t, T−1) / (T−1)   --rate r to --final-rate over the episode
 *                                                                   (T = 1: r)
 *   curriculum  rate(t) = r · (1 − exp(−γ t))        Morerio et al. 2017: from 0 up toward --rate, --gamma γ per epoch
 *   annealed    rate(t) = r · max(0, 1 − t / A)      Rennie et al. 2014: --rate down to 0 over --anneal-epochs A, then 0
 *   early       rate(t) = t < c ? r : 0              Liu et al. 2023: dropout in the first --cutoff c epochs only
 *   late        rate(t) = t < c ? 0 : r              the reverse: dropout from epoch c on
 * --schedule FILE: a JSON file holding a ScheduleFile `{ "rates": number[][] }`, a bare `number[][]`, or a
 *   run's summary.json (its `best.schedule`); or `runs/<run>/episodes.jsonl#N`, episode N's schedule (from 1, as the run log numbers them). Row t holds the per-layer rates of epoch t + 1 (a row of one
 *   rate applies to every layer); the last row repeats past the end.
 *
 * --rate, --final-rate and a file's rates must lie within [--min-rate, --max-rate]; the zeros the named
 * schedules reach by design are clamped up to --min-rate, as the env clamps every action.
 * Absolute mode (the default) follows the schedule exactly; discrete and continuous modes move the rates
 * toward it as fast as the action space allows (see towardRates).
 *
 * Files are read by agents/node-loaders.ts (this file has no node: import, for the browser entry, where
 * a schedule is a name or its rates as JSON text: agents/browser-loaders.ts).
 */
import { checkInt, checkKnownKeys, checkNumber, checkRate, checkString } from '../src/core/check.js';
import { ConfigError } from '../src/core/errors.js';
import type { OptionSpec } from '../src/core/options.js';
import type { Action, Agent, AgentContext, StepInfo } from '../src/core/types.js';
import { ALL_MODES, checkActionMode, type AgentEntry } from './entry.js';
import { checkTargetRate, towardRates } from './rates.js';
import { readState } from './state.js';

// config

export const SCHEDULE_NAMES = ['linear', 'curriculum', 'annealed', 'early', 'late'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

export interface ScheduleConfig {
  /** A schedule name (see SCHEDULE_NAMES) or the path of a JSON schedule file. @default 'linear' */
  schedule: string;
  /** r: the rate the named schedules start from, rise toward or switch to. @default 0.3 */
  rate: number;
  /** linear: the rate of the last epoch. @default 0 */
  finalRate: number;
  /** curriculum: γ, per epoch; 1 reaches 95% of --rate by t = 3. @default 1 */
  gamma: number;
  /** annealed: epochs from --rate down to 0. @default 5 */
  annealEpochs: number;
  /** early / late: the epoch index where dropout switches off / on. @default 3 */
  cutoff: number;
}

export const SCHEDULE_DEFAULTS: ScheduleConfig = {
  schedule: 'linear',
  rate: 0.3,
  finalRate: 0,
  gamma: 1,
  annealEpochs: 5,
  cutoff: 3,
};

export const SCHEDULE_OPTIONS: OptionSpec[] = [
  {
    key: 'schedule',
    flag: '--schedule',
    type: 'string',
    default: SCHEDULE_DEFAULTS.schedule,
    help: `${SCHEDULE_NAMES.join('|')} or a JSON file of per-epoch rates`,
  },
  {
    key: 'rate',
    flag: '--rate',
    type: 'number',
    default: SCHEDULE_DEFAULTS.rate,
    help: 'dropout rate of every layer (constant, schedule)',
  },
  {
    key: 'finalRate',
    flag: '--final-rate',
    type: 'number',
    default: SCHEDULE_DEFAULTS.finalRate,
    help: 'linear schedule: rate of the last epoch',
  },
  {
    key: 'gamma',
    flag: '--gamma',
    type: 'number',
    default: SCHEDULE_DEFAULTS.gamma,
    help: 'curriculum schedule: rise per epoch; reinforce: discount',
  },
  {
    key: 'annealEpochs',
    flag: '--anneal-epochs',
    type: 'int',
    default: SCHEDULE_DEFAULTS.annealEpochs,
    help: 'annealed schedule: epochs from --rate down to 0',
  },
  {
    key: 'cutoff',
    flag: '--cutoff',
    type: 'int',
    default: SCHEDULE_DEFAULTS.cutoff,
    help: 'early/late schedules: epoch where dropout switches off/on',
  },
];

/** The resolved config; `rows` holds a schedule file's rates (null for a named schedule). */
export type ScheduleSettings = ScheduleConfig & { rows: number[][] | null };

/** The rows of the schedule `--schedule` names when it is not a schedule name (a file, in Node). */
export type ScheduleReader = (schedule: string) => number[][];

export function checkScheduleConfig(partial: Partial<ScheduleConfig>, readRows: ScheduleReader): ScheduleSettings {
  checkKnownKeys('schedule', partial, Object.keys(SCHEDULE_DEFAULTS));
  const c = { ...SCHEDULE_DEFAULTS, ...partial };
  const schedule = checkString('--schedule', c.schedule);
  return {
    schedule,
    rate: checkRate('--rate', c.rate),
    finalRate: checkRate('--final-rate', c.finalRate),
    gamma: checkNumber('--gamma', c.gamma, 0, 1000),
    annealEpochs: checkInt('--anneal-epochs', c.annealEpochs, 1),
    cutoff: checkInt('--cutoff', c.cutoff, 0),
    rows: isScheduleName(schedule) ? null : readRows(schedule),
  };
}

function isScheduleName(value: string): value is ScheduleName {
  return (SCHEDULE_NAMES as readonly string[]).includes(value);
}

/**
 * A schedule file's rows from its text: a ScheduleFile, a bare number[][], or a RunSummary's
 * best.schedule; `file` names it in messages (`--schedule FILE`).
 */
export function parseScheduleRows(text: string, file: string): number[][] {
  const fail = (why: string) => new ConfigError(`--schedule ${file}: ${why}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw fail(`not valid JSON (${(err as Error).message})`);
  }
  const record = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const best = record['best'];
  const rows = Array.isArray(parsed)
    ? parsed
    : Array.isArray(record['rates'])
      ? record['rates']
      : typeof best === 'object' && best !== null && Array.isArray((best as Record<string, unknown>)['schedule'])
        ? ((best as Record<string, unknown>)['schedule'] as unknown[])
        : null;
  if (rows === null)
    throw fail('expected {"rates": number[][]}, a number[][] or a run\'s summary.json (best.schedule)');
  if (rows.length === 0) throw fail('the schedule has no rows');
  const width = Array.isArray(rows[0]) ? rows[0].length : 0;
  return rows.map((row: unknown, t) => {
    if (!Array.isArray(row) || row.length === 0 || row.length !== width) {
      throw fail(
        `row ${t} must be a list of ${width || 'one or more'} rates (one per layer), got ${JSON.stringify(row)}`,
      );
    }
    return row.map((rate: unknown, layer) => {
      if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate >= 1) {
        throw fail(`rates[${t}][${layer}] must be in [0, 1), got ${JSON.stringify(rate)}`);
      }
      return rate;
    });
  });
}

// the schedules

/** The rate of a named schedule at epoch index t (from 0) of an episode of T epochs. */
export function namedRate(name: ScheduleName, t: number, T: number, c: ScheduleConfig): number {
  switch (name) {
    case 'linear':
      return T <= 1 ? c.rate : c.rate + ((c.finalRate - c.rate) * Math.min(t, T - 1)) / (T - 1);
    case 'curriculum':
      return c.rate * (1 - Math.exp(-c.gamma * t));
    case 'annealed':
      return c.rate * Math.max(0, 1 - t / c.annealEpochs);
    case 'early':
      return t < c.cutoff ? c.rate : 0;
    case 'late':
      return t < c.cutoff ? 0 : c.rate;
  }
}

// agent

export class ScheduleAgent implements Agent {
  readonly name = 'schedule';

  constructor(
    readonly config: ScheduleSettings,
    private readonly ctx: AgentContext,
  ) {
    const { rows, schedule } = config;
    if (rows === null) {
      checkTargetRate('--rate', config.rate, ctx);
      if (schedule === 'linear') checkTargetRate('--final-rate', config.finalRate, ctx);
      return;
    }
    const width = rows[0]!.length;
    if (width !== 1 && width !== ctx.numLayers) {
      throw new ConfigError(
        `--schedule ${schedule}: rows have ${width} rates but the model has ${ctx.numLayers} dropout layers`,
      );
    }
    rows.forEach((row, t) =>
      row.forEach((rate, layer) => checkTargetRate(`--schedule ${schedule}: rates[${t}][${layer}]`, rate, ctx)),
    );
  }

  /** The per-layer rates for epoch index t. */
  ratesAt(t: number): number[] {
    const { rows, schedule } = this.config;
    if (rows === null) {
      return Array<number>(this.ctx.numLayers).fill(
        namedRate(schedule as ScheduleName, t, this.ctx.maxEpochs, this.config),
      );
    }
    const row = rows[Math.min(t, rows.length - 1)]!;
    return row.length === 1 ? Array<number>(this.ctx.numLayers).fill(row[0]!) : [...row];
  }

  // act

  act(_observation: number[], info: StepInfo): Action {
    return towardRates(this.ratesAt(info.epoch), info, this.ctx);
  }

  // save/load: nothing is learned

  saveState(): unknown {
    return { agent: this.name, version: 1 };
  }

  loadState(state: unknown): void {
    readState(this.name, state);
  }
}

// registry entry

/** The schedule agent's entry, a schedule that is not a name read by `readRows` (a file, in Node). */
export function scheduleEntryWith(readRows: ScheduleReader): AgentEntry {
  return {
    description: 'a fixed per-epoch schedule: linear, curriculum, annealed, early, late, or a JSON file',
    options: SCHEDULE_OPTIONS,
    defaultActionMode: 'absolute',
    supports: ALL_MODES,
    check(options) {
      const { rows: _rows, ...resolved } = checkScheduleConfig(options as Partial<ScheduleConfig>, readRows);
      return resolved;
    },
    create(options, ctx) {
      checkActionMode('schedule', ctx, ALL_MODES);
      return new ScheduleAgent(checkScheduleConfig(options as Partial<ScheduleConfig>, readRows), ctx);
    },
  };
}
