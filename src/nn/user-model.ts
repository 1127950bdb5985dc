/**
 * A user's own tfjs-layers model as something droptune can tune: its `Dropout`, `SpatialDropout1D` and
 * `SpatialDropout2D` layers become TunableDropout layers with the same rate (and the same mask shape),
 * every other layer and every weight stays as it was.
 *
 * The rewrite works on the model's Keras-format topology (what `model.toJSON()` returns and model.json
 * holds), so a model given in code and one read from a file take one path, and a Keras SpatialDropout2D
 * (which tfjs cannot deserialize) is rewritten before tfjs ever sees it.
 *
 * Files (model.json and its weights on disk) are read and written by src/nn/model-file.ts: this file has
 * no node: import, so the browser entry has makeDropoutTunable too.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../core/errors.js';
import { createRng, type Rng } from '../core/rng.js';
import type { BuiltModel } from './models.js';
import { TunableDropout, dropoutLayersOf } from './tunable-dropout.js';

/** Layer classes made tunable (TunableDropout layers already there are kept, and tuned too). */
export const DROPOUT_CLASSES = ['Dropout', 'SpatialDropout1D', 'SpatialDropout2D'] as const;

export type Json = Record<string, unknown>;

/**
 * A user model, ready to be rebuilt as often as the env needs it. Plain data, no tensor held; what
 * needs a tfjs backend to find out (weights, shapes) waits for `resolve()`, so options can be checked
 * before a backend is chosen.
 */
export interface UserModel {
  /** What the user gave, for messages and logs: `file:PATH` or `model 'NAME'`. */
  source: string;
  /** The Keras-format topology with every dropout layer rewritten as TunableDropout. */
  topology: Json;
  /** The dropout layers' names and own rates, input to output. */
  dropoutNames: string[];
  rates: number[];
  /** How the output layer makes its output: 'softmax', 'linear', 'sigmoid', … */
  outputActivation: string;
  /** The model built once (the first call; later calls return the same): its weights and shapes. */
  resolve(): ResolvedUserModel;
}

export interface ResolvedUserModel {
  /** Every weight of the rewritten model, in `model.weights` order, as the model came. */
  weights: { name: string; shape: number[]; values: Float32Array }[];
  /** One sample's shape (no batch dimension). */
  inputShape: number[];
  /** Units of the output (its last dimension; 0 unless the output is [batch, units]). */
  outputUnits: number;
}

// the topology rewrite

function rootOf(topology: Json): Json {
  // A Keras full save wraps the architecture in model_config, as tfjs's own loader allows.
  return (topology['model_config'] as Json | undefined) ?? topology;
}

function layersOf(topology: Json, source: string): Json[] {
  const config = rootOf(topology)['config'] as Json | undefined;
  const layers = config?.['layers'];
  if (!Array.isArray(layers))
    throw new ConfigError(`${source}: not a tfjs-layers model (its topology has no config.layers)`);
  return layers as Json[];
}

/** How the model's output layer activates, read from the topology: a Sequential's last layer, a functional model's first output. */
function outputActivationOf(topology: Json, source: string): string {
  const layers = layersOf(topology, source);
  const config = rootOf(topology)['config'] as Json;
  const outputs = config['output_layers'] as unknown[][] | undefined;
  const name = Array.isArray(outputs) && Array.isArray(outputs[0]) ? outputs[0][0] : undefined;
  const layer =
    name === undefined
      ? layers[layers.length - 1]
      : layers.find((l) => (l['config'] as Json | undefined)?.['name'] === name);
  if (!layer) return 'unknown';
  if (layer['class_name'] === 'Softmax') return 'softmax';
  return String((layer['config'] as Json)['activation'] ?? layer['class_name']);
}

