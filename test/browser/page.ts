/**
 * The page of the browser test (browser-entry.test.ts), bundled with esbuild for the browser: trains
 * small models with tfjs's wasm backend and droptune/browser's dropoutController, records the rates every
 * epoch and every batch trained with, and leaves the result on globalThis.__droptune for the test.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import {
  TunableDropout,
  createRng,
  dropoutController,
  dropoutLayersOf,
  makeDropoutTunable,
  type RunLogEntry,
} from '../../src/browser.js';

export interface FitRecord {
  /** Per epoch, the TunableDropout layers' rates when the epoch began. */
  epochRates: number[][];
  /** Per epoch, whether every batch of it ran at the rates it began with. */
  steadyWithinEpoch: boolean[];
  /** Per epoch, the rates the run log's steps record. */
  loggedRates: number[][];
  /** The files of the log's entries, in the order onLog received them. */
  entries: string[];
  /** The downloadable log: its steps and episodes counts, its log version and the agent's state. */
  blob: { steps: number; episodes: number; logVersion: unknown; agent: unknown };
  /** Per episode, the validation loss of the model it starts from (a refit starts from the first fit's). */
  startLosses: number[];
  bestSchedule: number[][] | undefined;
}

export interface PageResult {
  backend: string;
  annealed: FitRecord;
  linucb: FitRecord;
  /** The annealed run's best schedule given back as JSON text, fitted twice: two episodes. */
  replay: FitRecord;
  /** The shipped policy, its file's text fetched by the page. */
  policy: FitRecord;
  /** The fraction of a TunableDropout's outputs zeroed in training at each rate given. */
  zeroed: { rate: number; fraction: number; n: number }[];
}

const FEATURES = 8;
const SAMPLES = 400;

/** Two classes split by a seeded random hyperplane, 300 for training and 100 for validation. */
function seededData(): { x: tf.Tensor2D; y: tf.Tensor2D; xVal: tf.Tensor2D; yVal: tf.Tensor2D } {
  const rng = createRng('browser-page');
  const w = Array.from({ length: FEATURES }, () => rng.next() * 2 - 1);
  const xs = Array.from({ length: SAMPLES * FEATURES }, () => rng.next() * 2 - 1);
  const ys = Array.from({ length: SAMPLES }, (_, i) =>
    w.reduce((s, wj, j) => s + wj * xs[i * FEATURES + j]!, 0) > 0 ? 1 : 0,
  );
  const x = tf.tensor2d(xs, [SAMPLES, FEATURES]);
  const y = tf.oneHot(tf.tensor1d(ys, 'int32'), 2).toFloat() as tf.Tensor2D;
  const train = 300;
  return {
    x: x.slice([0, 0], [train, FEATURES]),
    y: y.slice([0, 0], [train, 2]),
    xVal: x.slice([train, 0], [SAMPLES - train, FEATURES]),
    yVal: y.slice([train, 0], [SAMPLES - train, 2]),
  };
}

/** A Keras-style model with two stock Dropout layers, made tunable. */
function tunableModel(seed: number): tf.LayersModel {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed * 10 + s });
  const base = tf.sequential({
    layers: [
      tf.layers.dense({ units: 16, inputShape: [FEATURES], activation: 'relu', kernelInitializer: init(1) }),
      tf.layers.dropout({ rate: 0.3 }),
      tf.layers.dense({ units: 16, activation: 'relu', kernelInitializer: init(2) }),
      tf.layers.dropout({ rate: 0.3 }),
      tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: init(3) }),
    ],
  });
  const model = makeDropoutTunable(base, { seed });
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

/**
 * Records the rates each epoch and each of its batches trains with, and the validation loss each fit
 * starts from (it runs after the controller, which sets them).
 */
