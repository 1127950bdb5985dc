/**
 * linucb: a contextual bandit, disjoint LinUCB (Li et al. 2010), on the observation.
 *
 * Context x = [observation…, 1] (the 1 is a bias feature). Every layer keeps, for each of its arms k
 * (the per-layer adjustments of `armValues`), A_k = I + Σ x xᵀ and b_k = Σ r x over the steps that
 * pulled k, and pulls
 *     argmax_k  θ_kᵀ x + α · sqrt(xᵀ A_k⁻¹ x),   θ_k = A_k⁻¹ b_k   (ridge regression of reward on x)
 * ties drawn uniformly. The picked arm of every layer is credited with the step's reward. There are no
 * per-epoch arm sets: the observation already carries the progress and the current rates. α is in
 * reward units, like ucb's c (delta rewards move by ~0.01), hence the default 0.1.
 */
import type * as MathJs from 'mathjs';
import { checkKnownKeys, checkNumber } from '../src/core/check.js';
import type { OptionSpec } from '../src/core/options.js';
import type { Action, Agent, AgentContext, StepInfo, Transition } from '../src/core/types.js';
import { argmax } from './bandit-table.js';
import { ALL_MODES, checkActionMode, type AgentEntry } from './entry.js';
import { armValues } from './rates.js';
import { readArray, readState, SavedRng, stateError } from './state.js';

/**
 * mathjs, given by the registry: in Node it is required on first use (it takes ~2 s to load, and only a
 * run of this agent should pay for it: agents/node-loaders.ts), in the browser it is bundled.
 */
export type MathjsLoader = () => typeof MathJs;

// config

export interface LinUcbConfig {
  /** α: weight of the confidence bonus, in reward units. @default 0.1 */
  alpha: number;
}

export const LINUCB_DEFAULTS: LinUcbConfig = { alpha: 0.1 };

export const LINUCB_OPTIONS: OptionSpec[] = [
  {
    key: 'alpha',
    flag: '--alpha',
    type: 'number',
    default: LINUCB_DEFAULTS.alpha,
    help: 'linucb: weight of the confidence bonus (reward units)',
  },
];

export function checkLinUcbConfig(partial: Partial<LinUcbConfig>): LinUcbConfig {
  checkKnownKeys('linucb', partial, Object.keys(LINUCB_DEFAULTS));
  const c = { ...LINUCB_DEFAULTS, ...partial };
  return { alpha: checkNumber('--alpha', c.alpha, 0, 1e6) };
}

const identity = (d: number): number[][] =>
  Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0)));

// agent

export class LinUcbAgent implements Agent {
  readonly name = 'linucb';
  private rng: SavedRng;
  /** values[layer][arm]: the action of each arm. */
  private readonly values: number[][];
  /** Context length: the observation plus the bias. */
  private readonly dim: number;
  /** A[layer][arm] (dim × dim) and b[layer][arm] (dim). */
  private A: number[][][][];
  private b: number[][][];
  /** The context and arms of the last act, credited by the next learn. */
  private pending: { x: number[]; arms: number[] } | null = null;

  constructor(
    readonly config: LinUcbConfig,
    ctx: AgentContext,
    private readonly math: MathjsLoader,
  ) {
    this.rng = SavedRng.from(ctx.rng);
    this.values = Array.from({ length: ctx.numLayers }, (_, layer) => armValues(ctx, layer));
    this.dim = ctx.observationSpace.size + 1;
    this.A = this.values.map((arms) => arms.map(() => identity(this.dim)));
    this.b = this.values.map((arms) => arms.map(() => Array<number>(this.dim).fill(0)));
  }

  /** θ = A⁻¹ b: the fitted reward weights of one arm (the last entry is the bias). */
  estimate(layer: number, arm: number): number[] {
    return this.math().multiply(this.math().inv(this.A[layer]![arm]!), this.b[layer]![arm]!) as number[];
  }

  beginEpisode(): void {
    this.pending = null;
  }

  // act

