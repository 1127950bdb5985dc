/**
 * What the three bandits epsilon-greedy, ucb and thompson share: their arms, the statistics of each arm,
 * crediting a step's reward, and saving all of it. Each agent file only says how it picks an arm.
 *
 * Arms are the per-layer adjustments of `armValues` (discrete: down/keep/up; continuous: −δmax/0/+δmax)
 * or, in absolute mode, rates: --arms when given (an experiment passes its grid), else an even set from
 * --min-rate to --max-rate about --rate-step apart (no near-duplicate at the top: step 0.25 up to 0.8
 * gives 0, 0.2667, 0.5333, 0.8, not 0, 0.25, 0.5, 0.75, 0.8). Every layer has its own arm set; with
 * --per-epoch there is one per (layer, epoch index), so the bandit learns a schedule, otherwise one per
 * layer shared by all epochs; with --phases K one per (layer, phase), held through the phase. At each
 * step every layer picks from its set for t = info.epoch (the epoch about to be trained; epochs past
 * maxEpochs use the last set). Statistics carry over from episode to episode.
 *
 * Credit (--credit):
 * - `final` (the default): at the end of an episode, every (layer, set) arm the episode pulled is
 *   credited once with the episode's score (`episodeScore`: its last validation accuracy). A phase's own
 *   change of accuracy would reward whatever learns fastest mid-run (low rates), and a poor early phase
 *   would inflate the next one's gain; the final score is what the run is judged by.
 * - `reward`: every picked arm gets the step's reward (with phases, the phase's summed reward, once).
 *
 * Pooling (--pool-pulls P): the arm sets share statistics. Set (l, s)'s estimate of arm k combines its
 * own pulls with those of arm k (the same rate) in every other set, counted as at most P pulls in all
 * (a pooled prior: pooled mean and spread at the weight of P pseudo-pulls, then the set's own data).
 * With the few episodes of an experiment, one set has one or two pulls of an arm at most; the pooled
 * estimate says how a rate did anywhere in the model and run. P = 0: independent sets.
 *
 * Per arm: pulls n, mean reward, and m2 = Σ (reward − mean)² (Welford's update), for Thompson's variance.
 * `TableBandit` is the agent itself; each bandit's file supplies only its `PickArm` rule.
 */
import { checkBoolean, checkInt, checkNumber, checkOneOf } from '../src/core/check.js';
import { ConfigError } from '../src/core/errors.js';
import { episodeScore } from '../src/core/episode-score.js';
import type { OptionSpec } from '../src/core/options.js';
import type { Rng } from '../src/core/rng.js';
import type { Action, Agent, AgentContext, StepInfo, Transition } from '../src/core/types.js';
import { armValues, MAX_ARMS, roundRate } from './rates.js';
import { readArray, readInt, readState, SavedRng, stateError } from './state.js';

/** --per-epoch, shared by the three bandits. */
export const PER_EPOCH_OPTION: OptionSpec = {
  key: 'perEpoch',
  flag: '--per-epoch',
  type: 'boolean',
  default: true,
  help: 'bandits: separate arms for every epoch (learn a schedule); false: one set per layer',
};

/** --phases, shared by the three bandits. */
export const PHASES_OPTION: OptionSpec = {
  key: 'phases',
  flag: '--phases',
  type: 'int',
  default: 0,
  help: 'bandits: split the epochs into this many phases, one arm held per phase (0: see --per-epoch)',
};

/** --arms, shared by the three bandits. */
export const ARMS_OPTION: OptionSpec = {
  key: 'arms',
  flag: '--arms',
  type: 'numbers',
  default: null,
  help: 'bandits, absolute mode: the rates to pick from, e.g. 0,0.2,0.4 (default: an even set about --rate-step apart)',
};

/** --credit, shared by the three bandits. */
export const CREDIT_OPTION: OptionSpec = {
  key: 'credit',
  flag: '--credit',
  type: 'string',
  default: 'final',
  choices: ['final', 'reward'],
  help: "bandits: credit every pulled arm with the episode's final validation accuracy (final) or the step's reward",
};

