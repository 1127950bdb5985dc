/**
 * DropoutEnv: a real TensorFlow.js training run behind a Gymnasium-shaped API.
 * One step = set the dropout rates from the action, train one epoch (seeded shuffle), evaluate on the
 * validation split with dropout off, and report loss statistics as the observation.
 *
 * Observation, in order (losses are divided by ln(classes), so an untrained model starts near 1):
 *   trainLoss, trainLossStd   mean and std of the epoch's batch losses (dropout on)      [0, 10]
 *   trainAcc, valAcc          accuracies                                                [0, 1]
 *   valLoss                   validation loss (dropout off)                             [0, 10]
 *   lossGap                   valLoss − trainLoss: the generalization gap in loss      [−10, 10]
 *   accGap                    trainAcc − valAcc                                         [−1, 1]
 *   trainLossTrend, valLossTrend, valAccTrend
 *                             least-squares slope per epoch over the last `trendWindow`
 *                             epochs (0 while there is only one point)                  [−10, 10] / [−1, 1]
 *   rate_1 … rate_L           each dropout layer's current rate                         [0, 1]
 *   progress                  epoch / maxEpochs                                         [0, 1]
 * Values are clipped into these bounds (a diverged loss shows as the upper bound).
 *
 * Reward: `delta` (default) = valAcc after the step − valAcc before it, so an episode's return is the
 * final minus the initial validation accuracy; `terminal` = 0 until the last step, then the final valAcc.
 * Divergence (a NaN/Inf training loss) ends the episode with `terminated` and reward `divergencePenalty`.
 *
 * With `concreteDropout` the rates are learned by gradient in the run (Gal et al. 2017, see
 * TunableDropout): actions are checked against the action space but change no rate, and `info.rates`
 * reports the learned ones after each epoch.
 *
 * Your own model (`model: tf.LayersModel` or `'file:PATH/model.json'`, see src/nn/user-model.ts): its
 * dropout layers are the tuned ones, input to output. Every episode starts from the weights the model
 * came with (as saved, or as they were when the env was made), so episodes differ only by the seeded
 * shuffles and masks; its compile settings are not used (the env trains with its own optimizer and
 * categorical cross-entropy, hence the softmax output it requires).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { checkInt, checkKnownKeys, checkNumber, checkString } from '../src/core/check.js';
import { ConfigError } from '../src/core/errors.js';
import { createRng, permutation, restoreRng, type Rng, type RngState } from '../src/core/rng.js';
import type { Box, Space } from '../src/core/spaces.js';
import {
  type Action,
  type DropoutLayerInfo,
  type Env,
  type ResetResult,
  type StepInfo,
  type StepResult,
} from '../src/core/types.js';
import type { Dataset, Split } from '../src/data/dataset.js';
import {
  buildModel,
  checkModelMemory,
  countDropoutLayers,
  dropoutLayerInfo,
  modelInputShape,
  parseModelSpec,
  type BuiltModel,
  type ModelSpec,
} from '../src/nn/models.js';
import { createOptimizer, type Optimizer, type OptimizerState } from '../src/nn/optimizer.js';
import { evaluate, trainEpoch } from '../src/nn/trainer.js';
import { readModelFile } from '../src/nn/model-file.js';
import { buildUserModel, checkHasDropout, userModelOf, type UserModel } from '../src/nn/user-model.js';
import {
  CONCRETE_LR_SCALE,
  ENV_DEFAULTS,
  ENV_FLAGS as FLAG,
  actionSpaceOf,
  checkEnvOption as checkDeclared,
  observationLayout,
  observationOf,
  rateAfter,
  stepOutcome,
  type DropoutEnvConfig,
} from './env-spec.js';

// Its options and the arithmetic of a step live in env-spec.ts (node-free, shared with the fit callback).
export * from './env-spec.js';

/** The prefix of a model.json path given as --model. */
export const MODEL_FILE_PREFIX = 'file:';

/** A spec string, a model.json path or a model in code, as a spec or a UserModel. */
function modelOf(model: unknown): { spec: ModelSpec; userModel: null } | { spec: null; userModel: UserModel } {
  if (model instanceof tf.LayersModel) return { spec: null, userModel: userModelOf(model) };
  const text = checkString(FLAG.model, model);
  if (!text.startsWith(MODEL_FILE_PREFIX)) return { spec: parseModelSpec(text), userModel: null };
  const file = text.slice(MODEL_FILE_PREFIX.length);
  if (file === '')
    throw new ConfigError(`${FLAG.model} file: needs the path of a model.json, as in file:models/mine/model.json`);
  return { spec: null, userModel: readModelFile(file, `${FLAG.model} ${text}`) };
}