/** A copy of `topology` whose dropout layers are TunableDropout, with their names and rates. */
export function tunableTopology(
  topology: Json,
  source: string,
): { topology: Json; dropoutNames: string[]; rates: number[] } {
  const copy = structuredClone(topology);
  const dropoutNames: string[] = [];
  const rates: number[] = [];
  for (const layer of layersOf(copy, source)) {
    const className = String(layer['class_name']);
    const c = (layer['config'] ?? {}) as Json;
    if (className === TunableDropout.className) {
      dropoutNames.push(String(c['name']));
      rates.push(Number(c['rate']));
      continue;
    }
    if (!(DROPOUT_CLASSES as readonly string[]).includes(className)) continue;
    const rate = c['rate'];
    if (typeof rate !== 'number' || !(rate >= 0 && rate < 1))
      throw new ConfigError(
        `${source}: layer '${String(c['name'])}' has rate ${JSON.stringify(rate)}, a dropout rate must be in [0, 1)`,
      );
    // Keras's mask shapes: SpatialDropout1D drops whole channels of [batch, steps, channels],
    // SpatialDropout2D whole feature maps (channels last unless data_format says first).
    const channelsFirst = c['data_format'] === 'channels_first';
    const noiseShape =
      className === 'SpatialDropout1D'
        ? [null, 1, null]
        : className === 'SpatialDropout2D'
          ? channelsFirst
            ? [null, null, 1, 1]
            : null
          : ((c['noise_shape'] as unknown[] | undefined) ?? null);
    layer['class_name'] = TunableDropout.className;
    layer['config'] = {
      name: c['name'],
      trainable: c['trainable'] ?? true,
      rate,
      spatial: className === 'SpatialDropout2D' && !channelsFirst,
      noise_shape: noiseShape,
      seed: 0,
      ...(c['batch_input_shape'] ? { batch_input_shape: c['batch_input_shape'] } : {}),
    };
    dropoutNames.push(String(c['name']));
    rates.push(rate);
  }
  return { topology: copy, dropoutNames, rates };
}

// deserializing, synchronously

/** tfjs's identifier rule (generic_utils.toCamelCase): `noise_shape` → `noiseShape`. */
function toCamelCase(identifier: string): string {
  if (identifier.length <= 1 || !identifier.includes('_')) return identifier;
  return identifier.replace(/[_]+(\w|$)/g, (_m, p1: string) => p1.toUpperCase());
}

/**
 * Keras-format (snake_case) config to tfjs's own form, as tfjs's convertPythonicToTs does it (it is not
 * exported): keys and string values are camel-cased, except `name` values and the layer names that
 * start node references. Ours is synchronous where tf.models.modelFromJSON is async, so the env can
 * build a user model in its constructor and its reset.
 */
function pythonicToTs(value: unknown, key?: string): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (typeof value === 'string') return toCamelCase(value);
  if (typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const names = key === 'inboundNodes' || key === 'outputLayers' || key === 'inputLayers';
    return value.map((item, i) => (names && i === 0 && typeof item === 'string' ? item : pythonicToTs(item, key)));
  }
  const out: Json = {};
  for (const [k, v] of Object.entries(value as Json)) {
    if (k === 'name' && typeof v === 'string') out[k] = v;
    else {
      const tsKey = toCamelCase(k);
      out[tsKey] = pythonicToTs(v, tsKey);
    }
  }
  return out;
}

