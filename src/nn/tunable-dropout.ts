/**
 * A dropout layer whose rate can be changed between steps, with masks from a seeded stream.
 *
 * Why not tf.layers.dropout: its rate is fixed at construction, and tf.dropout given a fixed seed
 * repeats one mask forever. Here every training call draws a fresh op seed from the layer's own
 * stream, so masks differ call to call yet the whole sequence is reproducible from `seed`.
 *
 * With `concrete`, the layer learns its rate instead (concrete dropout, Gal, Hron & Kendall 2017): the
 * rate is p = sigmoid(logit) of a trainable scalar weight, and the training mask is the relaxed
 * Bernoulli drop = sigmoid((logit + log u − log(1−u)) / t), u uniform from the same seeded stream,
 * output = x·(1 − drop)/(1 − p), which the loss differentiates through to the logit.
 */
import * as tf from '@tensorflow/tfjs';
import { checkRate } from '../core/check.js';
import { ConfigError } from '../core/errors.js';
import { createRng, restoreRng, type Rng, type RngState } from '../core/rng.js';

export interface TunableDropoutArgs {
  /** Fraction of units dropped while training, in [0, 1). */
  rate: number;
  /**
   * Drop whole channels of an NHWC feature map (as Keras's SpatialDropout2D):
   * the mask has shape [batch, 1, 1, channels].
   * @default false
   */
  spatial?: boolean;
  /** Shape of the mask, broadcast over the input; `null` entries take the input's size. Overrides `spatial`. */
  noiseShape?: (number | null)[] | null;
  /**
   * Learn the rate by gradient (concrete dropout): `rate` is then the initial p, in (0, 1), and p is the
   * sigmoid of the layer's trainable weight `logit`. @default false
   */
  concrete?: boolean;
  /**
   * Temperature t of the relaxed mask (`concrete` only): the smaller, the closer to Bernoulli. Gal et
   * al.'s dense layers use 0.1 and their spatial ones 2/3, as buildModel does. @default 0.1
   */
  temperature?: number;
  /** Seed of the mask stream. @default 0 */
  seed?: number;
  /** Layer name (tfjs's usual `name` argument). */
  name?: string;
  /** Shape of one sample, when this is a model's first layer (tfjs's usual `inputShape`). */
  inputShape?: number[];
  /** The same with the batch dimension; what a saved model's config holds. */
  batchInputShape?: (number | null)[];
}

export class TunableDropout extends tf.layers.Layer {
  static className = 'TunableDropout';

  /** The rate, or with `concrete` the initial rate until the layer is built. */
  private rateValue: number;
  readonly spatial: boolean;
  readonly noiseShape: (number | null)[] | null;
  readonly concrete: boolean;
  readonly temperature: number;
  readonly seed: number;
  private stream: Rng;
  /** p = sigmoid(logit): the learned rate's weight (`concrete` only, once built). */
  private logit: tf.LayerVariable | null = null;
  /** Mask entries per sample (K in the concrete regularizer): channels if spatial, else every unit. */
  private unitsPerSample = 0;

  constructor(args: TunableDropoutArgs) {
    super({ name: args.name, inputShape: args.inputShape, batchInputShape: args.batchInputShape });
    this.rateValue = checkRate('rate', args.rate);
    this.spatial = args.spatial ?? false;
    this.noiseShape = args.noiseShape ?? null;
    this.concrete = args.concrete ?? false;
    this.temperature = args.temperature ?? 0.1;
    if (this.concrete) checkConcreteRate(this.rateValue);
    if (!(this.temperature > 0)) throw new ConfigError(`temperature must be > 0, got ${String(args.temperature)}`);
    this.seed = args.seed ?? 0;
    this.stream = createRng(this.seed);
    this.supportsMasking = true;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    this.unitsPerSample = this.maskShape(shape)
      .slice(1)
      .reduce<number>((a, b) => a * (b ?? 1), 1);
    if (this.concrete) {
      const value = Math.log(this.rateValue) - Math.log(1 - this.rateValue);
      this.logit = this.addWeight('logit', [], 'float32', tf.initializers.constant({ value }));
    }
    this.built = true;
  }

