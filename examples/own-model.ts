/**
 * Your own model: tune the dropout of a tfjs model you built, two ways.
 *   1. In your own model.fit: a callback changes the rates after every epoch (here the plateau rule).
 *   2. As droptune's environment: a saved model.json trained by droptune, one episode per seed.
 * The fit callback writes a run folder that `npm run compare -- FOLDER` reads; the CLI does the same for
 * the env with `npm run agent -- --model file:DIR/model.json …`.
 *
 *   tsc, then node examples/own-model.js [OUT_DIR]
 */
import * as tf from '@tensorflow/tfjs';
import {
  DropoutEnv,
  dropoutController,
  initBackend,
  loadDataset,
  makeAgent,
  makeDropoutTunable,
  run$,
  saveModelFile,
} from 'droptune';

const outDir = process.argv[2] ?? 'runs/own-model-example';
await initBackend();

// Any tfjs-layers model with Dropout layers; synthetic data has 8×8×1 samples in 6 classes.
function myModel(): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [64], units: 64, activation: 'relu' }));
  model.add(tf.layers.dropout({ rate: 0.2 }));
  model.add(tf.layers.dense({ units: 32, activation: 'relu' }));
  model.add(tf.layers.dropout({ rate: 0.2 }));
  model.add(tf.layers.dense({ units: 6, activation: 'softmax' }));
  return model;
}
const data = loadDataset({ dataset: 'synthetic', trainSize: 300, valSize: 150, testSize: 150 });
const tensors = (split: typeof data.train) =>
  [tf.tensor2d(split.x, [split.n, data.features]), tf.oneHot(tf.tensor1d(split.y, 'int32'), data.numClasses)] as const;
const [x, y] = tensors(data.train);
const [xVal, yVal] = tensors(data.val);

// 1. In your own training loop: make the Dropout layers tunable, compile, fit with the controller.
const model = makeDropoutTunable(myModel(), { seed: 0 });
model.compile({ optimizer: tf.train.adam(0.005), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
const controller = dropoutController({ plateau: { patience: 1, min: 0.05 }, out: `${outDir}/fit`, seed: 0 });
await model.fit(x, y, {
  epochs: 5,
  batchSize: 64,
  shuffle: false,
  validationData: [xVal, yVal],
  callbacks: [controller],
  verbose: 0,
});
console.log(
  `fit: final valAcc ${controller.episodes[0]!.valAcc.toFixed(3)}, rates per epoch ${JSON.stringify(controller.episodes[0]!.schedule)} → ${controller.out}`,
);

// 2. As the environment: save the model (model.save('file://…') with tfjs-node writes the same files).
const file = await saveModelFile(myModel(), `${outDir}/my-model`);
const env = new DropoutEnv(data, { model: `file:${file}`, maxEpochs: 3, actionMode: 'absolute' });
const agent = makeAgent('schedule', env, { schedule: 'linear', rate: 0.4, finalRate: 0.1 });
run$(env, agent, { episodes: 1, seed: 0 }).subscribe({
  next: (event) => {
    if (event.type === 'episode')
      console.log(
        `env: ${env.layerNames.join(', ')} tuned, episode valAcc ${event.record.valAcc.toFixed(3)}, schedule ${JSON.stringify(event.record.schedule)}`,
      );
  },
  complete: () => env.dispose(),
});
