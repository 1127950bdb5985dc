/**
 * The way out of droptune: a tuned model with its TunableDropout layers turned back into tfjs's own
 * `Dropout`, so it saves and loads with plain @tensorflow/tfjs (no `Unknown layer: TunableDropout`) and
 * deploys without droptune. No node: import, so the browser entry has it too.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../core/errors.js';
import { TunableDropout, dropoutLayersOf } from './tunable-dropout.js';

type Json = Record<string, unknown>;

/**
 * A copy of `model` with every TunableDropout layer a stock `tf.layers.dropout` at its current rate (after
 * a tuned fit: the schedule's last rates), or at `rates` (one for every layer, or one per layer, input to
 * output). Every other layer and every weight is copied; `model` is not changed. Spatial masks keep their
 * shape through Dropout's noiseShape. The new model is not compiled.
 */
export async function toStockDropout(
  model: tf.LayersModel,
  rates?: number | readonly number[],
): Promise<tf.LayersModel> {
  const dropouts = dropoutLayersOf(model);
  if (dropouts.length === 0)
    throw new ConfigError(`toStockDropout: model '${model.name}' has no TunableDropout layer (it is stock already)`);
  const wanted =
    rates === undefined
      ? dropouts.map((d) => d.rate)
      : typeof rates === 'number'
        ? dropouts.map(() => rates)
        : [...rates];
  if (wanted.length !== dropouts.length)
    throw new ConfigError(
      `toStockDropout: rates needs 1 or ${dropouts.length} values (one per dropout layer), got ${wanted.length}`,
    );
  wanted.forEach((r, i) => {
    if (!(typeof r === 'number' && r >= 0 && r < 1))
      throw new ConfigError(`toStockDropout: rates[${i}] must be in [0, 1), got ${JSON.stringify(r)}`);
  });
  const rateOf = new Map(dropouts.map((d, i) => [d.name, wanted[i]!]));
  // Keras-format topology (what model.json holds), rewritten layer by layer.
  const topology = model.toJSON(null, false) as unknown as Json;
  const layers = (topology['config'] as Json)['layers'] as Json[];
  for (const layer of layers) {
    if (layer['class_name'] !== TunableDropout.className) continue;
    const c = layer['config'] as Json;
    const noiseShape = (c['noise_shape'] as (number | null)[] | null) ?? (c['spatial'] ? [null, 1, 1, null] : null);
    layer['class_name'] = 'Dropout';
    layer['config'] = {
      name: c['name'],
      trainable: c['trainable'] ?? true,
      dtype: c['dtype'] ?? 'float32',
      rate: rateOf.get(String(c['name'])),
      noise_shape: noiseShape,
      seed: null,
      ...(c['batch_input_shape'] ? { batch_input_shape: c['batch_input_shape'] } : {}),
    };
  }
  const stock = await tf.models.modelFromJSON({ modelTopology: topology } as Parameters<
    typeof tf.models.modelFromJSON
  >[0]);
  // Layer by layer: a concrete-dropout layer's own logit has no place in a stock Dropout.
  for (const layer of stock.layers) {
    if (layer.getClassName() === 'Dropout' && rateOf.has(layer.name)) continue;
    const weights = model.getLayer(layer.name).getWeights();
    if (weights.length > 0) layer.setWeights(weights);
  }
  return stock;
}
