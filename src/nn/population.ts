/**
 * A population of P MLPs (the same architecture, their own weights, rates, masks and shuffles) trained
 * as one batched graph per step: every dense layer is one PopulationMatMul over kernels [P, in, out]
 * (src/nn/population-matmul.ts), every element-wise op, softmax and loss runs once over [P, batch, …],
 * and one fused Adam pass updates all members. A batch's forward and backward pass is mlpBatch's
 * (src/nn/mlp-step.ts, no gradient tape), the same code a single MLP run trains with; the objective is
 * the sum of the members' losses, so each member's gradient is its own loss's.
 *
 * Why: for MLPs of this size an epoch's cost is per-op dispatch as much as FLOPs, and a grid's members
 * on one seed (or PBT's generation) dispatch the same ops P times over.
 *
 * Exactness: a member starts from a DropoutEnv snapshot (its weights, mask streams, shuffle stream and
 * Adam state; `env.snapshot()` fits MemberState as it is) and each batch repeats the single run's
 * kernels on the member's slice: the same host-side batch gather, the same masks from the same streams
 * (a rate-0 layer draws none, as TunableDropout), the same matmul kernel on the same operands (training:
 * matmul, bias add, relu; the output layer's fused matmul; inference: fused matmul + bias + relu), the
 * same row-wise softmax and cross-entropy, the same Adam arithmetic (src/nn/adam.ts's adamUpdate per
 * member segment). Reductions over the batch run per member in the same order. So a member's numbers
 * are meant to be bit-identical to its single run: test/nn/population.test.ts checks gradients, an
 * epoch's weights, the statistics and validation figures for equality.
 *
 * Use: members from envs reset on their seeds (or from memberStateOf(buildModel(…), shuffleRng)), then per
 * epoch set rates, train, evaluate; memberState(p) goes back into an env with the rest of its snapshot:
 *   const pop = new PopulationTrainer({ units: [784, 512, 512, 10], inputDropout: true }, envs.map((e) => e.snapshot()));
 *   pop.setRates(p, rates);  const train = await pop.trainEpoch(data.train);  const val = await pop.evaluate(x, labels);
 *   env.restore({ ...env.snapshot(), ...pop.memberState(p) });   // plus the epoch/history it keeps itself
 *
 * Speed: the members' matmuls (one XNNPACK call per member, kept for exactness) and Adam still scale
 * with P; what is shared is dispatch. At mlp:512,512 on 1,000 digits an epoch is mostly FLOPs, so 6
 * members cost about 5× one member (`npm run bench -- --sections population`), not 6×.
 *
 * Scope: built-in `mlp:` models without BatchNorm or concrete dropout, trained with Adam (the env's
 * default); other configurations are refused with a ConfigError.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../core/errors.js';
import { permutation, restoreRng, type Rng, type RngState } from '../core/rng.js';
import { adamUpdate, type AdamState } from './adam.js';
import type { BuiltModel } from './models.js';
import type { OptimizerState } from './optimizer.js';
import { KernelRunner, mlpBatch, type DenseWeights } from './mlp-step.js';
import { populationMatMul } from './population-matmul.js';
import { hostValues } from './wasm-kernels.js';
import { wasmAdamUpdate } from './wasm-adam.js';
import type { EpochStats, EvalStats, HostSplit } from './trainer.js';
import { checkRate } from '../core/check.js';
import { dropoutMask } from './tunable-dropout.js';

/** One member's whole training state at an epoch boundary: the fields of a DropoutEnv snapshot it uses. */
export interface MemberState {
  /** Every weight in model order: per dense layer its kernel [in, out] then its bias [out]. */
  weights: { name: string; shape: number[]; values: Float32Array }[];
  /** Per dropout layer, input to output: its rate and where its mask stream stands. */
  dropouts: { rate: number; stream: RngState }[];
  /** The member's shuffle stream (the env's stream: one permutation per epoch). */
  rng: RngState;
  /** Adam's step count and moments per weight (empty moments: a fresh optimizer). */
  optimizer: OptimizerState;
}

export interface PopulationConfig {
  /** Units per layer, input to output: [784, 512, 512, 10] for mlp:512,512 on MNIST. */
  units: number[];
  /** A dropout layer on the input too (then the first rate is the input's). @default false */
  inputDropout?: boolean;
  /** Adam's learning rate, shared by all members. @default 0.001 */
  lr?: number;
  /** @default 64 */
  batchSize?: number;
  /** L2 weight decay on the kernels. @default 0 */
  l2?: number;
}

