/**
 * What the three bandits epsilon-greedy, ucb and thompson share: their arms, the statistics of each arm,
 * crediting a step's reward, and saving all of it. Each agent file only says how it picks an arm.
 *
 * Arms are the per-layer adjustments of `armValues` (discrete: down/keep/up; continuous: −δmax/0/+δmax;
 * absolute: the rate grid). Every layer has its own arm set; with --per-epoch there is one per (layer,
 * epoch index), so the bandit learns a schedule, otherwise one per layer shared by all epochs. At each step
 * every layer picks from its set for t = info.epoch (the epoch about to be trained; epochs past
 * maxEpochs use the last set), and `credit` gives every picked arm the step's reward. Statistics carry
 * over from episode to episode.
 *
 * Per arm: pulls n, mean reward, and m2 = Σ (reward − mean)² (Welford's update), for Thompson's variance.
 * `TableBandit` is the agent itself; each bandit's file supplies only its `PickArm` rule.
 */
import type { OptionSpec } from '../src/core/options.js';
import type { Rng } from '../src/core/rng.js';
import type { Action, Agent, AgentContext, StepInfo, Transition } from '../src/core/types.js';
import { armValues } from './rates.js';
import { readArray, readInt, readState, SavedRng, stateError } from './state.js';

/** --per-epoch, shared by the three bandits. */
export const PER_EPOCH_OPTION: OptionSpec = {
  key: 'perEpoch', flag: '--per-epoch', type: 'boolean', default: true,
  help: 'bandits: separate arms for every epoch (learn a schedule); false: one set per layer',
};

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
  /** Arms picked at the last act, not yet credited. */
  pending: { slot: number; arms: number[] } | null;
}

const filled = (layers: number, slots: number, arms: number): number[][][] =>
  Array.from({ length: layers }, () => Array.from({ length: slots }, () => Array<number>(arms).fill(0)));

const copy3 = (a: readonly number[][][]): number[][][] => a.map((perSlot) => perSlot.map((arms) => [...arms]));

export class ArmTable {
  /** values[layer][arm]. */
  readonly values: number[][];
  /** Arm sets per layer: maxEpochs with --per-epoch, else 1. */
  readonly slots: number;
  private n: number[][][];
  private mean: number[][][];
  private m2: number[][][];
  private pending: { slot: number; arms: number[] } | null = null;

  constructor(ctx: AgentContext, perEpoch: boolean) {
    this.values = Array.from({ length: ctx.numLayers }, (_, layer) => armValues(ctx, layer));
    this.slots = perEpoch ? ctx.maxEpochs : 1;
    const arms = this.values[0]?.length ?? 0;
    this.n = filled(ctx.numLayers, this.slots, arms);
    this.mean = filled(ctx.numLayers, this.slots, arms);
    this.m2 = filled(ctx.numLayers, this.slots, arms);
  }

  slotOf(epoch: number): number {
    return Math.min(Math.max(epoch, 0), this.slots - 1);
  }

  /** The statistics of one arm set. */
  stats(layer: number, slot: number): ArmStats[] {
    const n = this.n[layer]![slot]!;
    const mean = this.mean[layer]![slot]!;
    const m2 = this.m2[layer]![slot]!;
    return n.map((count, k) => ({ n: count, mean: mean[k]!, m2: m2[k]! }));
  }

  // act: every layer picks an arm; remember them for the credit

  choose(info: StepInfo, pick: PickArm, rng: Rng): Action {
    const slot = this.slotOf(info.epoch);
    const arms = this.values.map((_, layer) => pick(this.stats(layer, slot), rng));
    this.pending = { slot, arms };
    return arms.map((k, layer) => this.values[layer]![k]!);
  }

  // learn: the step's reward goes to every arm picked for it

  credit(reward: number): void {
    if (this.pending === null) return;
    const { slot, arms } = this.pending;
    arms.forEach((k, layer) => {
      const n = this.n[layer]![slot]!;
      const mean = this.mean[layer]![slot]!;
      const m2 = this.m2[layer]![slot]!;
      n[k]! += 1;
      const delta = reward - mean[k]!;
      mean[k]! += delta / n[k]!;
      m2[k]! += delta * (reward - mean[k]!);
    });
    this.pending = null;
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
      pending: this.pending && { slot: this.pending.slot, arms: [...this.pending.arms] },
    };
  }

  /** Reads a saved table into this one; its arms and slots must be this run's. */
  load(agent: string, state: unknown): void {
    if (typeof state !== 'object' || state === null) throw stateError(agent, `table must be an object, got ${JSON.stringify(state)}`);
    const s = state as Record<string, unknown>;
    const layers = this.values.length;
    const arms = this.values[0]?.length ?? 0;
    const values = readArray<number[][]>(agent, 'table.values', s['values'], [layers, arms]);
    values.forEach((row, layer) =>
      row.forEach((v, k) => {
        if (Math.abs(v - this.values[layer]![k]!) > 1e-9) {
          throw stateError(agent, `table.values[${layer}] = ${JSON.stringify(row)} are not this run's arms ${JSON.stringify(this.values[layer])} (another --action or rate range?)`);
        }
      }),
    );
    const shape = [layers, this.slots, arms]; // a wrong number of slots: another --per-epoch or --epochs
    const n = readArray<number[][][]>(agent, 'table.n', s['n'], shape);
    const mean = readArray<number[][][]>(agent, 'table.mean', s['mean'], shape);
    const m2 = readArray<number[][][]>(agent, 'table.m2', s['m2'], shape);
    n.forEach((perSlot, layer) => perSlot.forEach((counts, slot) => counts.forEach((c, k) => readInt(agent, `table.n[${layer}][${slot}][${k}]`, c))));
    this.pending = this.readPending(agent, s['pending'], layers, arms);
    this.n = copy3(n);
    this.mean = copy3(mean);
    this.m2 = copy3(m2);
  }

  private readPending(agent: string, pending: unknown, layers: number, arms: number): ArmTableState['pending'] {
    if (pending === null) return null;
    if (typeof pending !== 'object' || pending === undefined) throw stateError(agent, `table.pending must be null or {slot, arms}, got ${JSON.stringify(pending)}`);
    const p = pending as Record<string, unknown>;
    const slot = readInt(agent, 'table.pending.slot', p['slot']);
    if (slot >= this.slots) throw stateError(agent, `table.pending.slot must be < ${this.slots}, got ${slot}`);
    const picked = readArray<number[]>(agent, 'table.pending.arms', p['arms'], [layers]);
    picked.forEach((k, layer) => {
      if (!Number.isInteger(k) || k < 0 || k >= arms) throw stateError(agent, `table.pending.arms[${layer}] must be an arm index < ${arms}, got ${k}`);
    });
    return { slot, arms: [...picked] };
  }
}

// the agent: a table and a rule

/** A bandit agent: an ArmTable, a pick rule, and the agent's own random stream (both saved). */
export class TableBandit implements Agent {
  private rng: SavedRng;
  readonly table: ArmTable;

  constructor(readonly name: string, ctx: AgentContext, perEpoch: boolean, private readonly pick: PickArm) {
    this.rng = SavedRng.from(ctx.rng);
    this.table = new ArmTable(ctx, perEpoch);
  }

  beginEpisode(): void {
    this.table.clearPending();
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
