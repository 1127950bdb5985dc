/**
 * dropoutController: a tfjs callback that tunes the dropout of your own model inside your own
 * `model.fit`, with any droptune agent, and writes the same run log as `npm run agent`.
 *
 *   const model = makeDropoutTunable(myModel);          // Dropout layers → TunableDropout, weights kept
 *   model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
 *   await model.fit(x, y, { epochs: 10, validationData: [xVal, yVal], callbacks: [dropoutController({ agent: 'plateau' })] });
 *
 * One `fit` is one episode; fitting again with the same controller runs the next episode, and an agent
 * that learns across episodes keeps learning. Before each epoch the agent's action sets the rates of the
 * model's TunableDropout layers; after it, fit's logs become the observation and the reward.
 *
 * The observation is the env's (see envs/dropout-env.ts), with these differences:
 * - trainLoss and trainAcc are fit's `loss` and `acc` (a sample-weighted epoch mean; the env's trainLoss
 *   is the mean of its batch losses); trainLossStd is the std of fit's batch losses, as in the env.
 * - The state before epoch 1 is not measured (fit shows its callbacks no data): losses are taken as
 *   ln(classes) and accuracies as 1/classes, a model at chance. So the first delta reward is
 *   valAcc − 1/classes where the env's is valAcc − the untrained model's valAcc.
 * - There is no test split unless `testData` is given; without it episodes log testAcc as null.
 * fit's own shuffling uses Math.random: for a run that repeats exactly, pass `shuffle: false` to fit.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { AGENTS, checkAgentOptions } from '../../agents/index.js';
import {
  actionSpaceOf,
  observationLayout,
  observationOf,
  rateAfter,
  rewardOf,
  ENV_DEFAULTS,
  REWARD_MODES,
  type RewardMode,
} from '../../envs/dropout-env.js';
import { checkInt, checkNumber, checkOneOf } from '../core/check.js';
import { ConfigError } from '../core/errors.js';
import type { EpisodeRecord } from '../core/run-log.js';
import {
  ACTION_MODES,
  type Action,
  type ActionMode,
  type Agent,
  type StepInfo,
  type Transition,
} from '../core/types.js';
import { episodeRecord, episodeSeed } from '../loop/loop.js';
import { createRng } from '../core/rng.js';
import type { Box } from '../core/spaces.js';
import { dropoutLayersOf, type TunableDropout } from '../nn/tunable-dropout.js';
import { RunWriter, stepRecord, summarize } from '../store/run-writer.js';
import { agentContext, agentRng, type AgentTarget } from '../run/make-agent.js';
import { packageVersions } from '../run/run.js';

export interface DropoutControllerOptions {
  /** Any agent of `agentNames()` except pbt. @default 'constant', or the one a shortcut below names */
  agent?: string;
  /** Shortcut for `agent: 'schedule'`: a schedule name (linear, curriculum, …) or a JSON file of per-epoch rates. */
  schedule?: string;
  /** Shortcut for `agent: 'plateau'` (true, or its options: `{ patience, min, max }`). */
  plateau?: boolean | Record<string, unknown>;
  /** Shortcut for `agent: 'policy'`: a policy file from `npm run train-policy`. */
  policy?: string;
  /** The agent's options, keyed as its OptionSpecs (`{ rate: 0.3 }`, `{ ucbC: 1 }`). @default {} */
  options?: Record<string, unknown>;
  /** Seeds the agent and each episode's dropout masks. @default 0 */
  seed?: number;
  /** The run folder. @default runs/<date>-fit-<agent>-s<seed> */
  out?: string;
  /** Names the run in comparisons. */
  label?: string;
  /** How actions change rates. @default the agent's own */
  actionMode?: ActionMode;
  /** @default 0 */
  minRate?: number;
  /** @default 0.8 */
  maxRate?: number;
  /** δ of a discrete action. @default 0.05 */
  rateStep?: number;
  /** Largest change of a continuous action. @default 0.1 */
  maxDelta?: number;
  /** @default 'delta' */
  reward?: RewardMode;
  /** Reward of an epoch whose loss is not finite (fit is then stopped). @default -1 */
  divergencePenalty?: number;
  /** Epochs the trend slopes look back over. @default 3 */
  trendWindow?: number;
  /** Evaluated at the end of every fit with dropout off, for the log's testAcc (never shown to the agent). */
  testData?: [tf.Tensor, tf.Tensor];
}

