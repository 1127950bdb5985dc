/**
 * `npm run bench`: seconds per epoch, side by side in one process, for every backend that starts here.
 *
 *   mlp   the default mnist MLP (5,000 training digits, 784-256-128-10, dropout 0.5/0.3, batch 64, Adam):
 *         plain tfjs model.fit with the stock Dropout layer vs DropoutEnv's full step (train epoch +
 *         validation evaluation + statistics). Target: env step ≤ 1.2 × model.fit epoch.
 *   cnn   the default CNN (cnn:16,32/64) on 5,000 Fashion-MNIST images: DropoutEnv step.
 *
 * Each figure is the median over --epochs timed epochs after one untimed warm-up epoch. The cpu backend
 * is slow enough on the CNN that it is timed on --cpu-cnn-samples images and scaled to 5,000 (printed).
 */
import * as tf from '@tensorflow/tfjs';
import { DropoutEnv } from '../../envs/dropout-env.js';
import { checkInt } from '../core/check.js';
import { ConfigError } from '../core/errors.js';
import { flagOf, type OptionSpec } from '../core/options.js';
import { loadDataset, type Dataset } from '../data/dataset.js';
import { availableBackends, initBackend, type BackendName } from '../nn/backend.js';
import { profileKernels, profileTable } from '../nn/profile.js';
import { helpText, parseArgs } from './args.js';
import { runCli } from './run-cli.js';

const OPTIONS: OptionSpec[] = [
  { key: 'epochs', flag: flagOf('epochs'), type: 'int', default: 3, help: 'timed epochs per measurement (after one warm-up)' },
  { key: 'backends', flag: flagOf('backends'), type: 'string', default: 'all', help: "comma-separated backends, or 'all' that start" },
  { key: 'cnn', flag: flagOf('cnn'), type: 'boolean', default: true, help: 'also time the CNN on Fashion-MNIST' },
  { key: 'cpuCnnSamples', flag: flagOf('cpuCnnSamples'), type: 'int', default: 500, help: 'images the cpu CNN epoch is timed on' },
  { key: 'dataDir', flag: flagOf('dataDir'), type: 'string', default: '/usr/share/datasets/fashion-mnist', help: 'folder of the fashion-mnist IDX files' },
  { key: 'profile', flag: flagOf('profile'), type: 'boolean', default: false, help: 'print where one env step spends its time, per kernel, and stop' },
];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Times `epoch` once untimed, then `n` times; seconds per epoch (median). */
async function timeEpochs(n: number, epoch: () => Promise<void>): Promise<number> {
  await epoch();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await epoch();
    times.push((performance.now() - t) / 1000);
  }
  return median(times);
}

/** Plain tfjs: the same MLP with the stock Dropout layer, one model.fit epoch at a time. */
async function plainFitSecondsPerEpoch(data: Dataset, epochs: number): Promise<number> {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 256, activation: 'relu' }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 128, activation: 'relu' }),
      tf.layers.dropout({ rate: 0.3 }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const x = tf.tensor2d(data.train.x, [data.train.n, 784]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(data.train.y, 'int32'), 10).toFloat());
  const seconds = await timeEpochs(epochs, async () => {
    await model.fit(x, y, { epochs: 1, batchSize: 64, shuffle: true, verbose: 0 });
  });
  tf.dispose([x, y]);
  model.dispose();
  return seconds;
}

