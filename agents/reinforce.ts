/**
 * reinforce: REINFORCE (Williams 1992) with a baseline; a small tfjs policy network on the observation.
 *
 * Policy: observation → dense(--hidden, tanh) → head, per layer:
 *   discrete    a categorical over down/keep/up (3 logits per layer)
 *   continuous  a Gaussian delta: mean = tanh(z)·δmax, σ = δmax·exp(logStd), logStd learned per layer
 *   absolute    the same Gaussian mapped onto [minRate, maxRate]: mean = centre + halfWidth·tanh(z),
 *               σ = halfWidth·exp(logStd), centre and halfWidth those of [minRate, maxRate]
 * A Gaussian sample u goes to the env clipped into the action Box; the gradient uses log N(u) of the
 * unclipped sample, the usual clipped-Gaussian policy gradient. logStd is kept within [−5, 0] (σ at most the half-width).
 * Every draw (a uniform for the categorical's inverse CDF, a normal for the Gaussian, the seeds of the
 * initializers) comes from the agent's stream, forked from ctx.rng.
 *
 * Learning, after every --batch-episodes finished episodes, one Adam step on the policy's own variables
 * (never the env model's, which live in the same tfjs engine):
 *   G_t = Σ_{k ≥ t} γ^(k−t) r_k                              returns-to-go
 *   A_t = G_t − b_t                                         b: --baseline mean: running mean of G at step t
 *                                                              (exact over 10 episodes, then weight 1/10);
 *                                                              --baseline value: V(s_t), a separate net of the
 *                                                              same shape, one Adam step on (V(s_t) − G_t)²
 *                                                              per update
 *   loss = −mean_t[log π(a_t | s_t) · A_t] − β · mean_t H(π(· | s_t))     β = --entropy
 * γ (--gamma) defaults to 1: with delta rewards the return telescopes to final − initial validation
 * accuracy, which is what we want; discounting would prefer early accuracy to final accuracy, and
 * episodes are ~10 steps, so the variance it would save is small.
 * Advantages are not rescaled: Adam's step does not depend on the gradient's scale, and rescaling by the
 * batch's spread made a near-deterministic policy reinforce itself (tried on the test task), so β is in
 * reward units: it weighs nats of entropy against advantages.
 * Adam is written out (not tf.train.adam) so its moments are variables saveState can write as numbers.
 */
import * as tf from '@tensorflow/tfjs';
import { checkInt, checkKnownKeys, checkNumber, checkOneOf } from '../src/core/check.js';
import type { OptionSpec } from '../src/core/options.js';
import type { Rng } from '../src/core/rng.js';
import type { Action, ActionMode, Agent, AgentContext, StepInfo, Transition } from '../src/core/types.js';
import { ALL_MODES, checkActionMode, type AgentEntry } from './entry.js';
import { boxOf, clamp } from './rates.js';
import { readArray, readInt, readState, SavedRng, stateError } from './state.js';

// config

export const BASELINES = ['mean', 'value'] as const;
export type Baseline = (typeof BASELINES)[number];

export interface ReinforceConfig {
  /** What is subtracted from the return: a running mean per time step, or a learned value net. @default 'mean' */
  baseline: Baseline;
  /** γ, the discount (see above for why 1). @default 1 */
  gamma: number;
  /** β, weight of the entropy bonus. @default 0.01 */
  entropy: number;
  /** Adam learning rate of the policy (and value) net; --lr is the env's. @default 0.01 */
  policyLr: number;
  /** Units of the hidden layer. @default 32 */
  hidden: number;
  /** Episodes per update. @default 1 */
  batchEpisodes: number;
}

export const REINFORCE_DEFAULTS: ReinforceConfig = {
  baseline: 'mean',
  gamma: 1,
  entropy: 0.01,
  policyLr: 0.01,
  hidden: 32,
  batchEpisodes: 1,
};