export function checkEnvConfig(
  partial: Partial<DropoutEnvConfig>,
): DropoutEnvConfig & { spec: ModelSpec | null; userModel: UserModel | null; rates: number[] } {
  checkKnownKeys('DropoutEnv', partial, Object.keys(ENV_DEFAULTS));
  const c = { ...ENV_DEFAULTS, ...partial };
  const { spec, userModel } = modelOf(c.model);
  const inputDropout = checkDeclared('inputDropout', c.inputDropout);
  if (userModel) {
    checkHasDropout(userModel);
    if (userModel.outputActivation !== 'softmax') {
      throw new ConfigError(
        `${userModel.source} must end in softmax (the env trains it with categorical cross-entropy on class probabilities); its output layer has activation '${userModel.outputActivation}'`,
      );
    }
    // These options shape a built-in spec; your own model already has the layers it has.
    for (const key of ['batchNorm', 'inputDropout', 'concreteDropout'] as const) {
      if (c[key] === true)
        throw new ConfigError(
          `${FLAG[key]} applies to the built-in mlp:/cnn: models only: add the layer to your own model instead`,
        );
    }
  }
  const layers = userModel ? userModel.rates.length : countDropoutLayers(spec!, inputDropout);
  const minRate = checkDeclared('minRate', c.minRate);
  const maxRate = checkDeclared('maxRate', c.maxRate);
  if (minRate > maxRate)
    throw new ConfigError(`${FLAG.minRate} (${minRate}) must not exceed ${FLAG.maxRate} (${maxRate})`);
  // Your own model starts from its own rates unless told otherwise.
  const initialRates = partial.initialRates ?? (userModel ? userModel.rates : ENV_DEFAULTS.initialRates);
  const initial = Array.isArray(initialRates) ? initialRates : Array<number>(layers).fill(initialRates);
  if (initial.length !== layers) {
    throw new ConfigError(
      `${FLAG.initialRates} needs 1 or ${layers} values for ${userModel?.source ?? String(c.model)}${inputDropout ? ' with input dropout' : ''}, got ${initial.length}`,
    );
  }
  const rates = initial.map((r) => checkNumber(FLAG.initialRates, r, minRate, maxRate));
  const concreteDropout = checkDeclared('concreteDropout', c.concreteDropout);
  const noLogit = rates.find((r) => r <= 0);
  if (concreteDropout && noLogit !== undefined)
    throw new ConfigError(`${FLAG.initialRates} must be in (0, 1) with ${FLAG.concreteDropout}, got ${noLogit}`);
  return {
    // A model file is recorded by its absolute path, as csv:/idx: data are: a run resumes from anywhere.
    model:
      typeof c.model === 'string' && c.model.startsWith(MODEL_FILE_PREFIX)
        ? `${MODEL_FILE_PREFIX}${path.resolve(c.model.slice(MODEL_FILE_PREFIX.length))}`
        : c.model,
    spec,
    userModel,
    rates,
    batchNorm: checkDeclared('batchNorm', c.batchNorm),
    inputDropout,
    concreteDropout,
    concreteLr: c.concreteLr === null ? null : checkDeclared('concreteLr', c.concreteLr),
    concreteLengthScale: checkDeclared('concreteLengthScale', c.concreteLengthScale),
    l2: checkDeclared('l2', c.l2),
    optimizer: checkDeclared('optimizer', c.optimizer),
    lr: checkDeclared('lr', c.lr),
    momentum: checkDeclared('momentum', c.momentum),
    batchSize: checkDeclared('batchSize', c.batchSize),
    maxEpochs: checkDeclared('maxEpochs', c.maxEpochs),
    actionMode: checkDeclared('actionMode', c.actionMode),
    rateStep: checkDeclared('rateStep', c.rateStep),
    maxDelta: checkDeclared('maxDelta', c.maxDelta),
    minRate,
    maxRate,
    initialRates,
    reward: checkDeclared('reward', c.reward),
    divergencePenalty: checkDeclared('divergencePenalty', c.divergencePenalty),
    trendWindow: checkDeclared('trendWindow', c.trendWindow),
    testEachEpoch: checkDeclared('testEachEpoch', c.testEachEpoch),
  };
}

/**
 * Everything the next epoch depends on, so that `restore(snapshot)` followed by the same actions gives
 * bit-identical results to never having stopped (same backend). Plain data: src/store/checkpoint.ts
 * writes it to disk.
 */