class RateProbe extends tf.Callback {
  readonly epochRates: number[][] = [];
  readonly steady: boolean[] = [];
  readonly startLosses: number[] = [];
  constructor(
    private readonly layers: TunableDropout[],
    private readonly val: [tf.Tensor, tf.Tensor],
  ) {
    super();
  }
  override async onTrainBegin(): Promise<void> {
    const [x, y] = this.val;
    const model = this.model!;
    this.startLosses.push(
      tf.tidy(
        () =>
          tf.metrics
            .categoricalCrossentropy(y, model.predict(x) as tf.Tensor)
            .mean()
            .dataSync()[0]!,
      ),
    );
  }
  private rates(): number[] {
    return this.layers.map((d) => d.rate);
  }
  override async onEpochBegin(): Promise<void> {
    this.epochRates.push(this.rates());
    this.steady.push(true);
  }
  override async onBatchEnd(): Promise<void> {
    const began = this.epochRates[this.epochRates.length - 1]!;
    if (this.rates().some((r, i) => r !== began[i])) this.steady[this.steady.length - 1] = false;
  }
}

/** Fits a fresh model `fits` times (one episode each) with one controller. */
async function fitWith(
  options: Parameters<typeof dropoutController>[0],
  seed: number,
  data: ReturnType<typeof seededData>,
  fits = 1,
): Promise<FitRecord> {
  const model = tunableModel(seed);
  const entries: RunLogEntry[] = [];
  const controller = dropoutController({ ...options, seed, onLog: (e) => entries.push(e) });
  const probe = new RateProbe(dropoutLayersOf(model), [data.xVal, data.yVal]);
  for (let fit = 0; fit < fits; fit++) {
    await model.fit(data.x, data.y, {
      epochs: 5,
      batchSize: 16,
      shuffle: false,
      validationData: [data.xVal, data.yVal],
      callbacks: [controller, probe],
      verbose: 0,
    });
  }
  const blob = JSON.parse(await controller.toBlob()!.text()) as {
    steps: unknown[];
    episodes: unknown[];
    config: { logVersion?: unknown };
    agent: unknown;
  };
  return {
    epochRates: probe.epochRates,
    steadyWithinEpoch: probe.steady,
    loggedRates: controller.runLog!.steps.map((s) => s.rates),
    entries: entries.map((e) => e.file),
    blob: {
      steps: blob.steps.length,
      episodes: blob.episodes.length,
      logVersion: blob.config.logVersion,
      agent: blob.agent,
    },
    bestSchedule: controller.bestSchedule,
    startLosses: probe.startLosses,
  };
}

/** The fraction of outputs a TunableDropout zeroes in training at `rate`, over n ones. */
function zeroedFraction(rate: number, n: number): number {
  const layer = new TunableDropout({ rate, seed: 7 });
  return tf.tidy(() => {
    const out = layer.apply(tf.ones([1, n]), { training: true }) as tf.Tensor;
    return out.equal(0).sum().dataSync()[0]! / n;
  });
}

async function main(): Promise<PageResult> {
  // served by the test from tfjs-backend-wasm's dist/, beside this page
  setWasmPaths(`${(globalThis as unknown as { location: { origin: string } }).location.origin}/wasm/`);
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not start');
  await tf.ready();
  const data = seededData();
  // annealed: rate(t) = 0.5 · max(0, 1 − t/4), known before training starts
  const annealed = await fitWith({ schedule: 'annealed', options: { rate: 0.5, annealEpochs: 4 } }, 1, data);
  // linucb learns from the rewards (and needs mathjs, bundled): its rates are whatever it chose
  const linucb = await fitWith({ agent: 'linucb' }, 2, data);
  // no files in the browser: a schedule as its rates' JSON text, a policy as its file's text
  const replay = await fitWith({ schedule: JSON.stringify(annealed.bestSchedule) }, 3, data, 2);
  const policyText = await (await fetch('/policies/default.json')).text();
  const policy = await fitWith({ policy: policyText }, 4, data);
  const n = 20_000;
  const zeroed = [0, 0.25, 0.5].map((rate) => ({ rate, fraction: zeroedFraction(rate, n), n }));
  return { backend: tf.getBackend(), annealed, linucb, replay, policy, zeroed };
}

const page = globalThis as unknown as { __droptune?: { result?: PageResult; error?: string } };
main().then(
  (result) => (page.__droptune = { result }),
  (err: unknown) => (page.__droptune = { error: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) }),
);