  act(observation: number[], _info: StepInfo): Action {
    const x = [...observation, 1];
    if (x.length !== this.dim)
      throw new Error(`linucb: observation has ${observation.length} entries, expected ${this.dim - 1}`);
    const arms = this.values.map((_, layer) =>
      argmax(
        this.A[layer]!.map((_a, k) => this.score(layer, k, x)),
        this.rng,
      ),
    );
    this.pending = { x, arms };
    return arms.map((k, layer) => this.values[layer]![k]!);
  }

  private score(layer: number, arm: number, x: number[]): number {
    const Ainv = this.math().inv(this.A[layer]![arm]!);
    const theta = this.math().multiply(Ainv, this.b[layer]![arm]!) as number[];
    const width = this.math().dot(x, this.math().multiply(Ainv, x) as number[]);
    return this.math().dot(theta, x) + this.config.alpha * Math.sqrt(Math.max(0, width));
  }

  // learn: A += x xᵀ, b += r x for the arm each layer pulled

  learn(transition: Transition): void {
    if (this.pending === null) return;
    const { x, arms } = this.pending;
    const xxT = this.math().multiply(this.math().transpose([x]), [x]) as number[][];
    const rx = this.math().multiply(transition.reward, x) as number[];
    arms.forEach((k, layer) => {
      this.A[layer]![k] = this.math().add(this.A[layer]![k]!, xxT) as number[][];
      this.b[layer]![k] = this.math().add(this.b[layer]![k]!, rx) as number[];
    });
    this.pending = null;
  }

  // save/load

  saveState(): unknown {
    const { values, A, b, pending } = this;
    return { agent: this.name, version: 1, ...structuredClone({ values, A, b, pending }), rng: this.rng.save() };
  }

  loadState(state: unknown): void {
    const s = readState(this.name, state);
    const layers = this.values.length;
    const arms = this.values[0]?.length ?? 0;
    const values = readArray<number[][]>(this.name, 'values', s['values'], [layers, arms]);
    if (values.some((row, layer) => row.some((v, k) => Math.abs(v - this.values[layer]![k]!) > 1e-9))) {
      throw stateError(
        this.name,
        `values ${JSON.stringify(values)} are not this run's arms ${JSON.stringify(this.values)} (another --action or rate range?)`,
      );
    }
    const A = readArray<number[][][][]>(this.name, 'A', s['A'], [layers, arms, this.dim, this.dim]);
    const b = readArray<number[][][]>(this.name, 'b', s['b'], [layers, arms, this.dim]);
    const p = s['pending'];
    let pending: LinUcbAgent['pending'] = null;
    if (p !== null) {
      if (typeof p !== 'object' || p === undefined)
        throw stateError(this.name, `pending must be null or {x, arms}, got ${JSON.stringify(p)}`);
      const x = readArray<number[]>(this.name, 'pending.x', (p as Record<string, unknown>)['x'], [this.dim]);
      const picked = readArray<number[]>(this.name, 'pending.arms', (p as Record<string, unknown>)['arms'], [layers]);
      if (picked.some((k) => !Number.isInteger(k) || k < 0 || k >= arms))
        throw stateError(this.name, `pending.arms must be arm indices < ${arms}, got ${JSON.stringify(picked)}`);
      pending = { x: [...x], arms: [...picked] };
    }
    const rng = SavedRng.restore(this.name, s['rng']);
    this.A = A.map((perArm) => perArm.map((m) => m.map((row) => [...row])));
    this.b = b.map((perArm) => perArm.map((v) => [...v]));
    this.pending = pending;
    this.rng = rng;
  }
}

// registry entry

/** The linucb agent's entry, mathjs from `math`. */
export function linUcbEntryWith(math: MathjsLoader): AgentEntry {
  return {
    description: 'contextual bandit: LinUCB on the observation, per layer and arm',
    options: LINUCB_OPTIONS,
    defaultActionMode: 'discrete',
    supports: ALL_MODES,
    check: (options) => ({ ...checkLinUcbConfig(options as Partial<LinUcbConfig>) }),
    create(options, ctx) {
      const c = checkLinUcbConfig(options as Partial<LinUcbConfig>);
      checkActionMode('linucb', ctx, ALL_MODES);
      return new LinUcbAgent(c, ctx, math);
    },
  };
}