/** Adam's constants, as FusedAdam's defaults. */
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-7;

interface Member {
  rates: number[];
  masks: Rng[];
  shuffle: Rng;
  step: number;
  names: string[];
}

/**
 * A member's state from a built model and its shuffle stream, with a fresh Adam: what DropoutEnv.reset
 * leaves (its snapshot gives the same), for code that builds models itself.
 */
export function memberStateOf(built: BuiltModel, shuffle: Rng): MemberState {
  return {
    weights: built.model.weights.map((w) => ({
      name: w.originalName,
      shape: [...w.read().shape],
      values: (w.read().dataSync() as Float32Array).slice(),
    })),
    dropouts: built.dropouts.map((d) => ({ rate: d.rate, stream: d.streamState })),
    rng: shuffle.state(),
    optimizer: { step: 0, m: [], v: [] },
  };
}

export class PopulationTrainer {
  readonly size: number;
  readonly units: readonly number[];
  readonly inputDropout: boolean;
  readonly lr: number;
  readonly batchSize: number;
  readonly l2: number;
  /** Per dense layer: kernel [P, in, out] and bias [P, 1, out]. */
  private kernels: tf.Variable[];
  private biases: tf.Variable[];
  private members: Member[];
  /** Adam's moments per variable (kernels then biases, interleaved as `variables`), all members. */
  private m: Float32Array[];
  private v: Float32Array[];

  constructor(config: PopulationConfig, states: readonly MemberState[]) {
    this.units = [...config.units];
    this.inputDropout = config.inputDropout ?? false;
    this.lr = config.lr ?? 0.001;
    this.batchSize = config.batchSize ?? 64;
    this.l2 = config.l2 ?? 0;
    if (this.units.length < 2 || !this.units.every((u) => Number.isInteger(u) && u > 0))
      throw new ConfigError(`units must be two or more positive layer sizes, got [${this.units.join(', ')}]`);
    if (states.length === 0) throw new ConfigError('a population needs at least one member, got 0');
    this.size = states.length;
    const layers = this.units.length - 1;
    const shapes = this.units
      .slice(0, -1)
      .flatMap((inUnits, l) => [[inUnits, this.units[l + 1]!], [this.units[l + 1]!]]);
    states.forEach((s, p) => this.checkState(s, p, shapes));
    // Weights of all members, member-major: member p's values are one contiguous segment.
    const stacked = (i: number) => {
      const per = states[0]!.weights[i]!.values.length;
      const all = new Float32Array(per * this.size);
      states.forEach((s, p) => all.set(s.weights[i]!.values, p * per));
      return all;
    };
    this.kernels = [];
    this.biases = [];
    for (let l = 0; l < layers; l++) {
      const [inUnits, outUnits] = [this.units[l]!, this.units[l + 1]!];
      this.kernels.push(tf.variable(tf.tensor3d(stacked(2 * l), [this.size, inUnits, outUnits]), true, undefined));
      this.biases.push(tf.variable(tf.tensor3d(stacked(2 * l + 1), [this.size, 1, outUnits]), true, undefined));
    }
    this.members = states.map((s) => ({
      rates: s.dropouts.map((d) => d.rate),
      masks: s.dropouts.map((d) => restoreRng(d.stream)),
      shuffle: restoreRng(s.rng),
      step: (s.optimizer as AdamState).step,
      names: s.weights.map((w) => w.name),
    }));
    this.m = this.variables.map((_, i) => this.stackedMoments(states, i, 'm'));
    this.v = this.variables.map((_, i) => this.stackedMoments(states, i, 'v'));
  }

  /** Trainable variables in a single model's order: kernel, bias per layer. */
  private get variables(): tf.Variable[] {
    return this.kernels.flatMap((k, l) => [k, this.biases[l]!]);
  }

  private get dropoutLayers(): number {
    return this.units.length - 2 + (this.inputDropout ? 1 : 0);
  }