/** --pool-pulls, shared by the three bandits. */
export const POOL_OPTION: OptionSpec = {
  key: 'poolPulls',
  flag: '--pool-pulls',
  type: 'number',
  default: 2,
  help: "bandits: how many pulls' worth of the other arm sets' data on the same arm each set borrows (0: none)",
};

export type CreditMode = 'final' | 'reward';
export const CREDIT_MODES: readonly CreditMode[] = ['final', 'reward'];

/** How a bandit lays out its arm sets over the epochs, what its arms are, and how it credits them. */
export interface ArmSetConfig {
  /** One arm set per (layer, epoch) — a schedule — instead of one per layer. @default true */
  perEpoch: boolean;
  /**
   * With K > 0, the episode is split into K phases of about E/K epochs: each layer picks one arm per phase,
   * holds it through the phase, and credits it once with the phase's summed reward. A few phases over a
   * few arms (e.g. --rate-step 0.25 in absolute mode) is a short action set a bandit can learn in the
   * grid's handful of episodes. @default 0
   */
  phases: number;
  /** Absolute mode: the rates that are the arms (checked against the rate range when the agent is made). @default null (an even set) */
  arms: number[] | null;
  /** What an arm is credited with (see the header). @default 'final' */
  credit: CreditMode;
  /** Pulls' worth of the other sets' data on the same arm that each set borrows. @default 2 */
  poolPulls: number;
}

export const ARM_SET_DEFAULTS: ArmSetConfig = { perEpoch: true, phases: 0, arms: null, credit: 'final', poolPulls: 2 };
export const ARM_SET_OPTIONS: OptionSpec[] = [PER_EPOCH_OPTION, PHASES_OPTION, ARMS_OPTION, CREDIT_OPTION, POOL_OPTION];

export function checkArmSet(c: ArmSetConfig): ArmSetConfig {
  const arms = c.arms ?? null;
  if (arms !== null) {
    if (!Array.isArray(arms) || arms.length < 2 || arms.length > MAX_ARMS)
      throw new ConfigError(`--arms must list 2 to ${MAX_ARMS} rates, got ${JSON.stringify(arms)}`);
    arms.forEach((r) => checkNumber('--arms', r, 0, 1, true));
    if (new Set(arms.map(roundRate)).size !== arms.length)
      throw new ConfigError(`--arms must not repeat a rate, got ${arms.join(',')}`);
  }
  return {
    perEpoch: checkBoolean('--per-epoch', c.perEpoch),
    phases: checkInt('--phases', c.phases, 0, 1000),
    arms: arms === null ? null : arms.map(roundRate),
    credit: checkOneOf('--credit', c.credit, CREDIT_MODES),
    poolPulls: checkNumber('--pool-pulls', c.poolPulls, 0, 1e6),
  };
}

/** min … max in about `step`-wide even steps, both ends included (the count rounded, so no near-duplicate). */
export function evenRates(min: number, max: number, step: number): number[] {
  if (max - min < 1e-9) return [min];
  const gaps = Math.max(1, Math.round((max - min) / step));
  if (gaps + 1 > MAX_ARMS)
    throw new ConfigError(
      `--rate-step ${step} makes ${gaps + 1} rates in [${min}, ${max}]; a bandit in absolute mode allows at most ${MAX_ARMS} arms`,
    );
  return Array.from({ length: gaps + 1 }, (_, i) => roundRate(min + ((max - min) * i) / gaps));
}

/** One layer's arms: --arms or an even set of rates in absolute mode, else `armValues`. */
export function banditArms(ctx: AgentContext, layer: number, arms: number[] | null): number[] {
  if (ctx.actionMode !== 'absolute') {
    if (arms !== null)
      throw new ConfigError(`--arms applies to --action absolute only, got --action ${ctx.actionMode}`);
    return armValues(ctx, layer);
  }
  if (arms === null) return evenRates(ctx.minRate, ctx.maxRate, ctx.rateStep);
  for (const r of arms)
    if (r < ctx.minRate - 1e-12 || r > ctx.maxRate + 1e-12)
      throw new ConfigError(`--arms rate ${r} is outside [--min-rate, --max-rate] = [${ctx.minRate}, ${ctx.maxRate}]`);
  return [...arms];
}