/** Builds a model from a Keras-format topology, through the classes tfjs registered (ours included). */
function modelFromTopology(topology: Json, source: string): tf.LayersModel {
  const root = pythonicToTs(rootOf(topology)) as { className?: string; config?: tf.serialization.ConfigDict };
  const entry = root.className ? tf.serialization.SerializationMap.getMap().classNameMap[root.className] : undefined;
  if (!entry || !root.config)
    throw new ConfigError(`${source}: not a tfjs-layers model (model class ${JSON.stringify(root.className)})`);
  const [cls, fromConfig] = entry;
  let model: tf.serialization.Serializable;
  try {
    model = fromConfig(cls, root.config);
  } catch (err) {
    throw new ConfigError(`${source}: tfjs cannot build this model: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!(model instanceof tf.LayersModel)) throw new ConfigError(`${source}: ${root.className} is not a layers model`);
  return model;
}

function writeWeights(model: tf.LayersModel, weights: ResolvedUserModel['weights'], source: string): void {
  const vars = model.weights;
  if (vars.length !== weights.length)
    throw new Error(`${source}: ${weights.length} weights saved, the rebuilt model has ${vars.length}`);
  vars.forEach((v, i) => {
    const value = tf.tensor(weights[i]!.values, weights[i]!.shape, 'float32');
    v.write(value);
    value.dispose();
  });
}

// one user model, from code or from a file

/**
 * A UserModel of `topology`; `resolve` rebuilds it once, takes the weights `weightOf` gives (from
 * `savedWeights()`, disposed after) and keeps what every later rebuild needs.
 */
export function userModelFrom(
  topology: Json,
  source: string,
  savedWeights: () => { weightOf: (v: tf.LayerVariable, i: number) => tf.Tensor | undefined; dispose?: () => void },
): UserModel {
  const tunable = tunableTopology(topology, source);
  let resolved: ResolvedUserModel | undefined;
  return {
    source,
    topology: tunable.topology,
    dropoutNames: tunable.dropoutNames,
    rates: tunable.rates,
    outputActivation: outputActivationOf(tunable.topology, source),
    resolve() {
      resolved ??= resolveModel(tunable.topology, source, savedWeights);
      return resolved;
    },
  };
}

function resolveModel(
  topology: Json,
  source: string,
  savedWeights: Parameters<typeof userModelFrom>[2],
): ResolvedUserModel {
  const model = modelFromTopology(topology, source);
  const saved = savedWeights();
  const { weightOf } = saved;
  try {
    const weights = model.weights.map((v, i) => {
      const value = weightOf(v, i);
      const shape = v.shape as number[];
      if (!value) throw new ConfigError(`${source}: no saved value for weight '${v.originalName}'`);
      if (!tf.util.arraysEqual(value.shape, shape))
        throw new ConfigError(
          `${source}: weight '${v.originalName}' has shape [${value.shape.join(', ')}], the model needs [${shape.join(', ')}]`,
        );
      return { name: v.originalName, shape: [...shape], values: new Float32Array(value.dataSync()) };
    });
    if (model.inputs.length !== 1 || model.outputs.length !== 1) {
      throw new ConfigError(
        `${source}: droptune trains models with one input and one output, this one has ${model.inputs.length} and ${model.outputs.length}`,
      );
    }
    const inputShape = model.inputs[0]!.shape.slice(1);
    if (inputShape.some((d) => d === null))
      throw new ConfigError(
        `${source}: its input shape [${inputShape.map(String).join(', ')}] is not fixed: give the first layer a full inputShape`,
      );
    const outputShape = model.outputs[0]!.shape;
    return {
      weights,
      inputShape: inputShape as number[],
      outputUnits: outputShape.length === 2 ? (outputShape[1] ?? 0) : 0,
    };
  } finally {
    model.dispose();
    saved.dispose?.();
  }
}

/** A model given in code (Sequential or functional, built: its input shape known). It is not changed. */
export function userModelOf(model: tf.LayersModel, source = `model '${model.name}'`): UserModel {
  if (!(model.inputs?.length > 0)) throw new ConfigError(`${source} is not built: give its first layer an inputShape`);
  const topology = model.toJSON(null, false) as Json;
  const own = model.weights;
  // Same layers in the same order (dropout layers have no weights), so the weights line up by index.
  const user = userModelFrom(topology, source, () => ({ weightOf: (_v, i) => own[i]?.read() }));
  // Now, while the model's weights are the ones given (the caller may train or dispose it later).
  user.resolve();
  return user;
}

// building it

/**
 * The user's model rebuilt with tunable dropout: its own weights, the given rates, and mask streams
 * seeded from `rng`. Every call gives a fresh model in the same starting state.
 */
export function buildUserModel(user: UserModel, opts: { rates?: number[]; rng: Rng }): BuiltModel {
  const { weights } = user.resolve();
  const model = modelFromTopology(user.topology, user.source);
  writeWeights(model, weights, user.source);
  const dropouts = dropoutLayersOf(model);
  const rates = opts.rates ?? user.rates;
  if (rates.length !== dropouts.length)
    throw new Error(`buildUserModel: ${rates.length} rates for ${dropouts.length} dropout layers`);
  dropouts.forEach((d, i) => {
    d.rate = rates[i]!;
    d.reseed(opts.rng.seed());
  });
  // What L2 weight decay applies to: the dense and conv kernels, as for the built-in specs.
  const kernels = model.trainableWeights.filter((w) =>
    /(^|\/)(kernel|depthwise_kernel|pointwise_kernel)$/.test(w.originalName),
  );
  return { model, dropouts, kernels, fedKernels: [] };
}

/** Refuses a model with nothing to tune. */
export function checkHasDropout(user: UserModel): void {
  if (user.dropoutNames.length === 0) {
    throw new ConfigError(
      `${user.source} has no Dropout, SpatialDropout1D or SpatialDropout2D layer: there is no rate to tune (add a tf.layers.dropout where you want one)`,
    );
  }
}

/**
 * `model` with its Dropout, SpatialDropout1D and SpatialDropout2D layers replaced by TunableDropout at
 * the same rates, its weights copied: predictions with dropout off are the same. The model given is not
 * changed; the new one is not compiled (compile it as you would the original). Mask streams are seeded
 * from `seed`.
 */
export function makeDropoutTunable(model: tf.LayersModel, opts: { seed?: number } = {}): tf.LayersModel {
  const user = userModelOf(model);
  checkHasDropout(user);
  return buildUserModel(user, { rng: createRng(`tunable:${opts.seed ?? 0}`) }).model;
}
