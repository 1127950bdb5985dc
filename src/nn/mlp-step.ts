/**
 * One training batch of a built-in MLP without the gradient tape: the forward pass, the loss and every
 * weight's gradient by direct kernel calls, for one model (P = 1) or a population of P trained as one
 * graph (src/nn/population.ts).
 *
 * Why: on wasm an MLP epoch of 79 batches made about 10,000 kernel calls through tfjs's engine, a third
 * of them Identity clones the tape keeps for the backward pass, plus Reshapes, Casts and products with
 * ones that change no value; the engine's bookkeeping per call (scopes, memory tracking, the tape) cost
 * about as much as the matmuls. Here each batch makes about 55 kernel calls straight to the backend's
 * kernel functions, and nothing else.
 *
 * Exactness: every value is computed by the kernel tf.variableGrads runs for it, on the same operands,
 * so the results are bit-identical to the taped path (test/nn/mlp-step.test.ts compares weights,
 * losses and accuracies after whole epochs). What is left out changes no value: a clone, a reshape, a
 * cast of float32 to float32, a product with ones, a broadcast that the next binary kernel does itself.
 * The backward pass repeats tfjs-core's gradient functions, in their arithmetic:
 *   Mean over the batch    d = 1/B            Neg         d = −dy          Sum (over classes)   broadcast
 *   Multiply(t, log c)     d log c = dy · t   Log         dy / c           ClipByValue          dy where lo ≤ q ≤ hi, else 0
 *   RealDiv(y, s)          dy / s, and s gets −(Σ dy·y) / s²               Softmax              dy·y − (Σ dy·y)·y
 *   Add(z, bias)           z: dy, bias: Σ over the batch                    Relu                 dy · step(a)
 *   Multiply(h, mask)      dy · mask          MatMul(h, K)                  h: dy·Kᵀ, K: hᵀ·dy
 *   L2: Multiply(Σ K², l2) K gets l2 · (K · 2), added to the matmul's gradient.
 * (Two-term sums are exact in either order, which is why the tape's accumulation order does not matter.)
 *
 * The model: [input dropout] → (Dense relu → dropout)* → Dense softmax, trained on the mean categorical
 * cross-entropy (tfjs-layers' form: probabilities normalised, clipped to [1e-7, 1 − 1e-7], logged).
 */
import * as tf from '@tensorflow/tfjs';
import { POPULATION_MATMUL } from './population-matmul.js';
import { kernelTimer } from './profile.js';
import { TunableDropout } from './tunable-dropout.js';

type Info = tf.TensorInfo;
type KernelFunc = tf.KernelConfig['kernelFunc'];

/** tfjs-layers' epsilon(): categoricalCrossentropy clips probabilities to [ε, 1 − ε]. */
const CLIP_EPSILON = 1e-7;

/** One dense layer's weights as the batch sees them: kernel [P, in, out], bias [P, 1, out]. */
export interface DenseWeights {
  kernel: Info;
  bias: Info;
}

/** One batch, every tensor with the member first: inputs [P, B, features], one-hot labels [P, B, classes]. */
export interface MlpBatch {
  x: Info;
  labels: Info;
  /** Per dropout layer, input to output: its mask [P, B, units], or null where every member's rate is 0. */
  masks: (Info | null)[];
}

export interface MlpBatchResult {
  /** Per layer its kernel's gradient, then its bias's: [P, in, out], [P, 1, out], or as `gradShapes` says. */
  grads: tf.Tensor[];
  /** Per member its loss (mean cross-entropy, plus L2), [P]. */
  loss: tf.Tensor1D;
  /** Per member its correct predictions in the batch, [P]. */
  correct: tf.Tensor1D;
}

/** A tensor's data under another shape of the same size (what a Reshape kernel returns), owned by the original. */
export const viewAs = (t: Info, shape: number[]): Info => ({ dataId: t.dataId, shape, dtype: t.dtype });