export const REINFORCE_OPTIONS: OptionSpec[] = [
  {
    key: 'baseline',
    flag: '--baseline',
    type: 'string',
    default: REINFORCE_DEFAULTS.baseline,
    help: 'reinforce: mean (running mean of returns per step) or value (a learned value net)',
    choices: BASELINES,
  },
  {
    key: 'gamma',
    flag: '--gamma',
    type: 'number',
    default: REINFORCE_DEFAULTS.gamma,
    help: 'curriculum schedule: rise per epoch; reinforce: discount',
  },
  {
    key: 'entropy',
    flag: '--entropy',
    type: 'number',
    default: REINFORCE_DEFAULTS.entropy,
    help: 'reinforce: weight of the entropy bonus',
  },
  {
    key: 'policyLr',
    flag: '--policy-lr',
    type: 'number',
    default: REINFORCE_DEFAULTS.policyLr,
    help: 'reinforce: Adam learning rate of the policy net',
  },
  {
    key: 'hidden',
    flag: '--hidden',
    type: 'int',
    default: REINFORCE_DEFAULTS.hidden,
    help: 'reinforce: hidden units of the policy net',
  },
  {
    key: 'batchEpisodes',
    flag: '--batch-episodes',
    type: 'int',
    default: REINFORCE_DEFAULTS.batchEpisodes,
    help: 'reinforce: episodes per policy update',
  },
];

export function checkReinforceConfig(partial: Partial<ReinforceConfig>): ReinforceConfig {
  checkKnownKeys('reinforce', partial, Object.keys(REINFORCE_DEFAULTS));
  const c = { ...REINFORCE_DEFAULTS, ...partial };
  return {
    baseline: checkOneOf('--baseline', c.baseline, BASELINES),
    gamma: checkNumber('--gamma', c.gamma, 0, 1),
    entropy: checkNumber('--entropy', c.entropy, 0, 100),
    policyLr: checkNumber('--policy-lr', c.policyLr, 1e-7, 10),
    hidden: checkInt('--hidden', c.hidden, 1, 4096),
    batchEpisodes: checkInt('--batch-episodes', c.batchEpisodes, 1),
  };
}

const LOG_STD_MIN = -5;
const LOG_STD_MAX = 0;
/** The running-mean baseline weighs a new return at least 1/this. */
const BASELINE_WINDOW = 10;

// networks

/** observation → dense(hidden, tanh) → dense(outputs); weights seeded from `rng`. */
class Mlp {
  readonly variables: tf.Variable[];

  constructor(inputs: number, hidden: number, outputs: number, rng: Rng, smallHead: boolean) {
    const head = smallHead
      ? tf.initializers.randomNormal({ mean: 0, stddev: 0.01, seed: rng.seed() })
      : tf.initializers.glorotUniform({ seed: rng.seed() });
    this.variables = [
      makeVariable(tf.initializers.glorotUniform({ seed: rng.seed() }).apply([inputs, hidden])),
      makeVariable(tf.zeros([hidden])),
      makeVariable(head.apply([hidden, outputs])),
      makeVariable(tf.zeros([outputs])),
    ];
  }

  /** Call inside tf.tidy. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    const [w1, b1, w2, b2] = this.variables as [tf.Variable, tf.Variable, tf.Variable, tf.Variable];
    return tf
      .tanh(x.matMul(w1 as tf.Tensor2D).add(b1))
      .matMul(w2 as tf.Tensor2D)
      .add(b2);
  }
}

/** A trainable variable holding `initial`, which is then freed. */
function makeVariable(initial: tf.Tensor): tf.Variable {
  const v = tf.variable(initial, true);
  initial.dispose();
  return v;
}

// Adam, written out so that its state is plain variables

class Adam {
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  step = 0;

  constructor(
    private readonly params: tf.Variable[],
    private readonly lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    this.m = params.map((p) => makeVariable(tf.zerosLike(p)));
    this.v = params.map((p) => makeVariable(tf.zerosLike(p)));
  }

  get variables(): tf.Variable[] {
    return [...this.m, ...this.v];
  }

