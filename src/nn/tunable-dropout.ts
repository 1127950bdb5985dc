/**
 * A dropout layer whose rate can be changed between steps, with masks from a seeded stream.
 *
 * Why not tf.layers.dropout: its rate is fixed at construction, and tf.dropout given a fixed seed
 * repeats one mask forever. Here every training call draws a fresh op seed from the layer's own
 * stream, so masks differ call to call yet the whole sequence is reproducible from `seed`.
 */
import * as tf from '@tensorflow/tfjs';
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
  /** Seed of the mask stream. @default 0 */
  seed?: number;
  /** Layer name (tfjs's usual `name` argument). */
  name?: string;
  /** Shape of one sample, when this is a model's first layer (tfjs's usual `inputShape`). */
  inputShape?: number[];
  /** The same with the batch dimension; what a saved model's config holds. */
  batchInputShape?: (number | null)[];
}

export function checkRate(rate: unknown, what = 'rate'): number {
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate >= 1) {
    throw new ConfigError(`${what} must be in [0, 1), got ${String(rate)}`);
  }
  return rate;
}

export class TunableDropout extends tf.layers.Layer {
  static className = 'TunableDropout';

  private rateValue: number;
  readonly spatial: boolean;
  readonly noiseShape: (number | null)[] | null;
  readonly seed: number;
  private stream: Rng;

  constructor(args: TunableDropoutArgs) {
    super({ name: args.name, inputShape: args.inputShape, batchInputShape: args.batchInputShape });
    this.rateValue = checkRate(args.rate);
    this.spatial = args.spatial ?? false;
    this.noiseShape = args.noiseShape ?? null;
    this.seed = args.seed ?? 0;
    this.stream = createRng(this.seed);
    this.supportsMasking = true;
  }

  /** The current rate; setting it takes effect at the next training call, no recompiling. */
  get rate(): number {
    return this.rateValue;
  }
  set rate(value: number) {
    this.rateValue = checkRate(value, `${this.name}.rate`);
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

  private maskShape(input: tf.Tensor): number[] {
    if (this.noiseShape) return this.noiseShape.map((d, i) => d ?? input.shape[i]!);
    if (this.spatial) {
      if (input.rank !== 4) throw new Error(`${this.name}: spatial dropout needs NHWC input (rank 4), got rank ${input.rank}`);
      return [input.shape[0]!, 1, 1, input.shape[3]!];
    }
    return input.shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: tf.serialization.ConfigDict): tf.Tensor {
    const input = Array.isArray(inputs) ? inputs[0]! : inputs;
    const training = kwargs['training'] === true;
    if (!training || this.rateValue === 0) return input.clone();
    const shape = this.maskShape(input);
    const mask = dropoutMask(shape.reduce((a, b) => a * b, 1), this.rateValue, this.stream.seed());
    return tf.tidy(() => tf.mul(input, tf.tensor(mask, shape, 'float32')));
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rateValue, spatial: this.spatial, noiseShape: this.noiseShape, seed: this.seed };
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
  let state = seed >>> 0;
  for (let i = 0; i < size; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    if (((t ^ (t >>> 14)) >>> 0) >= threshold) mask[i] = scale;
  }
  return mask;
}

/**
 * The TunableDropout layers of a model, in order from input to output. Found by class name, not
 * instanceof: a program that loads this module twice (once as CommonJS, once as ESM) has two classes,
 * and a model deserialized by one holds instances of the other.
 */
export function dropoutLayersOf(model: tf.LayersModel): TunableDropout[] {
  return model.layers.filter((l): l is TunableDropout => l.getClassName() === TunableDropout.className);
}