  /**
   * The current rate; setting it takes effect at the next training call, no recompiling. With
   * `concrete`, the learned p (read from the device), and setting it writes the logit.
   */
  get rate(): number {
    if (!this.logit) return this.rateValue;
    return 1 / (1 + Math.exp(-this.logit.read().dataSync()[0]!));
  }
  set rate(value: number) {
    checkRate(`${this.name}.rate`, value);
    if (this.concrete) checkConcreteRate(value, `${this.name}.rate`);
    this.rateValue = value;
    if (this.logit) {
      const logit = tf.scalar(Math.log(value) - Math.log(1 - value));
      this.logit.write(logit);
      logit.dispose();
    }
  }

  /** The logit's variable (`concrete` only, once built): the trainer gives it its own learning rate. */
  get logitVariable(): tf.Variable | null {
    return this.logit ? (this.logit.read() as tf.Variable) : null;
  }

  /** Restart the mask stream (same seed → same masks from here on). */
  reseed(seed: number): void {
    this.stream = createRng(seed);
  }

  /** Where the mask stream stands: `streamState = saved` later draws the same masks from there. */
  get streamState(): RngState {
    return this.stream.state();
  }
  set streamState(state: RngState) {
    this.stream = restoreRng(state);
  }

  /** The mask's shape for an input of `shape` (the batch entry may be null before a batch is seen). */
  private maskShape<D extends number | null>(shape: readonly D[]): D[] {
    if (this.noiseShape) return this.noiseShape.map((d, i) => (d ?? shape[i]!) as D);
    if (this.spatial) {
      if (shape.length !== 4)
        throw new Error(`${this.name}: spatial dropout needs NHWC input (rank 4), got rank ${shape.length}`);
      return [shape[0]!, 1 as D, 1 as D, shape[3]!];
    }
    return [...shape];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: tf.serialization.ConfigDict): tf.Tensor {
    const input = Array.isArray(inputs) ? inputs[0]! : inputs;
    const training = kwargs['training'] === true;
    if (!training) return input.clone();
    const shape = this.maskShape(input.shape);
    if (this.logit) {
      const size = shape.reduce((a, b) => a * b, 1);
      const logit = this.logit.read();
      const noise = logisticNoise(size, this.stream.seed());
      return tf.tidy(() => {
        const drop = tf.sigmoid(tf.div(tf.add(logit, tf.tensor(noise, shape, 'float32')), this.temperature));
        // 1 − p = sigmoid(−logit), without rounding p first.
        return tf.div(tf.mul(input, tf.sub(1, drop)), tf.sigmoid(tf.neg(logit)));
      });
    }
    const mask = this.nextMask(input.shape);
    if (mask === null) return input.clone();
    return tf.tidy(() => tf.mul(input, tf.tensor(mask, shape, 'float32')));
  }

  /**
   * The next training mask for an input of `shape`, drawn from the layer's stream as a training call
   * draws it (a trainer that multiplies by the mask itself calls this instead of the layer): null at
   * rate 0, which draws nothing. Its shape is the mask's (spatial, noiseShape); not for concrete layers.
   */
  nextMask(shape: readonly number[]): Float32Array | null {
    if (this.concrete) throw new Error(`${this.name}: a concrete layer's mask is relaxed, not drawn by nextMask`);
    if (this.rateValue === 0) return null;
    const size = this.maskShape(shape).reduce((a, b) => a * b, 1);
    return dropoutMask(size, this.rateValue, this.stream.seed());
  }