  /** One step down the gradient of `loss` (a scalar of `params`). */
  minimize(loss: () => tf.Scalar): void {
    this.step += 1;
    const { beta1, beta2, eps, lr, step } = this;
    tf.tidy(() => {
      const { grads } = tf.variableGrads(loss, this.params);
      this.params.forEach((p, i) => {
        const g = grads[p.name]!;
        const m = this.m[i]!;
        const v = this.v[i]!;
        m.assign(m.mul(beta1).add(g.mul(1 - beta1)));
        v.assign(v.mul(beta2).add(g.square().mul(1 - beta2)));
        const mHat = m.div(1 - beta1 ** step);
        const vHat = v.div(1 - beta2 ** step);
        p.assign(p.sub(mHat.mul(lr).div(vHat.sqrt().add(eps))));
      });
    });
  }

  dispose(): void {
    tf.dispose(this.variables);
  }
}

// agent

/** One episode: observations, samples (discrete: arm indices; Gaussian: unclipped u), rewards (empty while it runs). */
interface Episode {
  observations: number[][];
  samples: number[][];
  rewards: number[];
}

export class ReinforceAgent implements Agent {
  readonly name = 'reinforce';
  private rng: SavedRng;
  private readonly mode: ActionMode;
  private readonly layers: number;
  private readonly obsSize: number;
  private readonly policy: Mlp;
  /** Gaussian modes: log σ per layer, relative to the half-width. */
  private readonly logStd: tf.Variable | null;
  private readonly policyOpt: Adam;
  private readonly value: Mlp | null;
  private readonly valueOpt: Adam | null;
  /** Gaussian modes: centre and half-width of the action Box, per layer. */
  private readonly centre: number[];
  private readonly halfWidth: number[];
  private readonly low: number[];
  private readonly high: number[];
  /** Running mean of the return-to-go at each step, and how many episodes went into it. */
  private baselineMean: number[] = [];
  private baselineCount: number[] = [];
  private current: Episode = { observations: [], samples: [], rewards: [] };
  private batch: Episode[] = [];

  constructor(
    readonly config: ReinforceConfig,
    ctx: AgentContext,
  ) {
    this.rng = SavedRng.from(ctx.rng);
    this.mode = ctx.actionMode;
    this.layers = ctx.numLayers;
    this.obsSize = ctx.observationSpace.size;
    const discrete = this.mode === 'discrete';
    const box = discrete ? null : boxOf(ctx);
    this.low = box ? [...box.low] : [];
    this.high = box ? [...box.high] : [];
    this.centre = this.low.map((lo, i) => (lo + this.high[i]!) / 2);
    // A zero-width Box (δmax = 0) still needs σ > 0 for a finite log-probability.
    this.halfWidth = this.low.map((lo, i) => Math.max((this.high[i]! - lo) / 2, 1e-6));

    this.policy = new Mlp(this.obsSize, config.hidden, discrete ? 3 * this.layers : this.layers, this.rng, true);
    this.logStd = discrete ? null : makeVariable(tf.fill([this.layers], Math.log(0.5)));
    this.policyOpt = new Adam(this.policyVariables(), config.policyLr);
    this.value = config.baseline === 'value' ? new Mlp(this.obsSize, config.hidden, 1, this.rng, false) : null;
    this.valueOpt = this.value ? new Adam(this.value.variables, config.policyLr) : null;
  }

  private policyVariables(): tf.Variable[] {
    return this.logStd ? [...this.policy.variables, this.logStd] : [...this.policy.variables];
  }

  beginEpisode(): void {
    this.current = { observations: [], samples: [], rewards: [] };
  }

  // act

