/**
 * The population's speed figure for `npm run bench`: one epoch (training plus the validation pass) of
 * P members trained as one PopulationTrainer, against one member's epoch through the single-run path
 * (trainEpoch and evaluate of src/nn/trainer.ts, what DropoutEnv.step runs), on the same data and model.
 * The default shape is the mnist-wide preset's: mlp:512,512 with input dropout, 1,000 training samples,
 * 1,000 validation samples, batch 64, members at the preset's grid of rates.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../core/rng.js';
import { buildModel } from './models.js';
import { createOptimizer } from './optimizer.js';
import { memberStateOf, PopulationTrainer } from './population.js';
import { evaluate, trainEpoch, type HostSplit } from './trainer.js';

/** The data the figure is measured on (a Dataset fits). */
export interface BenchData {
  imageShape: [number, number, number];
  features: number;
  numClasses: number;
  train: HostSplit;
  val: HostSplit;
}

export interface PopulationBenchOptions {
  /** Hidden layer sizes. @default [512, 512] */
  hidden?: number[];
  /** @default true */
  inputDropout?: boolean;
  /** One rate per member, used on every layer; the population has as many members. @default the mnist-wide grid */
  rates?: number[];
  /** Timed epochs per figure, after one untimed warm-up. @default 3 */
  epochs?: number;
  /** @default 64 */
  batchSize?: number;
}

export interface PopulationBenchResult {
  members: number;
  /** Seconds per epoch (median): one member alone, and the whole population; training only and with validation. */
  singleTrain: number;
  singleEpoch: number;
  populationTrain: number;
  populationEpoch: number;
  /** populationEpoch / singleEpoch: the figure (sequential training would be `members`). */
  ratio: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Medians of the training part and of the whole epoch, over `n` epochs after a warm-up. */
async function timeEpochs(n: number, train: () => Promise<void>, validate: () => Promise<void>) {
  const trainTimes: number[] = [];
  const epochTimes: number[] = [];
  for (let i = 0; i <= n; i++) {
    const t0 = performance.now();
    await train();
    const t1 = performance.now();
    await validate();
    const t2 = performance.now();
    if (i === 0) continue;
    trainTimes.push((t1 - t0) / 1000);
    epochTimes.push((t2 - t0) / 1000);
  }
  return { train: median(trainTimes), epoch: median(epochTimes) };
}

/** One member's epoch vs a population's epoch (see the top of this file). */
export async function populationVsSingle(
  data: BenchData,
  opts: PopulationBenchOptions = {},
): Promise<PopulationBenchResult> {
  const hidden = opts.hidden ?? [512, 512];
  const inputDropout = opts.inputDropout ?? true;
  const rates = opts.rates ?? [0, 0.2, 0.3, 0.4, 0.5, 0.6];
  const epochs = opts.epochs ?? 3;
  const batchSize = opts.batchSize ?? 64;
  const layers = hidden.length + (inputDropout ? 1 : 0);
  const build = (rate: number, seed: number) => {
    const rng = createRng(seed);
    const built = buildModel(
      { kind: 'mlp', dense: hidden },
      {
        imageShape: data.imageShape,
        numClasses: data.numClasses,
        rates: Array<number>(layers).fill(rate),
        inputDropout,
        rng: rng.fork(),
      },
    );
    return { built, rng };
  };
  const val = tf.tidy(() => ({
    x: tf.tensor2d(data.val.x, [data.val.n, data.features]),
    labels: tf.oneHot(tf.tensor1d(data.val.y, 'int32'), data.numClasses).toFloat(),
  }));
  try {
    // One member alone: a middle rate of the grid.
    const single = build(rates[Math.floor(rates.length / 2)]!, 0);
    const optimizer = createOptimizer({ optimizer: 'adam', lr: 0.001, momentum: 0 });
    const alone = await timeEpochs(
      epochs,
      async () => {
        const order = Uint32Array.from({ length: data.train.n }, (_, i) => i);
        await trainEpoch(
          single.built,
          optimizer,
          data.train,
          [data.features],
          data.numClasses,
          Int32Array.from(order),
          batchSize,
        );
      },
      async () => void (await evaluate(single.built, val.x, val.labels)),
    );
    single.built.model.dispose();

    const states = rates.map((rate, p) => {
      const { built, rng } = build(rate, p);
      const state = memberStateOf(built, rng);
      built.model.dispose();
      return state;
    });
    const population = new PopulationTrainer(
      { units: [data.features, ...hidden, data.numClasses], inputDropout, batchSize, lr: 0.001 },
      states,
    );
    const together = await timeEpochs(
      epochs,
      async () => void (await population.trainEpoch(data.train)),
      async () => void (await population.evaluate(val.x, val.labels)),
    );
    population.dispose();
    return {
      members: rates.length,
      singleTrain: alone.train,
      singleEpoch: alone.epoch,
      populationTrain: together.train,
      populationEpoch: together.epoch,
      ratio: together.epoch / alone.epoch,
    };
  } finally {
    tf.dispose([val.x, val.labels]);
  }
}