export interface EnvSnapshot {
  version: 1;
  /** The config the snapshot was taken under; restoring into an env with another one is refused. */
  fingerprint: string;
  epoch: number;
  done: boolean;
  history: StepInfo[];
  /** The env's stream (shuffles, and the seeds of the next model it builds). */
  rng: RngState;
  /** Per dropout layer, input to output: its rate and where its mask stream stands. */
  dropouts: { rate: number; stream: RngState }[];
  /** Every model weight, trainable or not (BatchNorm's moving statistics included), in model order. */
  weights: { name: string; shape: number[]; values: Float32Array }[];
  /** Adam's moments or SGD's velocity, per trainable weight. */
  optimizer: OptimizerState;
}

/** Refuses a user model whose input or output does not fit the dataset. */
function checkModelFitsData(model: UserModel, dataset: Dataset): void {
  const user = { ...model.resolve(), source: model.source };
  const values = user.inputShape.reduce((a, b) => a * b, 1);
  const [h, w, ch] = dataset.imageShape;
  if (values !== dataset.features) {
    throw new ConfigError(
      `${user.source}: its input shape [${user.inputShape.join(', ')}] takes ${values} values per sample, but ${dataset.name} has ${dataset.features} features per sample (${h}×${w}×${ch}): give the model an input shape of [${dataset.features}] or [${h}, ${w}, ${ch}]`,
    );
  }
  if (user.outputUnits !== dataset.numClasses) {
    throw new ConfigError(
      `${user.source}: its output has ${user.outputUnits} units, but ${dataset.name} has ${dataset.numClasses} classes: end it in a softmax dense layer of ${dataset.numClasses} units`,
    );
  }
}

/** Tensors of one split: inputs shaped for the model, one-hot labels. */
interface SplitTensors {
  x: tf.Tensor;
  labels: tf.Tensor;
}

function toTensors(split: Split, inputShape: number[], numClasses: number): SplitTensors {
  return tf.tidy(() => ({
    x: tf.tensor(split.x, [split.n, ...inputShape], 'float32'),
    labels: tf.oneHot(tf.tensor1d(split.y, 'int32'), numClasses).toFloat(),
  }));
}

export class DropoutEnv implements Env {
  readonly config: ReturnType<typeof checkEnvConfig>;
  readonly numLayers: number;
  readonly observationSpace: Box;
  readonly actionSpace: Space;
  readonly observationNames: readonly string[];
  /** Names of the dropout layers, input to output (`dropout_1` … for the built-in specs). */
  readonly layerNames: readonly string[];
  /** Per dropout layer, its kind and width (built-in specs; undefined for your own model). */
  readonly layerInfo: DropoutLayerInfo[] | undefined;

  private readonly val: SplitTensors;
  private readonly test: SplitTensors;
  /** A fixed slice of the training split, to measure the untrained model at reset. */
  private readonly trainProbe: SplitTensors;
  private readonly lossScale: number;

  private rng: Rng = createRng(0);
  private built: BuiltModel | null = null;
  private optimizer: Optimizer | null = null;
  private readonly sampleShape: number[];
  private epoch = 0;
  private done = true;
  private history: StepInfo[] = [];

  constructor(
    readonly dataset: Dataset,
    partial: Partial<DropoutEnvConfig> = {},
  ) {
    this.config = checkEnvConfig(partial);
    const { spec, userModel } = this.config;
    if (userModel) checkModelFitsData(userModel, dataset);
    // Before any tensor or file: a model too large for memory would die inside wasm.
    else
      checkModelMemory(
        String(partial.model ?? ENV_DEFAULTS.model),
        spec!,
        dataset.imageShape,
        dataset.numClasses,
        this.config.batchSize,
      );
    this.numLayers = userModel ? userModel.rates.length : countDropoutLayers(spec!, this.config.inputDropout);
    const L = this.numLayers;
    this.actionSpace = actionSpaceOf(L, this.config);
    const layout = observationLayout(L);
    this.observationNames = layout.names;
    this.observationSpace = layout.space;
    this.layerNames = userModel ? [...userModel.dropoutNames] : Array.from({ length: L }, (_, i) => `dropout_${i + 1}`);
    this.layerInfo = spec ? dropoutLayerInfo(spec, dataset.imageShape, this.config.inputDropout) : undefined;
    this.lossScale = Math.log(dataset.numClasses);

    const inputShape = userModel ? userModel.resolve().inputShape : modelInputShape(spec!, dataset.imageShape);
    this.sampleShape = inputShape;
    this.val = toTensors(dataset.val, inputShape, dataset.numClasses);
    this.test = toTensors(dataset.test, inputShape, dataset.numClasses);
    const probeSize = Math.min(dataset.train.n, dataset.val.n);
    const { train } = dataset;
    this.trainProbe = toTensors(
      { x: train.x.subarray(0, probeSize * dataset.features), y: train.y.subarray(0, probeSize), n: probeSize },
      inputShape,
      dataset.numClasses,
    );
  }