  act(observation: number[], info: StepInfo): Action {
    if (observation.length !== this.obsSize)
      throw new Error(`reinforce: observation has ${observation.length} entries, expected ${this.obsSize}`);
    // An episode that started without beginEpisode (or after one cut short) starts a fresh buffer.
    if (info.epoch === 0 && this.current.observations.length > 0) this.beginEpisode();
    // Discrete: [probabilities]; Gaussian: [mean, σ].
    const tensors = tf.tidy(() => {
      const pi = this.policyAt(tf.tensor2d([observation]));
      return 'logp' in pi ? [tf.exp(pi.logp)] : [pi.mean, tf.exp(pi.logStd)];
    });
    const params = tensors.map((t) => Array.from(t.dataSync()));
    tf.dispose(tensors);

    let sample: number[];
    let action: number[];
    if (this.mode === 'discrete') {
      const probs = params[0]!;
      sample = Array.from({ length: this.layers }, (_, layer) =>
        this.drawCategorical(probs.slice(3 * layer, 3 * layer + 3)),
      );
      action = sample;
    } else {
      const [mean, std] = params as [number[], number[]];
      sample = mean.map((mu, layer) => mu + std[layer]! * this.rng.normal());
      action = sample.map((u, layer) => clamp(u, this.low[layer]!, this.high[layer]!));
    }
    this.current.observations.push([...observation]);
    this.current.samples.push(sample);
    return action;
  }

  /**
   * The policy at the observations x (N rows). Discrete: log-probabilities [N, L, 3]. Gaussian: the mean
   * [N, L] and log σ [L] (σ in rate units). Call inside tf.tidy or a gradient tape.
   */
  private policyAt(x: tf.Tensor2D): { logp: tf.Tensor3D } | { mean: tf.Tensor2D; logStd: tf.Tensor1D } {
    const z = this.policy.apply(x);
    if (this.mode === 'discrete') return { logp: tf.logSoftmax(z.reshape([-1, this.layers, 3])) as tf.Tensor3D };
    const half = tf.tensor1d(this.halfWidth);
    return { mean: tf.tanh(z).mul(half).add(tf.tensor1d(this.centre)), logStd: this.logStd!.add(tf.log(half)) };
  }

  /** Inverse CDF of a categorical with one uniform from the agent's stream. */
  private drawCategorical(probs: number[]): number {
    const u = this.rng.next();
    let cumulative = 0;
    for (let k = 0; k < probs.length - 1; k++) {
      cumulative += probs[k]!;
      if (u < cumulative) return k;
    }
    return probs.length - 1;
  }

  // learn: after each finished episode, an update every --batch-episodes

  endEpisode(transitions: readonly Transition[]): void {
    const steps = Math.min(this.current.observations.length, transitions.length);
    if (steps > 0) {
      this.batch.push({
        observations: this.current.observations.slice(0, steps),
        samples: this.current.samples.slice(0, steps),
        rewards: transitions.slice(0, steps).map((t) => t.reward),
      });
    }
    this.beginEpisode();
    if (this.batch.length >= this.config.batchEpisodes) {
      this.update(this.batch);
      this.batch = [];
    }
  }

  private update(episodes: readonly Episode[]): void {
    const returns = episodes.map((e) => this.returnsToGo(e.rewards));
    const observations = episodes.flatMap((e) => e.observations);
    const samples = episodes.flatMap((e) => e.samples);
    const targets = returns.flat();
    const baselines = this.value
      ? this.predictValues(observations)
      : returns.flatMap((g) => g.map((_, t) => this.baselineMean[t] ?? 0));
    const advantages = targets.map((g, i) => g - baselines[i]!);

    const x = tf.tensor2d(observations);
    const adv = tf.tensor1d(advantages);
    const taken = tf.tensor2d(samples);
    this.policyOpt.minimize(() => {
      const { logProb, entropy } = this.logProbAndEntropy(x, taken);
      return logProb.mul(adv).mean().neg().sub(entropy.mean().mul(this.config.entropy)) as tf.Scalar;
    });
    // Kept in range by clipping the variable, not the forward pass, so the gradient never vanishes at a bound.
    const logStd = this.logStd;
    if (logStd) tf.tidy(() => logStd.assign(tf.clipByValue(logStd, LOG_STD_MIN, LOG_STD_MAX)));
    if (this.value && this.valueOpt) {
      const value = this.value;
      const g = tf.tensor1d(targets);
      this.valueOpt.minimize(() => tf.losses.meanSquaredError(g, value.apply(x).reshape([-1])) as tf.Scalar);
      g.dispose();
    } else {
      for (const g of returns) g.forEach((ret, t) => this.updateBaseline(t, ret));
    }
    tf.dispose([x, adv, taken]);
  }