  private checkState(s: MemberState, p: number, shapes: number[][]): void {
    const what = `population member ${p}`;
    if (s.weights.length !== shapes.length)
      throw new ConfigError(
        `${what} has ${s.weights.length} weights, the mlp [${this.units.join(', ')}] has ${shapes.length} (kernel and bias per dense layer, no BatchNorm)`,
      );
    s.weights.forEach((w, i) => {
      const shape = shapes[i]!;
      if (w.shape.join() !== shape.join() || w.values.length !== shape.reduce((a, b) => a * b, 1))
        throw new ConfigError(
          `${what}: weight ${w.name} has shape [${w.shape.join(', ')}], expected [${shape.join(', ')}]`,
        );
    });
    if (s.dropouts.length !== this.dropoutLayers)
      throw new ConfigError(`${what} has ${s.dropouts.length} dropout layers, expected ${this.dropoutLayers}`);
    s.dropouts.forEach((d, l) => checkRate(`${what} rate ${l + 1}`, d.rate));
    const opt = s.optimizer as Partial<AdamState>;
    if (typeof opt.step !== 'number' || !Array.isArray(opt.m) || !Array.isArray(opt.v))
      throw new ConfigError(
        `${what}: a population trains with Adam only (optimizer: 'adam'), got another optimizer's state`,
      );
  }

  private stackedMoments(states: readonly MemberState[], i: number, key: 'm' | 'v'): Float32Array {
    const per = states[0]!.weights[i]!.values.length;
    const all = new Float32Array(per * this.size);
    states.forEach((s, p) => {
      const saved = (s.optimizer as AdamState)[key][i];
      if (saved) all.set(saved, p * per);
    });
    return all;
  }

  /** Member p's rates, input to output. */
  rates(p: number): number[] {
    return [...this.member(p).rates];
  }

  /** Sets member p's rates (from the next batch on, as setting TunableDropout.rate). */
  setRates(p: number, rates: readonly number[]): void {
    if (rates.length !== this.dropoutLayers)
      throw new ConfigError(`rates: member ${p} needs ${this.dropoutLayers} rates, got ${rates.length}`);
    this.member(p).rates = rates.map((r, l) => checkRate(`rate ${l + 1}`, r));
  }

  private member(p: number): Member {
    const m = this.members[p];
    if (m === undefined) throw new RangeError(`member ${p} is not in a population of ${this.size}`);
    return m;
  }

  /**
   * Member p's state, in the shape DropoutEnv.restore takes with the rest of its snapshot (weights,
   * mask streams, shuffle stream, Adam state).
   */
  memberState(p: number): MemberState {
    const member = this.member(p);
    const vars = this.variables;
    const weights = vars.map((v, i) => {
      const per = v.size / this.size;
      const values = (v.dataSync() as Float32Array).slice(p * per, (p + 1) * per);
      const shape = i % 2 === 0 ? v.shape.slice(1) : [v.shape[2]!];
      return { name: member.names[i]!, shape, values };
    });
    const segment = (a: Float32Array, i: number) => {
      const per = vars[i]!.size / this.size;
      return a.slice(p * per, (p + 1) * per);
    };
    return {
      weights,
      dropouts: member.rates.map((rate, l) => ({ rate, stream: member.masks[l]!.state() })),
      rng: member.shuffle.state(),
      optimizer:
        member.step === 0
          ? { step: 0, m: [], v: [] }
          : { step: member.step, m: this.m.map(segment), v: this.v.map(segment) },
    };
  }

  // train

  /** The members' masks for one batch of `size`, per dropout layer [P, size, units] (null: every rate is 0). */
  private masksFor(size: number): (Float32Array | null)[] {
    const units = this.inputDropout ? this.units.slice(0, -1) : this.units.slice(1, -1);
    return units.map((u, l) => {
      if (this.members.every((m) => m.rates[l] === 0)) return null;
      const per = size * u;
      const all = new Float32Array(per * this.size);
      this.members.forEach((m, p) => {
        const rate = m.rates[l]!;
        // As TunableDropout: a rate-0 layer passes its input through and draws no seed.
        if (rate === 0) all.fill(1, p * per, (p + 1) * per);
        else all.set(dropoutMask(per, rate, m.masks[l]!.seed()), p * per);
      });
      return all;
    });
  }

  /** One batch's inputs and one-hot labels, [P, size, …], member p's rows from `orders[p]` at `start`. */
  private gather(train: HostSplit, orders: readonly Int32Array[], start: number, size: number, classes: number) {
    const features = train.x.length / train.n;
    const xb = new Float32Array(this.size * size * features);
    const yb = new Float32Array(this.size * size * classes);
    orders.forEach((order, p) => {
      for (let i = 0; i < size; i++) {
        const sample = order[start + i]!;
        const row = p * size + i;
        xb.set(train.x.subarray(sample * features, (sample + 1) * features), row * features);
        yb[row * classes + train.y[sample]!] = 1;
      }
    });
    return { xb, yb, features };
  }