/**
 * Direct kernel calls on the current backend, each result kept until `release`. Constants (filled
 * tensors, scalars) are made once per runner and kept until `dispose`: make one runner per epoch.
 */
export class KernelRunner {
  private readonly backend: tf.KernelBackend;
  private readonly backendName: string;
  private readonly kernels = new Map<string, KernelFunc>();
  private temps: Info[] = [];
  private readonly constants = new Map<string, tf.Tensor>();

  constructor() {
    this.backendName = tf.getBackend();
    this.backend = tf.backend();
  }

  /** Runs kernel `name`; the result lives until the next `release` unless taken by `own`. */
  run(name: string, inputs: tf.NamedTensorInfoMap | Info[], attrs: object = {}): Info {
    let kernel = this.kernels.get(name);
    if (kernel === undefined) {
      const config = tf.getKernel(name, this.backendName);
      if (config === undefined) throw new Error(`backend ${this.backendName} has no ${name} kernel`);
      kernel = config.kernelFunc;
      this.kernels.set(name, kernel);
    }
    const record = kernelTimer.record;
    const started = record ? performance.now() : 0;
    const out = kernel({
      inputs: inputs as tf.NamedTensorInfoMap,
      backend: this.backend,
      attrs: attrs as tf.NamedAttrMap,
    });
    record?.(name, performance.now() - started);
    if (Array.isArray(out)) throw new Error(`${name} gave several outputs`);
    this.temps.push(out);
    return out;
  }

  /** Hands a result to the engine as a tensor (in the current tidy scope); `release` leaves it. */
  own<R extends tf.Rank>(t: Info, shape: number[] = t.shape): tf.Tensor<R> {
    const at = this.temps.indexOf(t);
    if (at < 0) throw new Error('own: not a result of this runner');
    this.temps.splice(at, 1);
    return tf.engine().makeTensorFromTensorInfo(viewAs(t, shape), this.backend) as tf.Tensor<R>;
  }

  /** A float32 tensor of `shape` filled with `value` (made once). */
  filled(shape: number[], value: number): Info {
    const key = `${shape.join('x')}:${Object.is(value, -0) ? '-0' : value}`;
    let t = this.constants.get(key);
    if (t === undefined) {
      t = tf.keep(tf.fill(shape, value, 'float32'));
      this.constants.set(key, t);
    }
    return t;
  }

  /** Frees every result not handed out. */
  release(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps = [];
  }

  dispose(): void {
    this.release();
    tf.dispose([...this.constants.values()]);
    this.constants.clear();
  }
}

/** C[p] = A[p]·B[p] (with transposes): the single run's BatchMatMul for P = 1, PopulationMatMul for more. */
function matMul(run: KernelRunner, a: Info, b: Info, transposeA = false, transposeB = false, fused = false): Info {
  if (b.shape[0] !== 1)
    return run.run(
      POPULATION_MATMUL,
      { a, b },
      { transposeA, transposeB, fused, activation: 'linear', withBias: false },
    );
  return fused
    ? run.run('_FusedMatMul', { a, b }, { transposeA, transposeB, activation: 'linear', leakyreluAlpha: 0.2 })
    : run.run('BatchMatMul', { a, b }, { transposeA, transposeB });
}

/**
 * The loss (mean cross-entropy over the batch, plus `l2`·ΣK² over the kernels), the correct count and
 * every weight's gradient of one batch (see the top of this file). `layers` input to output.
 */