  private returnsToGo(rewards: readonly number[]): number[] {
    const out = Array<number>(rewards.length);
    let g = 0;
    for (let t = rewards.length - 1; t >= 0; t--) {
      g = rewards[t]! + this.config.gamma * g;
      out[t] = g;
    }
    return out;
  }

  private updateBaseline(t: number, ret: number): void {
    const n = (this.baselineCount[t] ?? 0) + 1;
    const mean = this.baselineMean[t] ?? 0;
    this.baselineCount[t] = n;
    this.baselineMean[t] = mean + (ret - mean) / Math.min(n, BASELINE_WINDOW);
  }

  private predictValues(observations: number[][]): number[] {
    const value = this.value!;
    const v = tf.tidy(() => value.apply(tf.tensor2d(observations)).reshape([-1]));
    const out = Array.from(v.dataSync());
    v.dispose();
    return out;
  }

  /** Per step: log π(taken | x) and the entropy of π(· | x), summed over layers. Call inside a tape. */
  private logProbAndEntropy(x: tf.Tensor2D, taken: tf.Tensor2D): { logProb: tf.Tensor1D; entropy: tf.Tensor1D } {
    const pi = this.policyAt(x);
    if ('logp' in pi) {
      return {
        logProb: pi.logp.mul(tf.oneHot(taken.toInt(), 3)).sum([1, 2]) as tf.Tensor1D,
        entropy: tf.exp(pi.logp).mul(pi.logp).sum([1, 2]).neg() as tf.Tensor1D,
      };
    }
    const zScore = taken.sub(pi.mean).div(tf.exp(pi.logStd));
    const logProb = zScore
      .square()
      .mul(-0.5)
      .sub(pi.logStd)
      .sub(0.5 * Math.log(2 * Math.PI))
      .sum(1) as tf.Tensor1D;
    const entropy = pi.logStd
      .add(0.5 * Math.log(2 * Math.PI * Math.E))
      .sum()
      .mul(tf.onesLike(logProb)) as tf.Tensor1D;
    return { logProb, entropy };
  }

  // save/load: weights and Adam moments as number arrays, the baseline, unfinished batches, the stream

  saveState(): unknown {
    const numbers = (vars: readonly tf.Variable[]) => vars.map((v) => Array.from(v.dataSync()));
    return {
      agent: this.name,
      version: 1,
      mode: this.mode,
      policy: numbers(this.policyVariables()),
      policyAdam: { step: this.policyOpt.step, moments: numbers(this.policyOpt.variables) },
      value:
        this.value && this.valueOpt
          ? {
              weights: numbers(this.value.variables),
              adam: { step: this.valueOpt.step, moments: numbers(this.valueOpt.variables) },
            }
          : null,
      baseline: { mean: [...this.baselineMean], count: [...this.baselineCount] },
      batch: structuredClone(this.batch),
      current: structuredClone(this.current),
      rng: this.rng.save(),
    };
  }