/** What fit's logs hold after an epoch: numbers, or scalars not yet read. */
type Logs = Record<string, number | tf.Scalar | undefined>;

const valueOf = (v: number | tf.Scalar | undefined): number | undefined =>
  v === undefined ? undefined : typeof v === 'number' ? v : v.dataSync()[0];
/** The accuracy metric under the names tfjs logs it by. */
const ACC_KEYS = ['acc', 'accuracy', 'categoricalAccuracy', 'binaryAccuracy'];
const accOf = (logs: Logs, prefix: string): number | undefined => {
  for (const key of ACC_KEYS) {
    const v = valueOf(logs[prefix + key]);
    if (v !== undefined) return v;
  }
  return undefined;
};

function defaultOut(agent: string, seed: number): string {
  const base = path.join('runs', `${new Date().toISOString().slice(0, 10)}-fit-${agent}-s${seed}`);
  for (let i = 1; ; i++) {
    const dir = i === 1 ? base : `${base}-${i}`;
    if (!existsSync(dir) || readdirSync(dir).length === 0) return dir;
  }
}

/** The agent a controller's options name, and its own options. */
function agentChoice(o: DropoutControllerOptions): { agent: string; options: Record<string, unknown> } {
  const shortcuts = (['schedule', 'plateau', 'policy'] as const).filter((k) => o[k] !== undefined && o[k] !== false);
  if (shortcuts.length > 1 || (shortcuts.length === 1 && o.agent !== undefined && o.agent !== shortcuts[0])) {
    throw new ConfigError(
      `dropoutController: give one of agent, schedule, plateau, policy; got ${[...(o.agent !== undefined ? ['agent'] : []), ...shortcuts].join(', ')}`,
    );
  }
  const options = { ...(o.options ?? {}) };
  const shortcut = shortcuts[0];
  if (shortcut === 'schedule') options['schedule'] = o.schedule;
  if (shortcut === 'policy') options['policy'] = o.policy;
  if (shortcut === 'plateau' && typeof o.plateau === 'object') Object.assign(options, o.plateau);
  const agent = shortcut ?? o.agent ?? 'constant';
  if (!(agent in AGENTS))
    throw new ConfigError(
      `dropoutController: agent must be one of ${Object.keys(AGENTS).join(', ')}, got ${JSON.stringify(agent)}`,
    );
  if (AGENTS[agent]!.population)
    throw new ConfigError(`dropoutController: agent ${agent} trains a population of runs, not one fit`);
  return { agent, options: checkAgentOptions(agent, options) };
}

/** One episode in progress: one fit. */
interface Episode {
  number: number;
  seed: number;
  started: number;
  epoch: number;
  history: StepInfo[];
  observation: number[];
  action: Action;
  transitions: Transition[];
  /** This epoch's batch losses, kept as fit logs them (scalars are read once, at the epoch's end). */
  batchLosses: (number | tf.Scalar)[];
  done: boolean;
}

/** See the top of this file. Build one with `dropoutController(options)`. */
export class DropoutController extends tf.Callback {
  readonly agentName: string;
  readonly agentOptions: Record<string, unknown>;
  readonly seed: number;
  readonly out: string;
  private readonly config: {
    actionMode: ActionMode;
    minRate: number;
    maxRate: number;
    rateStep: number;
    maxDelta: number;
    reward: RewardMode;
    divergencePenalty: number;
    trendWindow: number;
  };
  private agent: Agent | null = null;
  private target: AgentTarget | null = null;
  private observationSpace: Box | null = null;
  private writer: RunWriter | null = null;
  private dropouts: TunableDropout[] = [];
  private lossScale = 1;
  private numClasses = 2;
  private episode: Episode | null = null;
  private readonly records: EpisodeRecord[] = [];
  private epochsTrained = 0;
  private wallMs = 0;