export function mlpBatch(
  run: KernelRunner,
  layers: readonly DenseWeights[],
  batch: MlpBatch,
  inputDropout: boolean,
  l2 = 0,
  gradShapes?: readonly (readonly number[])[],
): MlpBatchResult {
  const [members, size, classes] = batch.labels.shape as [number, number, number];
  const last = layers.length - 1;
  let maskAt = 0;
  const dropout = (h: Info): { out: Info; mask: Info | null } => {
    const mask = batch.masks[maskAt++] ?? null;
    return { out: mask ? run.run('Multiply', { a: h, b: mask }) : h, mask };
  };

  // Forward: what each layer's backward needs is kept (its input, its pre-activation, its mask).
  let h = inputDropout ? dropout(batch.x).out : batch.x;
  const inputs: Info[] = [];
  const hidden: { pre: Info; mask: Info | null }[] = [];
  for (let l = 0; l < last; l++) {
    inputs.push(h);
    // Training unfuses a relu Dense layer (tfjs-core's shouldFuse): matmul, bias add, relu.
    const pre = run.run('Add', { a: matMul(run, h, layers[l]!.kernel), b: layers[l]!.bias });
    const { out, mask } = dropout(run.run('Relu', { x: pre }));
    hidden.push({ pre, mask });
    h = out;
  }
  inputs.push(h);
  // The softmax layer: a fused matmul without bias or activation, then the bias add, then softmax.
  const logits = run.run('Add', { a: matMul(run, h, layers[last]!.kernel, false, false, true), b: layers[last]!.bias });
  const probs = run.run('Softmax', { logits }, { dim: 2 });

  // tfjs-layers' categoricalCrossentropy, then the mean over the batch.
  const sums = run.run('Sum', { x: probs }, { axis: [2], keepDims: true });
  const normalised = run.run('RealDiv', { a: probs, b: sums });
  const clipped = run.run(
    'ClipByValue',
    { x: normalised },
    { clipValueMin: CLIP_EPSILON, clipValueMax: 1 - CLIP_EPSILON },
  );
  const logs = run.run('Log', { x: clipped });
  const ce = run.run('Neg', {
    x: run.run('Sum', { x: run.run('Multiply', { a: batch.labels, b: logs }) }, { axis: [2], keepDims: false }),
  });
  let loss = run.run('Mean', { x: ce }, { axis: [1], keepDims: false });
  if (l2 !== 0) {
    const squares = layers.map((w) =>
      run.run('Sum', { x: run.run('Square', { x: w.kernel }) }, { axis: [1, 2], keepDims: false }),
    );
    const penalty = squares.length === 1 ? squares[0]! : run.run('AddN', squares);
    loss = run.run('Add', { a: loss, b: run.run('Multiply', { a: penalty, b: run.filled([], l2) }) });
  }
  // Correct predictions: argmax of the probabilities against argmax of the one-hot labels.
  const hits = run.run('Equal', {
    a: run.run('ArgMax', { x: probs }, { axis: 2 }),
    b: run.run('ArgMax', { x: batch.labels }, { axis: 2 }),
  });
  const correct = run.run(
    'Sum',
    { x: run.run('Cast', { x: hits }, { dtype: 'float32' }) },
    { axis: [1], keepDims: false },
  );

  // Backward, from d(loss) = 1 per member. Mean, Neg and Sum give every entry −(1/B) (1/B in float32).
  const dLogs = run.run('Multiply', {
    a: run.filled([members, size, classes], -Math.fround(1 / size)),
    b: batch.labels,
  });
  const dClipped = run.run('RealDiv', { a: dLogs, b: clipped });
  const inRange = run.run('LogicalAnd', {
    a: run.run('GreaterEqual', { a: normalised, b: run.filled([], CLIP_EPSILON) }),
    b: run.run('LessEqual', { a: normalised, b: run.filled([], 1 - CLIP_EPSILON) }),
  });
  const dNormalised = run.run('Select', {
    condition: inRange,
    t: dClipped,
    e: run.filled([members, size, classes], 0),
  });
  // RealDiv(probs, sums): probs get dy / s; the sums −(Σ dy·probs) / s², which Sum's gradient broadcasts.
  const dSums = run.run('Neg', {
    x: run.run('RealDiv', {
      a: run.run('Sum', { x: run.run('Multiply', { a: dNormalised, b: probs }) }, { axis: [2], keepDims: true }),
      b: run.run('Square', { x: sums }),
    }),
  });
  const dProbs = run.run('Add', { a: run.run('RealDiv', { a: dNormalised, b: sums }), b: dSums });
  const dyTimesY = run.run('Multiply', { a: dProbs, b: probs });
  let dPre = run.run('Sub', {
    a: dyTimesY,
    b: run.run('Multiply', { a: run.run('Sum', { x: dyTimesY }, { axis: [2], keepDims: true }), b: probs }),
  });

  const grads: Info[] = new Array<Info>(2 * layers.length);
  for (let l = last; l >= 0; l--) {
    if (l < last) {
      // Through the dropout mask and the relu of hidden layer l, whose output fed layer l + 1.
      const dOut = matMul(run, dPre, layers[l + 1]!.kernel, false, true);
      const { pre, mask } = hidden[l]!;
      const dRelu = mask ? run.run('Multiply', { a: dOut, b: mask }) : dOut;
      dPre = run.run('Multiply', { a: dRelu, b: run.run('Step', { x: pre }, { alpha: 0 }) });
    }
    let dKernel = matMul(run, inputs[l]!, dPre, true, false);
    if (l2 !== 0) {
      const dSquare = run.run('Multiply', {
        a: run.run('Multiply', { a: layers[l]!.kernel, b: run.filled([], 2) }),
        b: run.filled([], l2),
      });
      dKernel = run.run('Add', { a: dKernel, b: dSquare });
    }
    grads[2 * l] = dKernel;
    grads[2 * l + 1] = run.run('Sum', { x: dPre }, { axis: [1], keepDims: true });
  }
  return {
    grads: grads.map((g, i) => run.own(g, gradShapes ? [...gradShapes[i]!] : g.shape)),
    loss: run.own(loss),
    correct: run.own(correct),
  };
}