  /** The concrete logits' learning rate: --concrete-lr, else CONCRETE_LR_SCALE × --lr. */
  get concreteLr(): number {
    return this.config.concreteLr ?? CONCRETE_LR_SCALE * this.config.lr;
  }

  /** The model being trained (after reset; it stays after the last step until the next reset or dispose). */
  get model(): tf.LayersModel | null {
    return this.built?.model ?? null;
  }

  /** Current rates, input to output. */
  get rates(): number[] {
    return this.built ? this.built.dropouts.map((d) => d.rate) : [...this.config.rates];
  }

  async reset(opts: { seed?: number } = {}): Promise<ResetResult> {
    if (opts.seed !== undefined) this.rng = createRng(checkInt('seed', opts.seed, 0, 2 ** 32 - 1));
    this.disposeModel();
    this.built = this.buildNetwork(this.config.rates, this.rng.fork());
    this.optimizer = createOptimizer(this.config);
    this.epoch = 0;
    this.done = false;
    // The untrained model, measured the same way as after a step (dropout off for both here).
    const trainStats = await evaluate(this.built, this.trainProbe.x, this.trainProbe.labels);
    const valStats = await evaluate(this.built, this.val.x, this.val.labels);
    const info: StepInfo = {
      epoch: 0,
      trainLoss: trainStats.loss,
      trainLossStd: 0,
      trainAcc: trainStats.acc,
      valLoss: valStats.loss,
      valAcc: valStats.acc,
      rates: this.rates,
      diverged: false,
    };
    this.history = [info];
    return { observation: this.observe(), info };
  }

  async step(action: Action): Promise<StepResult> {
    const built = this.built;
    if (!built || !this.optimizer || this.done)
      throw new Error('DropoutEnv.step: call reset() first (the episode has ended or not begun)');
    if (!this.actionSpace.contains(action))
      throw new Error(`DropoutEnv.step: action ${JSON.stringify(action)} is not in the action space`);
    const started = performance.now();
    if (!this.config.concreteDropout) this.applyAction(built, action);

    const order = permutation(this.dataset.train.n, this.rng);
    const epochStats = await trainEpoch(
      built,
      this.optimizer,
      this.dataset.train,
      this.sampleShape,
      this.dataset.numClasses,
      order,
      this.config.batchSize,
      this.config.l2,
      { lrScale: this.concreteLr / this.config.lr, lengthScale: this.config.concreteLengthScale },
    );
    const valStats = await evaluate(built, this.val.x, this.val.labels);
    this.epoch += 1;
    const diverged = epochStats.diverged || !Number.isFinite(valStats.loss);
    const info: StepInfo = {
      epoch: this.epoch,
      trainLoss: epochStats.lossMean,
      trainLossStd: epochStats.lossStd,
      trainAcc: epochStats.acc,
      valLoss: valStats.loss,
      valAcc: valStats.acc,
      rates: this.rates,
      diverged,
    };
    const previous = this.history[this.history.length - 1]!;
    this.history.push(info);
    // The reward reads validation accuracies only: deciding it before the test evaluation changes nothing.
    const { terminated, truncated, reward } = stepOutcome(info, previous, this.config);
    this.done = terminated || truncated;
    if (this.done || this.config.testEachEpoch) {
      const testStats = await evaluate(built, this.test.x, this.test.labels);
      info.testLoss = testStats.loss;
      info.testAcc = testStats.acc;
    }
    const observation = this.observe();
    info.stepMs = performance.now() - started;
    return { observation, reward, terminated, truncated, info };
  }

  /** The whole training state at this epoch boundary (see EnvSnapshot). Call after reset(). */
  snapshot(): EnvSnapshot {
    const built = this.built;
    if (!built || !this.optimizer) throw new Error('DropoutEnv.snapshot: call reset() first');
    return {
      version: 1,
      fingerprint: this.fingerprint(),
      epoch: this.epoch,
      done: this.done,
      history: this.history.map((h) => ({ ...h, rates: [...h.rates] })),
      rng: this.rng.state(),
      dropouts: built.dropouts.map((d) => ({ rate: d.rate, stream: d.streamState })),
      weights: built.model.weights.map((w) => ({
        name: w.originalName,
        shape: [...w.read().shape],
        values: (w.read().dataSync() as Float32Array).slice(),
      })),
      optimizer: this.optimizer.getState(),
    };
  }