  /**
   * Each member's loss gradients on one batch, member p's rows `batches[p]`, with dropout at the current
   * rates (the masks are drawn, so the streams advance as a training batch's would); no update.
   * Per member, per weight (kernel, bias per layer), the gradient's values.
   */
  gradients(train: HostSplit, batches: readonly Int32Array[]): Float32Array[][] {
    const size = batches[0]!.length;
    if (batches.length !== this.size || batches.some((b) => b.length !== size))
      throw new Error(`gradients: needs ${this.size} batches of one size`);
    const classes = this.units.at(-1)!;
    const { xb, yb, features } = this.gather(train, batches, 0, size, classes);
    const maskValues = this.masksFor(size);
    const runner = new KernelRunner();
    const grads = tf.tidy(() => {
      const x = tf.tensor3d(xb, [this.size, size, features]);
      const labels = tf.tensor3d(yb, [this.size, size, classes]);
      const masks = this.maskTensors(maskValues, size);
      const result = mlpBatch(runner, this.layerWeights(), { x, labels, masks }, this.inputDropout, this.l2);
      return result.grads;
    });
    runner.dispose();
    const values = grads.map((g) => g.dataSync() as Float32Array);
    tf.dispose(grads);
    return Array.from({ length: this.size }, (_, p) =>
      values.map((all) => all.slice((p * all.length) / this.size, ((p + 1) * all.length) / this.size)),
    );
  }

  private maskTensors(values: (Float32Array | null)[], size: number): (tf.Tensor | null)[] {
    const units = this.inputDropout ? this.units.slice(0, -1) : this.units.slice(1, -1);
    return values.map((m, l) => (m ? tf.tensor3d(m, [this.size, size, units[l]!]) : null));
  }

  /**
   * Trains every member one epoch over `train`, member p visiting the samples in `orders[p]` (by default
   * a permutation drawn from its own shuffle stream, as DropoutEnv.step draws it). Per member the
   * statistics trainEpoch gives a single run.
   */
  async trainEpoch(train: HostSplit, orders?: readonly Int32Array[]): Promise<EpochStats[]> {
    const visits = orders ?? this.members.map((m) => permutation(train.n, m.shuffle));
    const n = visits[0]!.length;
    if (visits.length !== this.size || visits.some((o) => o.length !== n))
      throw new Error(`trainEpoch: needs ${this.size} orders of one length`);
    const classes = this.units.at(-1)!;
    const vars = this.variables;
    const batchLosses: tf.Tensor[] = [];
    const batchCorrect: tf.Tensor[] = [];
    const runner = new KernelRunner();
    try {
      for (let start = 0; start < n; start += this.batchSize) {
        // Back to the event loop between batches, as trainEpoch does (a signal handler runs within an epoch).
        if (start > 0) await new Promise((resolve) => setImmediate(resolve));
        const size = Math.min(this.batchSize, n - start);
        const { xb, yb, features } = this.gather(train, visits, start, size, classes);
        const maskValues = this.masksFor(size);
        tf.tidy(() => {
          const x = tf.tensor3d(xb, [this.size, size, features]);
          const labels = tf.tensor3d(yb, [this.size, size, classes]);
          const masks = this.maskTensors(maskValues, size);
          const result = mlpBatch(runner, this.layerWeights(), { x, labels, masks }, this.inputDropout, this.l2);
          runner.release();
          batchLosses.push(tf.keep(result.loss));
          batchCorrect.push(tf.keep(result.correct));
          this.applyAdam(vars, result.grads);
        });
      }
      // One read-back per epoch: losses [batches, P], correct counts [P], finite weights per member [P].
      const summary = tf.tidy(() => {
        const finite = tf.stack(vars.map((v) => tf.all(tf.isFinite(tf.reshape(v, [this.size, -1])), 1)));
        return tf.concat([
          tf.stack(batchLosses),
          tf.reshape(tf.addN(batchCorrect), [1, this.size]),
          tf.reshape(tf.all(finite, 0).toFloat(), [1, this.size]),
        ]);
      });
      const values = await summary.data();
      summary.dispose();
      const rows = values.length / this.size;
      return Array.from({ length: this.size }, (_, p) => {
        const column = Array.from({ length: rows }, (_, r) => values[r * this.size + p]!);
        const weightsFinite = column.pop() === 1;
        const correct = column.pop()!;
        const lossMean = column.reduce((a, b) => a + b, 0) / column.length;
        const lossVar = column.reduce((a, b) => a + (b - lossMean) ** 2, 0) / column.length;
        return {
          lossMean,
          lossStd: Math.sqrt(lossVar),
          acc: correct / n,
          diverged: !weightsFinite || !column.every(Number.isFinite),
        };
      });
    } finally {
      runner.dispose();
      tf.dispose([...batchLosses, ...batchCorrect]);
    }
  }