export interface ArmStats {
  readonly n: number;
  readonly mean: number;
  readonly m2: number;
}

/** A bandit's rule: the index of the arm to pull, given the statistics of one arm set. */
export type PickArm = (arms: readonly ArmStats[], rng: Rng) => number;

export interface ArmTableState {
  /** values[layer][arm]: the action each arm stands for. */
  values: number[][];
  /** n, mean, m2 [layer][slot][arm]. */
  n: number[][][];
  mean: number[][][];
  m2: number[][][];
  /** Arms picked at the last act, not yet credited (with phases: held, and the phase's reward so far). */
  pending: Pending | null;
}

interface Pending {
  slot: number;
  arms: number[];
  reward?: number;
}

const filled = (layers: number, slots: number, arms: number): number[][][] =>
  Array.from({ length: layers }, () => Array.from({ length: slots }, () => Array<number>(arms).fill(0)));

const copy3 = (a: readonly number[][][]): number[][][] => a.map((perSlot) => perSlot.map((arms) => [...arms]));

export class ArmTable {
  /** values[layer][arm]. */
  readonly values: number[][];
  /** Arm sets per layer: --phases when set, else maxEpochs with --per-epoch, else 1. */
  readonly slots: number;
  /** Phases hold their arms (and, under reward credit, credit once per phase). */
  private readonly phased: boolean;
  private readonly maxEpochs: number;
  private readonly creditMode: CreditMode;
  private readonly poolPulls: number;
  private n: number[][][];
  private mean: number[][][];
  private m2: number[][][];
  private pending: Pending | null = null;

  constructor(ctx: AgentContext, arms: ArmSetConfig) {
    this.values = Array.from({ length: ctx.numLayers }, (_, layer) => banditArms(ctx, layer, arms.arms));
    this.phased = arms.phases > 0;
    this.creditMode = arms.credit;
    this.poolPulls = arms.poolPulls;
    this.maxEpochs = ctx.maxEpochs;
    this.slots = this.phased ? Math.min(arms.phases, ctx.maxEpochs) : arms.perEpoch ? ctx.maxEpochs : 1;
    const count = this.values[0]?.length ?? 0;
    this.n = filled(ctx.numLayers, this.slots, count);
    this.mean = filled(ctx.numLayers, this.slots, count);
    this.m2 = filled(ctx.numLayers, this.slots, count);
  }

  /** The arm set of the epoch about to be trained (0-based). */
  slotOf(epoch: number): number {
    const e = Math.max(epoch, 0);
    return Math.min(this.phased ? Math.floor((e * this.slots) / this.maxEpochs) : e, this.slots - 1);
  }

  /** The statistics of one arm set, its own alone. */
  ownStats(layer: number, slot: number): ArmStats[] {
    const n = this.n[layer]![slot]!;
    const mean = this.mean[layer]![slot]!;
    const m2 = this.m2[layer]![slot]!;
    return n.map((count, k) => ({ n: count, mean: mean[k]!, m2: m2[k]! }));
  }

  /**
   * What the pick rule sees for one arm set: its own statistics, each arm combined with the same arm's
   * pulls in every other set, weighted down to at most `poolPulls` pulls in all (see the header).
   */
  stats(layer: number, slot: number): ArmStats[] {
    const own = this.ownStats(layer, slot);
    if (this.poolPulls === 0) return own;
    return own.map((mine, k) => {
      let others: ArmStats = { n: 0, mean: 0, m2: 0 };
      this.n.forEach((perSlot, l) =>
        perSlot.forEach((_, t) => {
          if (l !== layer || t !== slot) others = combine(others, this.ownStats(l, t)[k]!);
        }),
      );
      if (others.n === 0) return mine;
      const w = Math.min(others.n, this.poolPulls) / others.n;
      return combine(mine, { n: others.n * w, mean: others.mean, m2: others.m2 * w });
    });
  }

  // act: every layer picks an arm; remember them for the credit

  choose(info: StepInfo, pick: PickArm, rng: Rng): Action {
    const slot = this.slotOf(info.epoch);
    if (this.phased && this.pending?.slot === slot) return this.pending.arms.map((k, layer) => this.values[layer]![k]!);
    this.settle();
    const arms = this.values.map((_, layer) => pick(this.stats(layer, slot), rng));
    this.pending = this.phased ? { slot, arms, reward: 0 } : { slot, arms };
    return arms.map((k, layer) => this.values[layer]![k]!);
  }