/** DropoutEnv's full step: train epoch + validation evaluation + observation statistics. */
async function envStepSeconds(data: Dataset, model: string, rates: number[], epochs: number): Promise<number> {
  const env = new DropoutEnv(data, { model, initialRates: rates, maxEpochs: epochs + 1, batchSize: 64, lr: 0.001 });
  await env.reset({ seed: 0 });
  const keep = Array<number>(rates.length).fill(1);
  const seconds = await timeEpochs(epochs, async () => {
    await env.step(keep);
  });
  env.dispose();
  return seconds;
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, OPTIONS);
  if (args.help) {
    console.log(helpText('usage: npm run bench -- [options]\n\nSeconds per epoch of plain model.fit and of DropoutEnv, per backend.', [{ title: 'Options', specs: OPTIONS }]));
    return 0;
  }
  const get = (key: string) => args.values[key] ?? OPTIONS.find((o) => o.key === key)!.default;
  const epochs = checkInt('--epochs', get('epochs'), 1);
  const cpuCnnSamples = checkInt('--cpu-cnn-samples', get('cpuCnnSamples'), 1, 5000);
  const available = await availableBackends();
  const wanted = String(get('backends')) === 'all' ? available : String(get('backends')).split(',');
  for (const b of wanted) {
    if (!available.includes(b as BackendName)) throw new ConfigError(`--backends: '${b}' is not available here (available: ${available.join(', ')})`);
  }
  console.log(`backends: ${wanted.join(', ')}   node ${process.versions.node}   timed epochs: ${epochs} (median, after a warm-up)`);

  const mnist = loadDataset({ dataset: 'mnist', trainSize: 5000, valSize: 1000, testSize: 1000, seed: 0 });
  let fashion: Dataset | undefined;
  if (get('cnn') === true) {
    try {
      fashion = loadDataset({ dataset: 'fashion-mnist', trainSize: 5000, valSize: 1000, testSize: 1000, seed: 0, dataDir: String(get('dataDir')) });
    } catch (err) {
      console.log(`cnn: skipped (${(err as Error).message})`);
    }
  }

  if (get('profile') === true) {
    for (const backend of wanted as BackendName[]) {
      await initBackend(backend);
      await profileStep(`${backend}: mlp:256,128 DropoutEnv step, 5,000 mnist digits`, mnist, 'mlp:256,128', [0.5, 0.3]);
      if (fashion && backend !== 'cpu') await profileStep(`${backend}: cnn:16,32/64 DropoutEnv step, 5,000 fashion-mnist images`, fashion, 'cnn:16,32/64', [0.1, 0.1, 0.3]);
    }
    return 0;
  }

  const rows: string[][] = [['backend', 'what', 's/epoch', 'samples/s', 'note']];
  for (const backend of wanted as BackendName[]) {
    await initBackend(backend);
    const fit = await plainFitSecondsPerEpoch(mnist, epochs);
    const step = await envStepSeconds(mnist, 'mlp:256,128', [0.5, 0.3], epochs);
    rows.push([backend, 'mlp  model.fit (stock Dropout)', fit.toFixed(2), (5000 / fit).toFixed(0), '']);
    rows.push([backend, 'mlp  DropoutEnv step', step.toFixed(2), (5000 / step).toFixed(0), `${(step / fit).toFixed(2)}× model.fit (target ≤ 1.20×)`]);
    if (fashion) {
      const samples = backend === 'cpu' ? cpuCnnSamples : 5000;
      const subset: Dataset = samples === 5000 ? fashion : { ...fashion, train: { x: fashion.train.x.subarray(0, samples * 784), y: fashion.train.y.subarray(0, samples), n: samples } };
      const seconds = (await envStepSeconds(subset, 'cnn:16,32/64', [0.1, 0.1, 0.3], backend === 'cpu' ? 1 : epochs)) * (5000 / samples);
      rows.push([backend, 'cnn  DropoutEnv step (fashion)', seconds.toFixed(2), (5000 / seconds).toFixed(0), samples === 5000 ? '' : `timed on ${samples} images, scaled to 5,000`]);
    }
    console.log(`  ${backend}: done`);
  }
  console.log('');
  printTable(rows);
  return 0;
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd());
}

/** One untimed step, then the per-kernel profile of the next. */
async function profileStep(title: string, data: Dataset, model: string, rates: number[]): Promise<void> {
  const env = new DropoutEnv(data, { model, initialRates: rates, maxEpochs: 3, batchSize: 64, lr: 0.001 });
  await env.reset({ seed: 0 });
  const keep = Array<number>(rates.length).fill(1);
  await env.step(keep);
  const profile = await profileKernels(() => env.step(keep));
  env.dispose();
  console.log(`\n${title}: ${(profile.wallMs / 1000).toFixed(2)} s, ${profile.calls} kernel calls`);
  printTable(profileTable(profile));
}

runCli('bench', main);