  constructor(private readonly options: DropoutControllerOptions = {}) {
    super();
    const { agent, options: agentOptions } = agentChoice(options);
    this.agentName = agent;
    this.agentOptions = agentOptions;
    this.seed = checkInt('seed', options.seed ?? 0, 0, 2 ** 32 - 1);
    const entry = AGENTS[agent]!;
    const actionMode = checkOneOf('actionMode', options.actionMode ?? entry.defaultActionMode, ACTION_MODES);
    if (!entry.supports.includes(actionMode))
      throw new ConfigError(
        `actionMode ${actionMode} is not supported by agent ${agent} (supported: ${entry.supports.join(', ')})`,
      );
    const minRate = checkNumber('minRate', options.minRate ?? ENV_DEFAULTS.minRate, 0, 1, true);
    const maxRate = checkNumber('maxRate', options.maxRate ?? ENV_DEFAULTS.maxRate, 0, 1, true);
    if (minRate > maxRate) throw new ConfigError(`minRate (${minRate}) must not exceed maxRate (${maxRate})`);
    this.config = {
      actionMode,
      minRate,
      maxRate,
      rateStep: checkNumber('rateStep', options.rateStep ?? ENV_DEFAULTS.rateStep, 0, 1),
      maxDelta: checkNumber('maxDelta', options.maxDelta ?? ENV_DEFAULTS.maxDelta, 0, 1),
      reward: checkOneOf('reward', options.reward ?? ENV_DEFAULTS.reward, REWARD_MODES),
      divergencePenalty: checkNumber(
        'divergencePenalty',
        options.divergencePenalty ?? ENV_DEFAULTS.divergencePenalty,
        -1e6,
        0,
      ),
      trendWindow: checkInt('trendWindow', options.trendWindow ?? ENV_DEFAULTS.trendWindow, 2),
    };
    this.out = options.out ?? defaultOut(agent, this.seed);
  }

  /** The run's finished episodes so far, as episodes.jsonl holds them. */
  get episodes(): readonly EpisodeRecord[] {
    return this.records;
  }

  /** The agent, once the first fit has begun (it needs the model's layers and fit's epochs). */
  get currentAgent(): Agent | null {
    return this.agent;
  }

  override async onTrainBegin(): Promise<void> {
    const model = this.model;
    if (!model) throw new Error('dropoutController: fit gave the callback no model');
    const epochs = this.params['epochs'] as number;
    const dropouts = dropoutLayersOf(model);
    if (dropouts.length === 0) {
      const plain = model.layers.filter((l) => /^(Spatial)?Dropout(1D|2D)?$/.test(l.getClassName())).length;
      throw new ConfigError(
        plain > 0
          ? `dropoutController: the model's ${plain} dropout layer(s) are not tunable: fit makeDropoutTunable(model) instead (then compile it)`
          : 'dropoutController: the model has no dropout layer to tune',
      );
    }
    // Checked before the run folder is created: the first epoch's end would find no validation logs.
    const metrics = this.params['metrics'] as string[] | undefined;
    if (this.params['doValidation'] === false || (metrics && !metrics.some((m) => /^val_acc(uracy)?$/.test(m))))
      throw new ConfigError(
        "dropoutController needs validation loss and accuracy after each epoch: pass validationData (or validationSplit) to fit, and compile with metrics: ['accuracy']",
      );
    if (!this.agent) this.start(model, dropouts, epochs);
    else if (dropouts.length !== this.target!.numLayers || epochs !== this.target!.config.maxEpochs) {
      throw new Error(
        `dropoutController: every fit of one controller must train the same model for the same epochs (the agent was built for ${this.target!.numLayers} layers and ${this.target!.config.maxEpochs} epochs, this fit has ${dropouts.length} and ${epochs})`,
      );
    }
    this.dropouts = dropouts;

    // Episodes count from 1, as in every run log.
    const number = this.records.length + 1;
    const seed = episodeSeed(this.seed, number);
    // Each episode's masks come from its own seed, so one fit's dropout repeats under the same seed.
    const masks = createRng(seed);
    for (const d of dropouts) d.reseed(masks.seed());
    // Not measured (see the top of this file): a model at chance.
    const chance: StepInfo = {
      epoch: 0,
      trainLoss: this.lossScale,
      trainLossStd: 0,
      trainAcc: 1 / this.numClasses,
      valLoss: this.lossScale,
      valAcc: 1 / this.numClasses,
      rates: dropouts.map((d) => d.rate),
      diverged: false,
    };
    const history = [chance];
    const observation = this.observe(history, 0);
    this.agent!.beginEpisode?.(observation, chance, number);
    this.episode = {
      number,
      seed,
      started: performance.now(),
      epoch: 0,
      history,
      observation,
      action: [],
      transitions: [],
      batchLosses: [],
      done: false,
    };
    await this.act(chance);
  }