  /** The dense layers' weights as mlpBatch takes them (read per batch: Adam gives each variable new data). */
  private layerWeights(): DenseWeights[] {
    return this.kernels.map((kernel, l) => ({ kernel, bias: this.biases[l]! }));
  }

  /** Adam per member segment, each with its own step count (a member copied by PBT keeps its own). */
  private applyAdam(vars: tf.Variable[], grads: tf.Tensor[]): void {
    for (const m of this.members) m.step += 1;
    vars.forEach((weight, i) => {
      const per = weight.size / this.size;
      const segments = this.members.map((member, p) => ({
        start: p * per,
        length: per,
        stepSize: this.lr / (1 - BETA1 ** member.step),
        sqrtC2: Math.sqrt(1 - BETA2 ** member.step),
      }));
      // On wasm the SIMD loop over every member's segment (src/nn/wasm-adam.ts), elsewhere the JS one.
      let updated = wasmAdamUpdate(grads[i]!, weight, this.m[i]!, this.v[i]!, BETA1, BETA2, EPSILON, segments);
      if (updated === null) {
        // Views into the backend's memory where it has them, as FusedAdam reads them; valid until the upload below.
        const g = hostValues(grads[i]!);
        const w = hostValues(weight);
        const next = new Float32Array(g.length);
        for (const s of segments) {
          const at = (a: Float32Array) => a.subarray(s.start, s.start + s.length);
          adamUpdate(
            at(g),
            at(w),
            at(this.m[i]!),
            at(this.v[i]!),
            at(next),
            BETA1,
            BETA2,
            s.stepSize,
            s.sqrtC2,
            EPSILON,
          );
        }
        // A new tensor, not an in-place write (see FusedAdam).
        updated = tf.tensor(next, weight.shape, 'float32');
      }
      weight.assign(updated);
      updated.dispose();
    });
  }

  // evaluate

  /**
   * Every member's loss and accuracy on `x` [n, features] with one-hot `labels`, dropout off, in chunks
   * of `chunk` as evaluate() (src/nn/trainer.ts).
   */
  async evaluate(x: tf.Tensor, labels: tf.Tensor, chunk = 1000): Promise<EvalStats[]> {
    const n = x.shape[0]!;
    const totals = tf.tidy(() => {
      let lossSum: tf.Tensor = tf.zeros([this.size]);
      let correct: tf.Tensor = tf.zeros([this.size]);
      for (let start = 0; start < n; start += chunk) {
        const size = Math.min(chunk, n - start);
        const yb = size === n ? labels : tf.slice(labels, start, size);
        const probs = this.forwardInfer(size === n ? x : tf.slice(x, start, size));
        lossSum = tf.add(lossSum, tf.sum(tf.metrics.categoricalCrossentropy(yb, probs), 1));
        correct = tf.add(correct, correctCounts(probs, yb));
      }
      return tf.stack([lossSum, correct]);
    });
    const values = await totals.data();
    totals.dispose();
    return Array.from({ length: this.size }, (_, p) => ({ loss: values[p]! / n, acc: values[this.size + p]! / n }));
  }

  /** Class probabilities [P, n, classes] of shared inputs [n, features], as Dense layers infer. */
  private forwardInfer(x: tf.Tensor): tf.Tensor {
    let h: tf.Tensor = x;
    const last = this.kernels.length - 1;
    for (let l = 0; l < last; l++)
      h = populationMatMul(h, this.kernels[l]!, { fused: true, bias: this.biases[l]!, activation: 'relu' });
    return tf.softmax(tf.add(populationMatMul(h, this.kernels[last]!, { fused: true }), this.biases[last]!));
  }

  dispose(): void {
    tf.dispose([...this.kernels, ...this.biases]);
    this.kernels = [];
    this.biases = [];
  }
}

/** Correct predictions per member, [P]; labels [P, n, classes] or shared [n, classes]. */
function correctCounts(probs: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  return tf.sum(tf.cast(tf.equal(tf.argMax(probs, -1), tf.argMax(labels, -1)), 'float32'), 1);
}
