/**
 * Models from a spec string, each hidden block ending in a TunableDropout the env controls:
 * - `mlp:256,128`   Dense(256) → [BatchNorm] → ReLU → Dropout, Dense(128) → … , Dense(classes, softmax)
 * - `cnn:16,32/64`  per conv block Conv3×3(16) → [BatchNorm] → ReLU → MaxPool2×2 → SpatialDropout, then
 *                   Flatten → Dense(64) → [BatchNorm] → ReLU → Dropout → Dense(classes, softmax)
 * With `inputDropout`, one more TunableDropout on the input itself (per pixel, never spatial), as
 * Srivastava et al. 2014 used with keep 0.8: it is the first dropout layer, `dropout_1`.
 * BatchNorm sits before dropout: dropout ahead of it would skew the batch statistics (seed 003).
 * No dropout after the output layer.
 * With `concrete`, every dropout layer learns its rate by gradient (concrete dropout, see TunableDropout),
 * at temperature 0.1 when dense and 2/3 when spatial, as Gal et al.'s code.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import type { DropoutLayerInfo } from '../core/types.js';
import { TunableDropout } from './tunable-dropout.js';

export type ModelSpec = { kind: 'mlp'; dense: number[] } | { kind: 'cnn'; filters: number[]; dense: number[] };

const SPEC_HELP = "--model must look like 'mlp:256,128' or 'cnn:16,32/64' (positive layer sizes)";

function sizes(text: string, spec: string): number[] {
  const parts = text.split(',');
  return parts.map((p) => {
    if (!/^\d+$/.test(p.trim()) || Number(p) < 1) throw new ConfigError(`${SPEC_HELP}, got '${spec}'`);
    return Number(p);
  });
}

export function parseModelSpec(spec: string): ModelSpec {
  const match = /^(mlp|cnn):(.+)$/.exec(spec.trim());
  if (!match) throw new ConfigError(`${SPEC_HELP}, got '${spec}'`);
  const [, kind, body] = match as unknown as [string, 'mlp' | 'cnn', string];
  if (kind === 'mlp') return { kind, dense: sizes(body, spec) };
  const [convPart, densePart, ...rest] = body.split('/');
  if (convPart === undefined || densePart === undefined || rest.length > 0)
    throw new ConfigError(`${SPEC_HELP}, got '${spec}'`);
  return { kind, filters: sizes(convPart, spec), dense: sizes(densePart, spec) };
}

/** Number of dropout layers (= entries in an action) a spec builds, with or without input dropout. */
export function countDropoutLayers(spec: ModelSpec, inputDropout = false): number {
  return (inputDropout ? 1 : 0) + (spec.kind === 'mlp' ? spec.dense.length : spec.filters.length + spec.dense.length);
}

/** Per dropout layer of a spec, input to output: what it drops and how many of them (see DropoutLayerInfo). */
export function dropoutLayerInfo(
  spec: ModelSpec,
  imageShape: [number, number, number],
  inputDropout = false,
): DropoutLayerInfo[] {
  const input: DropoutLayerInfo[] = inputDropout
    ? [{ kind: 'input', units: imageShape[0] * imageShape[1] * imageShape[2] }]
    : [];
  const conv = spec.kind === 'cnn' ? spec.filters.map((units): DropoutLayerInfo => ({ kind: 'spatial', units })) : [];
  return [...input, ...conv, ...spec.dense.map((units): DropoutLayerInfo => ({ kind: 'dense', units }))];
}

/** Input shape of one sample for a spec: MLPs take flat vectors, CNNs NHWC images. */
export function modelInputShape(spec: ModelSpec, imageShape: [number, number, number]): number[] {
  // Each conv block halves the image: tabular samples (1 × features, as csv: gives) need an mlp.
  if (spec.kind === 'cnn' && Math.min(imageShape[0], imageShape[1]) < 2 ** spec.filters.length) {
    throw new ConfigError(
      `--model cnn with ${spec.filters.length} conv block${spec.filters.length === 1 ? '' : 's'} needs images of at least ${2 ** spec.filters.length}×${2 ** spec.filters.length}, got samples of ${imageShape[0]}×${imageShape[1]}×${imageShape[2]} (use an mlp: model for tabular data)`,
    );
  }
  return spec.kind === 'mlp' ? [imageShape[0] * imageShape[1] * imageShape[2]] : [...imageShape];
}

/** The most memory a built-in model may need: half of the 4 GB the wasm heap stops at (and a fixed bound, the same on every machine). */
export const MAX_MODEL_BYTES = 2 ** 31;

/**
 * What a spec will hold in memory when it trains on batches of `batchSize`: its weights with their
 * gradients and Adam's two moments (4 floats each), and each layer's activations with their gradients.
 */
export function modelMemory(
  spec: ModelSpec,
  imageShape: [number, number, number],
  numClasses: number,
  batchSize: number,
): { weights: number; bytes: number } {
  let weights = 0;
  let activations = 0;
  let [h, w, c] = imageShape;
  let inputs = h * w * c;
  if (spec.kind === 'cnn') {
    for (const filters of spec.filters) {
      weights += 9 * c * filters + filters;
      activations += h * w * filters;
      [h, w, c] = [Math.floor(h / 2), Math.floor(w / 2), filters];
    }
    inputs = h * w * c;
  }
  for (const units of [...spec.dense, numClasses]) {
    weights += inputs * units + units;
    activations += units;
    inputs = units;
  }
  return { weights, bytes: 4 * (4 * weights + 2 * batchSize * activations) };
}