  override async onEpochBegin(): Promise<void> {
    if (this.episode) this.episode.batchLosses = [];
  }

  override async onBatchEnd(_batch: number, logs?: Logs): Promise<void> {
    const loss = logs?.['loss'];
    // fit disposes its batch logs after the callbacks: keep a copy, read them all once per epoch
    // rather than stall the batch loop on a readback.
    if (this.episode && loss !== undefined)
      this.episode.batchLosses.push(typeof loss === 'number' ? loss : tf.keep(loss.clone()));
  }

  /** The epoch's batch losses as numbers, in one readback; the kept scalars are freed. */
  private readBatchLosses(ep: Episode): number[] {
    const scalars = ep.batchLosses.filter((l): l is tf.Scalar => typeof l !== 'number');
    const stacked = scalars.length > 0 ? tf.stack(scalars) : undefined;
    const read = stacked?.dataSync() ?? new Float32Array(0);
    tf.dispose([...scalars, ...(stacked ? [stacked] : [])]);
    let next = 0;
    const losses = ep.batchLosses.map((l) => (typeof l === 'number' ? l : read[next++]!));
    ep.batchLosses = [];
    return losses;
  }

  override async onEpochEnd(_epoch: number, logs: Logs = {}): Promise<void> {
    const ep = this.episode;
    if (!ep || ep.done) return;
    const started = performance.now();
    const trainLoss = valueOf(logs['loss']);
    const valLoss = valueOf(logs['val_loss']);
    const trainAcc = accOf(logs, '');
    const valAcc = accOf(logs, 'val_');
    if (valLoss === undefined || valAcc === undefined) {
      throw new ConfigError(
        "dropoutController needs validation loss and accuracy after each epoch: pass validationData (or validationSplit) to fit, and compile with metrics: ['accuracy']",
      );
    }
    if (trainLoss === undefined || trainAcc === undefined)
      throw new ConfigError("dropoutController needs fit's accuracy: compile the model with metrics: ['accuracy']");
    ep.epoch += 1;
    this.epochsTrained += 1;
    const losses = this.readBatchLosses(ep);
    const mean = losses.length > 0 ? losses.reduce((a, b) => a + b, 0) / losses.length : trainLoss;
    const lossStd = losses.length > 0 ? Math.sqrt(losses.reduce((a, b) => a + (b - mean) ** 2, 0) / losses.length) : 0;
    const diverged = !Number.isFinite(trainLoss) || !Number.isFinite(valLoss);
    const info: StepInfo = {
      epoch: ep.epoch,
      trainLoss,
      trainLossStd: lossStd,
      trainAcc,
      valLoss,
      valAcc,
      rates: this.dropouts.map((d) => d.rate),
      diverged,
    };
    const previous = ep.history[ep.history.length - 1]!;
    ep.history.push(info);
    const maxEpochs = this.target!.config.maxEpochs;
    const terminated = diverged;
    const truncated = !terminated && ep.epoch >= maxEpochs;
    if (terminated || truncated) await this.measureTest(info);
    const reward = rewardOf(info, previous, truncated, this.config);
    const observation = this.observe(ep.history, ep.epoch);
    info.stepMs = performance.now() - started;
    const transition: Transition = {
      episode: ep.number,
      epoch: ep.epoch,
      observation: ep.observation,
      action: ep.action,
      reward,
      nextObservation: observation,
      terminated,
      truncated,
      info,
    };
    await this.agent!.learn?.(transition);
    ep.transitions.push(transition);
    this.writer!.step(stepRecord(transition));
    ep.observation = observation;
    if (terminated || truncated) {
      if (terminated) this.model!.stopTraining = true;
      await this.finish(ep);
    } else {
      await this.act(info);
    }
  }

  override async onTrainEnd(): Promise<void> {
    // A fit stopped early by another callback (EarlyStopping) still ends its episode.
    const ep = this.episode;
    // an epoch cut short (EarlyStopping, stopTraining) leaves its batch losses unread
    if (ep) tf.dispose(ep.batchLosses.filter((l): l is tf.Scalar => typeof l !== 'number'));
    if (ep && !ep.done && ep.transitions.length > 0) {
      const last = ep.transitions[ep.transitions.length - 1]!;
      last.truncated = true;
      await this.measureTest(last.info);
      await this.finish(ep);
    }
    this.episode = null;
  }