  /**
   * Gal et al.'s prior term of a concrete layer, added to the loss: the weight term
   * `weightRegularizer`·ΣW²/(1−p) over `kernel`, the weights of the layer this one feeds, plus the
   * dropout term `dropoutRegularizer`·K·(p log p + (1−p) log(1−p)), K = mask entries per sample. The
   * dropout term is minus the entropy of Bernoulli(p): minimizing it pulls p toward 0.5, against the data
   * term. As in their reference code (ConcreteDropout, SpatialConcreteDropout).
   */
  concreteRegularizer(kernel: tf.Tensor, weightRegularizer: number, dropoutRegularizer: number): tf.Scalar {
    if (!this.logit) throw new Error(`${this.name}: concreteRegularizer needs a built concrete layer`);
    return tf.tidy(() => {
      const logit = this.logit!.read();
      const p = tf.sigmoid(logit);
      const keep = tf.sigmoid(tf.neg(logit));
      const weightTerm = tf.div(tf.mul(tf.sum(tf.square(kernel)), weightRegularizer), keep);
      // tf.logSigmoid would be steadier, but its custom gradient loses a saved tensor under variableGrads
      // (tfjs 4.22, wasm); log(sigmoid) is finite for |logit| < 87, i.e. p within 1e-38 of 0 or 1.
      const negEntropy = tf.add(tf.mul(p, tf.log(p)), tf.mul(keep, tf.log(keep)));
      return tf.add(weightTerm, tf.mul(negEntropy, dropoutRegularizer * this.unitsPerSample)) as tf.Scalar;
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      rate: this.rate,
      spatial: this.spatial,
      noiseShape: this.noiseShape,
      seed: this.seed,
      ...(this.concrete ? { concrete: true, temperature: this.temperature } : {}),
    };
  }
}
tf.serialization.registerClass(TunableDropout);

/**
 * An inverted-dropout mask: each entry is 0 with probability `rate`, else 1/(1−rate), from a
 * mulberry32 stream seeded by `seed`. Made on the host in one pass: tf.randomUniform draws from a
 * JS generator anyway, and the comparison, cast and scaling would be three more kernels per call.
 */
export function dropoutMask(size: number, rate: number, seed: number): Float32Array {
  const mask = new Float32Array(size);
  const scale = 1 / (1 - rate);
  // Kept when the 32-bit draw is at or above rate·2³², so P(drop) = rate up to 2⁻³².
  const threshold = Math.ceil(rate * 2 ** 32);
  const draw = mulberry32(seed);
  for (let i = 0; i < size; i++) if (draw() >= threshold) mask[i] = scale;
  return mask;
}

/**
 * Logistic noise log u − log(1−u) for the concrete mask, u uniform in (0, 1) from a mulberry32 stream
 * seeded by `seed`; made on the host like `dropoutMask`. u = (draw + ½)/2³² is never 0 or 1.
 */
export function logisticNoise(size: number, seed: number): Float32Array {
  const noise = new Float32Array(size);
  const draw = mulberry32(seed);
  for (let i = 0; i < size; i++) {
    const u = (draw() + 0.5) / 2 ** 32;
    noise[i] = Math.log(u) - Math.log1p(-u);
  }
  return noise;
}

/** mulberry32: a 32-bit generator, one unsigned 32-bit draw per call. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A concrete layer's rate must have a logit: in (0, 1). */
function checkConcreteRate(rate: number, what = 'rate'): void {
  if (!(rate > 0 && rate < 1)) throw new ConfigError(`${what} must be in (0, 1) for concrete dropout, got ${rate}`);
}

/**
 * The TunableDropout layers of a model, in order from input to output. Found by class name, not
 * instanceof: a program that loads this module twice (once as CommonJS, once as ESM) has two classes,
 * and a model deserialized by one holds instances of the other.
 */
export function dropoutLayersOf(model: tf.LayersModel): TunableDropout[] {
  return model.layers.filter((l): l is TunableDropout => l.getClassName() === TunableDropout.className);
}