  // learn, reward credit: the step's reward goes to every arm picked for it (with phases, the phase's sum, once)

  credit(reward: number): void {
    if (this.pending === null || this.creditMode !== 'reward') return;
    if (this.phased) this.pending.reward = (this.pending.reward ?? 0) + reward;
    else this.update(this.pending, reward);
  }

  /** Credits a phase that has ended (the next phase starts, or the episode ends); final credit waits for the episode. */
  settle(): void {
    if (this.creditMode === 'reward' && this.phased && this.pending !== null)
      this.update(this.pending, this.pending.reward ?? 0);
    if (this.phased) this.pending = null;
  }

  // learn, final credit: every (layer, set) arm the episode pulled gets the episode's score, once

  /**
   * Reads the arms from the episode's actions (so an episode resumed from a checkpoint is credited in
   * full) and credits each distinct (layer, set, arm) once with `episodeScore(transitions)`.
   */
  creditEpisode(transitions: readonly Transition[]): void {
    this.pending = null;
    if (this.creditMode !== 'final' || transitions.length === 0) return;
    const score = episodeScore(transitions);
    const pulled = new Map<string, { layer: number; slot: number; k: number }>();
    for (const t of transitions) {
      // the transition after epoch e was chosen before it, at info.epoch = e − 1
      const slot = this.slotOf(t.epoch - 1);
      t.action.forEach((value, layer) => {
        const k = this.values[layer]?.findIndex((v) => Math.abs(v - value) < 1e-9) ?? -1;
        if (k >= 0) pulled.set(`${layer}:${slot}:${k}`, { layer, slot, k });
      });
    }
    for (const { layer, slot, k } of pulled.values()) this.updateOne(layer, slot, k, score);
  }

  private update({ slot, arms }: Pending, reward: number): void {
    arms.forEach((k, layer) => this.updateOne(layer, slot, k, reward));
    this.pending = null;
  }

  private updateOne(layer: number, slot: number, k: number, reward: number): void {
    const n = this.n[layer]![slot]!;
    const mean = this.mean[layer]![slot]!;
    const m2 = this.m2[layer]![slot]!;
    n[k]! += 1;
    const delta = reward - mean[k]!;
    mean[k]! += delta / n[k]!;
    m2[k]! += delta * (reward - mean[k]!);
  }

  /** Forgets picks that were never credited (an episode cut short). */
  clearPending(): void {
    this.pending = null;
  }

  // save/load

  save(): ArmTableState {
    return {
      values: this.values.map((v) => [...v]),
      n: copy3(this.n),
      mean: copy3(this.mean),
      m2: copy3(this.m2),
      pending: this.pending && { ...this.pending, arms: [...this.pending.arms] },
    };
  }

  /** Reads a saved table into this one; its arms and slots must be this run's. */
  load(agent: string, state: unknown): void {
    if (typeof state !== 'object' || state === null)
      throw stateError(agent, `table must be an object, got ${JSON.stringify(state)}`);
    const s = state as Record<string, unknown>;
    const layers = this.values.length;
    const arms = this.values[0]?.length ?? 0;
    const values = readArray<number[][]>(agent, 'table.values', s['values'], [layers, arms]);
    values.forEach((row, layer) =>
      row.forEach((v, k) => {
        if (Math.abs(v - this.values[layer]![k]!) > 1e-9) {
          throw stateError(
            agent,
            `table.values[${layer}] = ${JSON.stringify(row)} are not this run's arms ${JSON.stringify(this.values[layer])} (another --action or rate range?)`,
          );
        }
      }),
    );
    const shape = [layers, this.slots, arms]; // a wrong number of slots: another --per-epoch or --epochs
    const n = readArray<number[][][]>(agent, 'table.n', s['n'], shape);
    const mean = readArray<number[][][]>(agent, 'table.mean', s['mean'], shape);
    const m2 = readArray<number[][][]>(agent, 'table.m2', s['m2'], shape);
    n.forEach((perSlot, layer) =>
      perSlot.forEach((counts, slot) =>
        counts.forEach((c, k) => readInt(agent, `table.n[${layer}][${slot}][${k}]`, c)),
      ),
    );
    this.pending = this.readPending(agent, s['pending'], layers, arms);
    this.n = copy3(n);
    this.mean = copy3(mean);
    this.m2 = copy3(m2);
  }