  loadState(state: unknown): void {
    const name = this.name;
    const s = readState(name, state);
    if (s['mode'] !== this.mode)
      throw stateError(name, `was saved in --action ${JSON.stringify(s['mode'])}, this run uses ${this.mode}`);
    const readWeights = (where: string, value: unknown, vars: readonly tf.Variable[]): number[][] => {
      const arrays = readArray<number[][]>(name, where, value, [vars.length, undefined]);
      arrays.forEach((a, i) => {
        if (a.length !== vars[i]!.size)
          throw stateError(
            name,
            `${where}[${i}] has ${a.length} values, this network needs ${vars[i]!.size} (another --hidden, model or --action?)`,
          );
      });
      return arrays;
    };
    const readAdam = (where: string, value: unknown, opt: Adam): { step: number; moments: number[][] } => {
      if (typeof value !== 'object' || value === null)
        throw stateError(name, `${where} must be {step, moments}, got ${JSON.stringify(value)}`);
      const a = value as Record<string, unknown>;
      return {
        step: readInt(name, `${where}.step`, a['step']),
        moments: readWeights(`${where}.moments`, a['moments'], opt.variables),
      };
    };
    const policy = readWeights('policy', s['policy'], this.policyVariables());
    const policyAdam = readAdam('policyAdam', s['policyAdam'], this.policyOpt);
    let value: { weights: number[][]; adam: { step: number; moments: number[][] } } | null = null;
    if (this.value && this.valueOpt) {
      const v = s['value'];
      if (typeof v !== 'object' || v === null)
        throw stateError(
          name,
          `value must hold the value net (this run has --baseline value), got ${JSON.stringify(v)}`,
        );
      const vr = v as Record<string, unknown>;
      value = {
        weights: readWeights('value.weights', vr['weights'], this.value.variables),
        adam: readAdam('value.adam', vr['adam'], this.valueOpt),
      };
    } else if (s['value'] !== null) {
      throw stateError(name, 'holds a value net but this run has --baseline mean');
    }
    const baseline = s['baseline'] as Record<string, unknown> | null;
    if (typeof baseline !== 'object' || baseline === null)
      throw stateError(name, `baseline must be {mean, count}, got ${JSON.stringify(baseline)}`);
    const baselineMean = readArray<number[]>(name, 'baseline.mean', baseline['mean'], [undefined]);
    const baselineCount = readArray<number[]>(name, 'baseline.count', baseline['count'], [baselineMean.length]);
    const batch = this.readEpisodes('batch', s['batch']);
    const current = this.readEpisodes('current', [s['current']])[0]!;
    const rng = SavedRng.restore(name, s['rng']);

    const assign = (vars: readonly tf.Variable[], arrays: number[][]) =>
      vars.forEach((v, i) => {
        const t = tf.tensor(arrays[i]!, v.shape);
        v.assign(t);
        t.dispose();
      });
    assign(this.policyVariables(), policy);
    assign(this.policyOpt.variables, policyAdam.moments);
    this.policyOpt.step = policyAdam.step;
    if (value && this.value && this.valueOpt) {
      assign(this.value.variables, value.weights);
      assign(this.valueOpt.variables, value.adam.moments);
      this.valueOpt.step = value.adam.step;
    }
    this.baselineMean = [...baselineMean];
    this.baselineCount = [...baselineCount];
    this.batch = batch;
    this.current = current;
    this.rng = rng;
  }

  private readEpisodes(where: string, value: unknown): Episode[] {
    if (!Array.isArray(value)) throw stateError(this.name, `${where} must be an array, got ${JSON.stringify(value)}`);
    return value.map((e: unknown, i) => {
      if (typeof e !== 'object' || e === null)
        throw stateError(this.name, `${where}[${i}] must be {observations, samples, rewards}`);
      const r = e as Record<string, unknown>;
      const observations = readArray<number[][]>(this.name, `${where}[${i}].observations`, r['observations'], [
        undefined,
        this.obsSize,
      ]);
      const samples = readArray<number[][]>(this.name, `${where}[${i}].samples`, r['samples'], [
        observations.length,
        this.layers,
      ]);
      const rewards = readArray<number[]>(this.name, `${where}[${i}].rewards`, r['rewards'], [undefined]);
      if (rewards.length !== 0 && rewards.length !== observations.length)
        throw stateError(this.name, `${where}[${i}].rewards must have one reward per observation`);
      return structuredClone({ observations, samples, rewards });
    });
  }

  dispose(): void {
    tf.dispose(this.policyVariables());
    this.policyOpt.dispose();
    if (this.value) tf.dispose(this.value.variables);
    this.valueOpt?.dispose();
  }
}

// registry entry

export const reinforceEntry: AgentEntry = {
  description: 'policy gradient: REINFORCE with a baseline, a small tfjs policy net on the observation',
  options: REINFORCE_OPTIONS,
  defaultActionMode: 'discrete',
  supports: ALL_MODES,
  check: (options) => ({ ...checkReinforceConfig(options as Partial<ReinforceConfig>) }),
  create(options, ctx) {
    const c = checkReinforceConfig(options as Partial<ReinforceConfig>);
    checkActionMode('reinforce', ctx, ALL_MODES);
    return new ReinforceAgent(c, ctx);
  },
};