/** Fails with a ConfigError, before anything is allocated, when the spec would not fit in memory. */
export function checkModelMemory(
  specText: string,
  spec: ModelSpec,
  imageShape: [number, number, number],
  numClasses: number,
  batchSize = 64,
): void {
  const { weights, bytes } = modelMemory(spec, imageShape, numClasses, batchSize);
  const limit = MAX_MODEL_BYTES;
  if (bytes > limit) {
    const gb = (b: number) => `${(b / 2 ** 30).toFixed(b < 2 ** 30 ? 2 : 1)} GB`;
    throw new ConfigError(
      `--model ${specText}: ${weights} weights and their activations at --batch-size ${batchSize} need about ${gb(bytes)}, more than the ${gb(limit)} a model may use here: choose smaller layers`,
    );
  }
}

export interface BuildOptions {
  imageShape: [number, number, number];
  numClasses: number;
  /** Initial rate of each dropout layer, input to output. */
  rates: number[];
  /** @default false */
  batchNorm?: boolean;
  /** A dropout layer on the input, before the first dense or conv layer. @default false */
  inputDropout?: boolean;
  /** Every dropout layer learns its rate (concrete dropout); `rates` are the initial ones, in (0, 1). @default false */
  concrete?: boolean;
  /** Every initializer and dropout stream draws its seed from here. */
  rng: Rng;
  /** The batch size it will train with: only for the memory check. @default 64 */
  batchSize?: number;
}

export interface BuiltModel {
  model: tf.LayersModel;
  dropouts: TunableDropout[];
  /** Dense and conv kernels: what L2 weight decay applies to. */
  kernels: tf.LayerVariable[];
  /** Per dropout layer, the kernel of the dense or conv layer its output feeds (concrete dropout's regularizer weighs it). */
  fedKernels: tf.LayerVariable[];
}

/** Builds a seeded model; every initializer and dropout stream draws its seed from `rng`. */
export function buildModel(spec: ModelSpec, opts: BuildOptions): BuiltModel {
  const { rng } = opts;
  const inputDropout = opts.inputDropout ?? false;
  const layers = countDropoutLayers(spec, inputDropout);
  if (opts.rates.length !== layers)
    throw new Error(`buildModel: ${opts.rates.length} rates for ${layers} dropout layers`);
  const shown =
    spec.kind === 'mlp' ? `mlp:${spec.dense.join(',')}` : `cnn:${spec.filters.join(',')}/${spec.dense.join(',')}`;
  checkModelMemory(shown, spec, opts.imageShape, opts.numClasses, opts.batchSize);
  const model = tf.sequential();
  const dropouts: TunableDropout[] = [];
  const kernels: tf.LayerVariable[] = [];
  let inputShape: number[] | undefined = modelInputShape(spec, opts.imageShape);
  let block = 0;
  // Each call adds a layer; only the first one is given the input shape.
  const add = (layer: tf.layers.Layer) => {
    model.add(layer);
    inputShape = undefined;
    return layer;
  };
  const init = () => tf.initializers.glorotUniform({ seed: rng.seed() });
  // Without BatchNorm the ReLU goes inside the dense/conv layer, where tfjs fuses it with the matmul.
  const activation = opts.batchNorm ? undefined : ('relu' as const);
  // Dropout layers are numbered input to output, as the rates and the run logs number them.
  const addDropout = (spatial: boolean) => {
    const index = dropouts.length;
    const dropout = new TunableDropout({
      rate: opts.rates[index]!,
      spatial,
      concrete: opts.concrete,
      // Gal et al.'s code: 0.1 for dense layers, 2/3 for spatial ones (a channel mask is coarser)
      ...(opts.concrete ? { temperature: spatial ? 2 / 3 : 0.1 } : {}),
      seed: rng.seed(),
      name: `dropout_${index + 1}`,
      inputShape,
    });
    dropouts.push(dropout);
    add(dropout);
  };
  const dropoutAfter = (spatial: boolean) => {
    block += 1;
    if (opts.batchNorm) {
      add(tf.layers.batchNormalization({ name: `bn_${block}` }));
      add(tf.layers.activation({ activation: 'relu', name: `relu_${block}` }));
    }
    if (spatial) add(tf.layers.maxPooling2d({ poolSize: 2, name: `pool_${block}` }));
    addDropout(spatial);
  };

  // Per pixel even before a conv: a one-channel image has no channels to drop.
  if (inputDropout) addDropout(false);
  if (spec.kind === 'cnn') {
    for (const filters of spec.filters) {
      const conv = tf.layers.conv2d({
        inputShape,
        filters,
        kernelSize: 3,
        padding: 'same',
        activation,
        kernelInitializer: init(),
        name: `conv_${block + 1}`,
      });
      add(conv);
      dropoutAfter(true);
    }
    add(tf.layers.flatten({ name: 'flatten' }));
  }
  for (const units of spec.dense) {
    add(tf.layers.dense({ inputShape, units, activation, kernelInitializer: init(), name: `dense_${block + 1}` }));
    dropoutAfter(false);
  }
  add(tf.layers.dense({ units: opts.numClasses, activation: 'softmax', kernelInitializer: init(), name: 'output' }));

  const fedKernels: tf.LayerVariable[] = [];
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'Dense' && layer.getClassName() !== 'Conv2D') continue;
    const kernel = layer.trainableWeights[0]!;
    kernels.push(kernel);
    // Every dropout layer since the last kernel feeds this one (through pooling or flatten at most).
    while (
      fedKernels.length < dropouts.length &&
      model.layers.indexOf(dropouts[fedKernels.length]!) < model.layers.indexOf(layer)
    )
      fedKernels.push(kernel);
  }
  return { model, dropouts, kernels, fedKernels };
}