  /** Puts back a snapshot taken by an env with the same config (in this process or another). */
  restore(snapshot: EnvSnapshot): void {
    if (snapshot.version !== 1)
      throw new Error(`DropoutEnv.restore: snapshot version ${String(snapshot.version)} is not supported`);
    if (snapshot.fingerprint !== this.fingerprint()) {
      throw new Error(
        `DropoutEnv.restore: the snapshot was taken with another model, data or optimizer (${snapshot.fingerprint} vs ${this.fingerprint()})`,
      );
    }
    this.disposeModel();
    // Built like a fresh episode's model, then every value is overwritten from the snapshot.
    this.built = this.buildNetwork(
      snapshot.dropouts.map((d) => d.rate),
      createRng(0),
    );
    // Rates before weights: a concrete layer's rate is its logit weight, which the saved value then sets exactly.
    this.built.dropouts.forEach((d, i) => {
      d.rate = snapshot.dropouts[i]!.rate;
      d.streamState = snapshot.dropouts[i]!.stream;
    });
    const weights = this.built.model.weights;
    if (weights.length !== snapshot.weights.length)
      throw new Error(
        `DropoutEnv.restore: ${snapshot.weights.length} weights in the snapshot, ${weights.length} in the model`,
      );
    weights.forEach((w, i) => {
      const saved = snapshot.weights[i]!;
      const shape = w.read().shape;
      if (saved.values.length !== shape.reduce((a, b) => a * b, 1))
        throw new Error(
          `DropoutEnv.restore: weight ${saved.name} has ${saved.values.length} values for shape [${shape.join(', ')}]`,
        );
      const value = tf.tensor(saved.values.slice(), shape, 'float32');
      w.write(value);
      value.dispose();
    });
    this.optimizer = createOptimizer(this.config);
    this.optimizer.setState(snapshot.optimizer);
    this.rng = restoreRng(snapshot.rng);
    this.epoch = snapshot.epoch;
    this.done = snapshot.done;
    this.history = snapshot.history.map((h) => ({ ...h, rates: [...h.rates] }));
  }

  /**
   * What a snapshot must agree on: everything that shapes the model, the data and the updates. Input
   * dropout, concrete dropout and the optimizer appear only when they differ from the defaults, so that
   * checkpoints written before they existed still restore.
   */
  private fingerprint(): string {
    const { batchNorm, inputDropout, concreteDropout, l2, optimizer, lr, momentum, batchSize } = this.config;
    const d = this.dataset;
    // Your own model by its architecture, not by where it was read from.
    const { userModel } = this.config;
    const model = userModel
      ? `user:${createHash('sha256').update(JSON.stringify(userModel.topology)).digest('hex').slice(0, 16)}`
      : this.config.model;
    return JSON.stringify({
      model,
      batchNorm,
      l2,
      lr,
      batchSize,
      data: [d.name, d.train.n, d.val.n, d.test.n, d.features, d.numClasses],
      ...(inputDropout ? { inputDropout } : {}),
      ...(concreteDropout
        ? { concreteDropout, concreteLr: this.concreteLr, concreteLengthScale: this.config.concreteLengthScale }
        : {}),
      ...(optimizer === 'sgd' ? { optimizer, momentum } : {}),
    });
  }

  dispose(): void {
    this.disposeModel();
    tf.dispose([this.val.x, this.val.labels, this.test.x, this.test.labels, this.trainProbe.x, this.trainProbe.labels]);
  }

  /** A fresh model at `rates`: a built-in spec seeded from `rng`, or your own model with its own weights. */
  private buildNetwork(rates: number[], rng: Rng): BuiltModel {
    const { spec, userModel } = this.config;
    if (userModel) return buildUserModel(userModel, { rates, rng });
    return buildModel(spec!, {
      imageShape: this.dataset.imageShape,
      numClasses: this.dataset.numClasses,
      rates,
      batchNorm: this.config.batchNorm,
      inputDropout: this.config.inputDropout,
      concrete: this.config.concreteDropout,
      rng,
      batchSize: this.config.batchSize,
    });
  }

  private applyAction(built: BuiltModel, action: Action): void {
    built.dropouts.forEach((layer, i) => {
      layer.rate = rateAfter(layer.rate, action[i]!, this.config);
    });
  }

  private observe(): number[] {
    return observationOf(this.history, {
      lossScale: this.lossScale,
      trendWindow: this.config.trendWindow,
      epoch: this.epoch,
      maxEpochs: this.config.maxEpochs,
      space: this.observationSpace,
    });
  }

  private disposeModel(): void {
    this.built?.model.dispose();
    this.built = null;
    this.optimizer = null;
  }
}