  private readPending(agent: string, pending: unknown, layers: number, arms: number): Pending | null {
    if (pending === null) return null;
    if (typeof pending !== 'object' || pending === undefined)
      throw stateError(agent, `table.pending must be null or {slot, arms}, got ${JSON.stringify(pending)}`);
    const p = pending as Record<string, unknown>;
    const slot = readInt(agent, 'table.pending.slot', p['slot']);
    if (slot >= this.slots) throw stateError(agent, `table.pending.slot must be < ${this.slots}, got ${slot}`);
    const picked = readArray<number[]>(agent, 'table.pending.arms', p['arms'], [layers]);
    picked.forEach((k, layer) => {
      if (!Number.isInteger(k) || k < 0 || k >= arms)
        throw stateError(agent, `table.pending.arms[${layer}] must be an arm index < ${arms}, got ${k}`);
    });
    if (p['reward'] === undefined) return { slot, arms: [...picked] };
    if (typeof p['reward'] !== 'number' || !Number.isFinite(p['reward']))
      throw stateError(agent, `table.pending.reward must be a finite number, got ${JSON.stringify(p['reward'])}`);
    return { slot, arms: [...picked], reward: p['reward'] };
  }
}

// the agent: a table and a rule

/** A bandit agent: an ArmTable, a pick rule, and the agent's own random stream (both saved). */
export class TableBandit implements Agent {
  private rng: SavedRng;
  readonly table: ArmTable;

  constructor(
    readonly name: string,
    ctx: AgentContext,
    arms: ArmSetConfig,
    private readonly pick: PickArm,
  ) {
    this.rng = SavedRng.from(ctx.rng);
    this.table = new ArmTable(ctx, arms);
  }

  beginEpisode(): void {
    this.table.clearPending();
  }

  endEpisode(transitions: readonly Transition[] = []): void {
    this.table.settle();
    this.table.creditEpisode(transitions);
  }

  act(_observation: number[], info: StepInfo): Action {
    return this.table.choose(info, this.pick, this.rng);
  }

  learn(transition: Transition): void {
    this.table.credit(transition.reward);
  }

  saveState(): unknown {
    return { agent: this.name, version: 1, table: this.table.save(), rng: this.rng.save() };
  }

  loadState(state: unknown): void {
    const s = readState(this.name, state);
    const rng = SavedRng.restore(this.name, s['rng']);
    this.table.load(this.name, s['table']);
    this.rng = rng;
  }
}

// picking helpers

/** Two samples' statistics as one (Chan et al.'s parallel update of n, mean and m2; n may be fractional). */
export function combine(a: ArmStats, b: ArmStats): ArmStats {
  const n = a.n + b.n;
  if (n === 0) return { n: 0, mean: 0, m2: 0 };
  const delta = b.mean - a.mean;
  return { n, mean: a.mean + (delta * b.n) / n, m2: a.m2 + b.m2 + (delta * delta * a.n * b.n) / n };
}

/** An arm with fewer than `minPulls` pulls, drawn uniformly among them; undefined when there is none. */
export function underPulled(arms: readonly ArmStats[], minPulls: number, rng: Rng): number | undefined {
  const few = arms.flatMap((a, k) => (a.n < minPulls ? [k] : []));
  return few.length === 0 ? undefined : few[rng.int(few.length)];
}

/** Index of the largest value; ties are drawn uniformly (one draw from `rng`, only when there is a tie). */
export function argmax(values: readonly number[], rng: Rng): number {
  const top = Math.max(...values);
  const best = values.flatMap((v, k) => (v === top ? [k] : []));
  if (best.length === 0) throw new Error(`argmax: no maximum in ${JSON.stringify(values)}`);
  return best.length === 1 ? best[0]! : best[rng.int(best.length)]!;
}