  // internals

  /** The agent, its spaces and the run folder, at the first fit. */
  private start(model: tf.LayersModel, dropouts: TunableDropout[], epochs: number): void {
    const L = dropouts.length;
    const { names, space } = observationLayout(L);
    this.observationSpace = space;
    const outputShape = model.outputs[0]?.shape ?? [];
    this.numClasses = Math.max(2, outputShape[outputShape.length - 1] ?? 2);
    this.lossScale = Math.log(this.numClasses);
    this.target = {
      observationSpace: space,
      actionSpace: actionSpaceOf(L, this.config),
      numLayers: L,
      config: {
        actionMode: this.config.actionMode,
        minRate: this.config.minRate,
        maxRate: this.config.maxRate,
        rateStep: this.config.rateStep,
        maxEpochs: epochs,
        inputDropout: false,
      },
    };
    this.agent = AGENTS[this.agentName]!.create(
      this.agentOptions,
      agentContext(this.target, agentRng(this.agentName, this.seed)),
    );
    this.writer = RunWriter.create(this.out, {
      options: {
        agent: this.agentName,
        ...this.agentOptions,
        epochs,
        dataset: 'fit',
        trainSize: this.params['samples'] ?? null,
        model: `fit:${model.name}`,
        action: this.config.actionMode,
        minRate: this.config.minRate,
        maxRate: this.config.maxRate,
        rateStep: this.config.rateStep,
        maxDelta: this.config.maxDelta,
        reward: this.config.reward,
        divergencePenalty: this.config.divergencePenalty,
        initialRates: dropouts.map((d) => d.rate),
        label: this.options.label ?? null,
        out: this.out,
        seed: this.seed,
        source: 'dropoutController',
      },
      seed: this.seed,
      backend: tf.getBackend(),
      versions: packageVersions(),
      observationNames: names,
      layerNames: dropouts.map((d) => d.name),
      startedAtMs: Date.now(),
    });
  }

  private observe(history: StepInfo[], epoch: number): number[] {
    return observationOf(history, {
      lossScale: this.lossScale,
      trendWindow: this.config.trendWindow,
      epoch,
      maxEpochs: this.target!.config.maxEpochs,
      space: this.observationSpace!,
    });
  }

  /** Asks the agent for the next epoch's action and sets the rates from it. */
  private async act(info: StepInfo): Promise<void> {
    const ep = this.episode!;
    const action = await this.agent!.act(ep.observation, info);
    if (!this.target!.actionSpace.contains(action))
      throw new Error(
        `dropoutController: agent ${this.agentName} chose ${JSON.stringify(action)}, outside its action space`,
      );
    ep.action = action;
    this.dropouts.forEach((d, i) => {
      d.rate = rateAfter(d.rate, action[i]!, this.config);
    });
  }

  private async measureTest(info: StepInfo): Promise<void> {
    const test = this.options.testData;
    if (!test || !this.model) return;
    const result = this.model.evaluate(test[0], test[1]);
    const scalars = Array.isArray(result) ? result : [result];
    const values = scalars.map((s) => s.dataSync()[0]!);
    tf.dispose(scalars);
    const accIndex = this.model.metricsNames.findIndex((n) => ACC_KEYS.includes(n));
    info.testLoss = values[0];
    if (accIndex >= 0) info.testAcc = values[accIndex];
  }

  private async finish(ep: Episode): Promise<void> {
    ep.done = true;
    await this.agent!.endEpisode?.(ep.transitions);
    const record = episodeRecord(ep.number, ep.history[0]!, ep.transitions, performance.now() - ep.started, ep.seed);
    this.records.push(record);
    this.wallMs += record.episodeMs;
    this.writer!.episode(record);
    this.writer!.agentState(this.agent!.saveState());
    this.writer!.summary(summarize(this.agentName, this.records, this.epochsTrained, false, this.wallMs));
  }
}

/**
 * A callback for `model.fit` that tunes the model's TunableDropout layers after every epoch with an
 * agent, a schedule, the plateau rule or a saved policy, and writes a run folder compare reads.
 */
export function dropoutController(options: DropoutControllerOptions = {}): DropoutController {
  return new DropoutController(options);
}