/** A model mlpBatch can train: its dense layers' weights and whether a dropout layer comes first. */
export interface MlpLayout {
  inputDropout: boolean;
  /** Per dense layer, input to output: its kernel and bias variables. */
  weights: { kernel: tf.Variable; bias: tf.Variable }[];
  /** The dropout layers, input to output. */
  dropouts: TunableDropout[];
}

const isDense = (layer: tf.layers.Layer, activation: string): boolean => {
  if (layer.getClassName() !== 'Dense') return false;
  const config = layer.getConfig();
  return config['activation'] === activation && config['useBias'] === true;
};

/**
 * The layout of `model` when it is [dropout] → (Dense relu → dropout)* → Dense softmax with plain
 * (not concrete, not spatial) TunableDropout layers and float32 vectors in, else null (train it on the tape).
 */
export function mlpLayout(model: tf.LayersModel): MlpLayout | null {
  const layers = model.layers;
  const inputDropout = layers[0]?.getClassName() === TunableDropout.className;
  const body = layers.slice(inputDropout ? 1 : 0);
  if (body.length % 2 !== 1 || model.inputs.length !== 1 || model.inputs[0]!.shape.length !== 2) return null;
  const plainDropout = (layer: tf.layers.Layer) =>
    layer.getClassName() === TunableDropout.className &&
    !(layer as TunableDropout).concrete &&
    !(layer as TunableDropout).spatial &&
    (layer as TunableDropout).noiseShape === null;
  if (inputDropout && !plainDropout(layers[0]!)) return null;
  for (let i = 0; i < body.length - 1; i += 2)
    if (!isDense(body[i]!, 'relu') || !plainDropout(body[i + 1]!)) return null;
  if (!isDense(body.at(-1)!, 'softmax')) return null;
  const dense = body.filter((_, i) => i % 2 === 0);
  const variable = (w: tf.LayerVariable) => w.read() as tf.Variable;
  return {
    inputDropout,
    weights: dense.map((d) => ({ kernel: variable(d.trainableWeights[0]!), bias: variable(d.trainableWeights[1]!) })),
    dropouts: layers.filter((l): l is TunableDropout => l.getClassName() === TunableDropout.className),
  };
}
