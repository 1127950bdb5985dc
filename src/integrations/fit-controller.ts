/**
 * The fit callback without its platform: what dropoutController does in Node (src/integrations/tfjs-fit.ts,
 * a run folder on disk) and in the browser (src/integrations/browser-fit.ts, the run log in memory).
 * A subclass gives the agent registry, where the run log goes and the versions it records; nothing here
 * imports node:, so the browser entry has it.
 *
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
 * Every episode starts from the same model: the first fit snapshots the model's weights, its rates and
 * its optimizer's state, and every later fit restores them before its first epoch. Episodes then differ
 * only by the agent's rates (and fit's shuffles), as in the env, so "the best episode" is the best
 * schedule rather than the one that trained longest. (The other choice, a warning that each fit needs a
 * fresh model, would leave the comparison to the user; restoring costs one copy of the weights.)
 * Constant and schedule agents start from the model's own rate unless `options.rate` is given.
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
import * as tf from '@tensorflow/tfjs';
import { checkAgentOptionsIn, type AgentName, type AgentOptions, type AgentRegistry } from '../../agents/registry.js';
import {
  actionSpaceOf,
  observationLayout,
  observationOf,
  rateAfter,
  stepOutcome,
  checkEnvOptionByKey,
  ENV_DEFAULTS,
  type RewardMode,
} from '../../envs/env-spec.js';
import { checkInt, checkOneOf } from '../core/check.js';
import { epochLine } from '../core/epoch-line.js';
import { ConfigError } from '../core/errors.js';
import { inCodeTerms, nearestKey } from '../core/options.js';
import { bestEpisode, type EpisodeRecord, type RunConfig } from '../core/run-log.js';
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
import type { RunLogSink } from '../store/memory-log.js';
import { stepRecord, summarize } from '../store/records.js';
import { agentContext, agentRng, type AgentTarget } from '../run/agent-context.js';

/** An episode of a fit: without `testData` there is no test split, and testAcc and testLoss are null. */
export type FitEpisodeRecord = Omit<EpisodeRecord, 'testAcc' | 'testLoss'> & {
  testAcc: number | null;
  testLoss: number | null;
};

/** The agents a fit can run: every agent (pbt and sha are schedulers over many runs, not agents). */
export type FitAgentName = AgentName;

/** The options of dropoutController on every platform (Node adds `out` and `overwrite`, the browser `onLog`). */
export interface FitControllerOptions<A extends FitAgentName = FitAgentName> {
  /** Any agent of `agentNames()`. @default 'constant', or the one a shortcut below names */
  agent?: A;
  /**
   * Shortcut for `agent: 'schedule'`: a schedule name (linear, curriculum, …), a JSON file of per-epoch
   * rates, or a run's summary.json (its best episode's schedule).
   */
  schedule?: string;
  /** Shortcut for `agent: 'plateau'` (true, or its options: `{ patience, min, max }`). */
  plateau?: boolean | AgentOptions<'plateau'>;
  /** Shortcut for `agent: 'policy'`: a policy file from `npm run train-policy`. */
  policy?: string;
  /**
   * The agent's own options (`{ rate: 0.3 }`, `{ ucbC: 1 }`). Constant and schedule take `rate` from the
   * model's own dropout rate (their mean, if the layers differ) unless it is given. @default {}
   */
  options?: AgentOptions<A>;
  /** Seeds the agent and each episode's dropout masks. @default 0 */
  seed?: number;
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
  /** One line per epoch (episode, epoch, losses, accuracies, rates), like Keras's verbose=2: `true` prints with console.log. @default false */
  verbose?: boolean | ((line: string) => void);
  /** Where warnings go (too few batches per epoch). @default console.warn */
  warn?: (message: string) => void;
}

/** Every option, so a misspelt one is refused with the nearest (`agnet` → `agent`). */
export const FIT_CONTROLLER_KEYS: Record<keyof FitControllerOptions, true> = {
  agent: true,
  schedule: true,
  plateau: true,
  policy: true,
  options: true,
  seed: true,
  label: true,
  actionMode: true,
  minRate: true,
  maxRate: true,
  rateStep: true,
  maxDelta: true,
  reward: true,
  divergencePenalty: true,
  trendWindow: true,
  testData: true,
  verbose: true,
  warn: true,
};

/** Fewer batches than this in an epoch is too few steps for the rates to matter: warned about. */
export const FEW_BATCHES = 10;

/** Refuses a key `known` does not have, naming the nearest one. */
function checkKeys(where: string, given: object, known: readonly string[]): void {
  for (const key of Object.keys(given)) {
    if (known.includes(key)) continue;
    const near = nearestKey(key, known);
    throw new ConfigError(
      `${where}: unknown option '${key}'${near ? `: did you mean '${near}'?` : ''} (options: ${known.join(', ') || 'none'})`,
    );
  }
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

/** The agent a controller's options name, and its own options as given (checked, not yet defaulted). */
function agentChoice(
  o: FitControllerOptions,
  agents: AgentRegistry,
): { agent: string; options: Record<string, unknown> } {
  const shortcuts = (['schedule', 'plateau', 'policy'] as const).filter((k) => o[k] !== undefined && o[k] !== false);
  if (shortcuts.length > 1 || (shortcuts.length === 1 && o.agent !== undefined && o.agent !== shortcuts[0])) {
    throw new ConfigError(
      `dropoutController: give one of agent, schedule, plateau, policy; got ${[...(o.agent !== undefined ? ['agent'] : []), ...shortcuts].join(', ')}`,
    );
  }
  const options: Record<string, unknown> = { ...(o.options ?? {}) };
  const shortcut = shortcuts[0];
  if (shortcut === 'schedule') options['schedule'] = o.schedule;
  if (shortcut === 'policy') options['policy'] = o.policy;
  if (shortcut === 'plateau' && typeof o.plateau === 'object') Object.assign(options, o.plateau);
  const agent: string = shortcut ?? o.agent ?? 'constant';
  if (agent === 'pbt' || agent === 'sha')
    throw new ConfigError(
      `dropoutController: agent ${agent} is a scheduler over many runs, not one fit (pbt and sha run through tune())`,
    );
  const fitAgents = Object.keys(agents);
  if (!fitAgents.includes(agent)) {
    const near = nearestKey(agent, fitAgents);
    throw new ConfigError(
      `dropoutController: agent must be one of ${fitAgents.join(', ')}, got ${JSON.stringify(agent)}${near ? `: did you mean '${near}'?` : ''}`,
    );
  }
  checkKeys(
    `dropoutController: agent ${agent}`,
    options,
    agents[agent]!.options.map((s) => s.key),
  );
  inCode(agents, () => checkAgentOptionsIn(agents, agent, options));
  return { agent, options };
}

/** Runs `check`, its ConfigError reworded in code's keys (`ucbC`, not `--ucb-c`). */
function inCode<T>(agents: AgentRegistry, check: () => T): T {
  try {
    return check();
  } catch (err) {
    const specs = Object.values(agents).flatMap((e) => e.options);
    if (err instanceof ConfigError) throw new ConfigError(inCodeTerms(err.message, specs));
    throw err;
  }
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

/** What every fit after the first starts from: the model as the first fit found it. */
interface StartingPoint {
  weights: tf.Tensor[];
  rates: number[];
  /** The optimizer's own state (Adam's moments, its step count), or null when it cannot be read. */
  optimizer: { name: string; tensor: tf.Tensor }[] | null;
}

/** What a platform gives the callback. */
export interface FitPlatform {
  /** The agents it can run. */
  agents: AgentRegistry;
  /** Every option key it takes (FIT_CONTROLLER_KEYS and its own). */
  keys: readonly string[];
}

/** See the top of this file. Node's is DropoutController (tfjs-fit.ts), the browser's browser-fit.ts's. */
export abstract class FitController extends tf.Callback {
  readonly agentName: string;
  /** The agent's options with every default filled in (`rate` from the model's own, at the first fit). */
  agentOptions: Record<string, unknown>;
  private readonly givenAgentOptions: Record<string, unknown>;
  readonly seed: number;
  /** The run folder, where there is one (null in the browser). */
  abstract readonly out: string | null;
  protected readonly agents: AgentRegistry;
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
  private writer: RunLogSink | null = null;
  private dropouts: TunableDropout[] = [];
  private lossScale = 1;
  private numClasses = 2;
  private episode: Episode | null = null;
  private readonly records: EpisodeRecord[] = [];
  private epochsTrained = 0;
  private wallMs = 0;
  private startingPoint: StartingPoint | null = null;
  private epochStarted = 0;

  constructor(
    protected readonly options: FitControllerOptions,
    platform: FitPlatform,
  ) {
    super();
    checkKeys('dropoutController', options, platform.keys);
    this.agents = platform.agents;
    const { agent, options: agentOptions } = agentChoice(options, this.agents);
    this.agentName = agent;
    this.givenAgentOptions = agentOptions;
    this.agentOptions = checkAgentOptionsIn(this.agents, agent, agentOptions);
    this.seed = checkInt('seed', options.seed ?? 0, 0, 2 ** 32 - 1);
    const entry = this.agents[agent]!;
    const actionMode = checkOneOf('actionMode', options.actionMode ?? entry.defaultActionMode, ACTION_MODES);
    if (!entry.supports.includes(actionMode))
      throw new ConfigError(
        `actionMode ${actionMode} is not supported by agent ${agent} (supported: ${entry.supports.join(', ')})`,
      );
    const minRate = checkEnvOptionByKey('minRate', options.minRate ?? ENV_DEFAULTS.minRate);
    const maxRate = checkEnvOptionByKey('maxRate', options.maxRate ?? ENV_DEFAULTS.maxRate);
    if (minRate > maxRate) throw new ConfigError(`minRate (${minRate}) must not exceed maxRate (${maxRate})`);
    this.config = {
      actionMode,
      minRate,
      maxRate,
      rateStep: checkEnvOptionByKey('rateStep', options.rateStep ?? ENV_DEFAULTS.rateStep),
      maxDelta: checkEnvOptionByKey('maxDelta', options.maxDelta ?? ENV_DEFAULTS.maxDelta),
      reward: checkEnvOptionByKey('reward', options.reward ?? ENV_DEFAULTS.reward),
      divergencePenalty: checkEnvOptionByKey(
        'divergencePenalty',
        options.divergencePenalty ?? ENV_DEFAULTS.divergencePenalty,
      ),
      trendWindow: checkEnvOptionByKey('trendWindow', options.trendWindow ?? ENV_DEFAULTS.trendWindow),
    };
  }

  /** Called at the first fit, before the agent is built: Node clears the run folder given `overwrite`. */
  protected prepareLog(): void {}

  /** Where the run log goes: a run folder (Node) or memory (the browser); `config` is its config.json. */
  protected abstract openLog(config: RunConfig): RunLogSink;

  /** The versions config.json records. */
  protected abstract versions(): Record<string, string>;

  /** The best episode's schedule so far (per epoch, per layer), as summary.json's best.schedule; undefined before the first episode ends. */
  get bestSchedule(): number[][] | undefined {
    return bestEpisode(this.records)?.schedule;
  }

  /** The run's finished episodes so far, as episodes.jsonl holds them (testAcc null without testData). */
  get episodes(): readonly FitEpisodeRecord[] {
    const orNull = (v: number) => (Number.isNaN(v) ? null : v);
    return this.records.map((r) => ({ ...r, testAcc: orNull(r.testAcc), testLoss: orNull(r.testLoss) }));
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
    const firstFit = !this.agent;
    if (firstFit) {
      this.start(model, dropouts, epochs);
      this.startingPoint = await snapshotOf(model, dropouts);
    } else if (dropouts.length !== this.target!.numLayers || epochs !== this.target!.config.maxEpochs) {
      throw new Error(
        `dropoutController: every fit of one controller must train the same model for the same epochs (the agent was built for ${this.target!.numLayers} layers and ${this.target!.config.maxEpochs} epochs, this fit has ${dropouts.length} and ${epochs})`,
      );
    }
    this.dropouts = dropouts;
    // Every episode starts where the first did (see the top of this file).
    if (!firstFit) await restore(model, dropouts, this.startingPoint!);

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
    this.epochStarted = performance.now();
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
    const { terminated, truncated, reward } = stepOutcome(info, previous, { ...this.config, maxEpochs });
    if (terminated || truncated) await this.measureTest(info);
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
    this.say(epochLine(ep.number, info, maxEpochs, performance.now() - this.epochStarted));
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

  private say(line: string): void {
    const v = this.options.verbose;
    if (v === true) console.log(line);
    else if (typeof v === 'function') v(line);
  }

  /** The agent, its spaces and the run folder, at the first fit. */
  private start(model: tf.LayersModel, dropouts: TunableDropout[], epochs: number): void {
    const L = dropouts.length;
    // Constant and schedule start from the model's own rate unless told one.
    const own = dropouts.map((d) => d.rate);
    if ((this.agentName === 'constant' || this.agentName === 'schedule') && !('rate' in this.givenAgentOptions)) {
      const rate = Math.round((own.reduce((a, b) => a + b, 0) / L) * 1e9) / 1e9;
      this.agentOptions = inCode(this.agents, () =>
        checkAgentOptionsIn(this.agents, this.agentName, { ...this.givenAgentOptions, rate }),
      );
    }
    const samples = this.params['samples'] as number | undefined;
    const batchSize = (this.params['batchSize'] as number | undefined) ?? 32;
    const batches =
      (this.params['steps'] as number | undefined) ?? (samples ? Math.ceil(samples / batchSize) : undefined);
    if (batches !== undefined && batches < FEW_BATCHES)
      (this.options.warn ?? console.warn)(
        `dropoutController: an epoch is ${batches} batch${batches === 1 ? '' : 'es'} (${samples ?? '?'} samples, batchSize ${batchSize}): too few steps for the rates to matter; use a smaller batchSize or more data (about ${FEW_BATCHES} batches or more)`,
      );
    this.prepareLog();
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
    this.agent = this.agents[this.agentName]!.create(
      this.agentOptions,
      agentContext(this.target, agentRng(this.agentName, this.seed)),
    );
    this.writer = this.openLog({
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
      versions: this.versions(),
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

/** The model's weights, rates and optimizer state, copied. */
async function snapshotOf(model: tf.LayersModel, dropouts: TunableDropout[]): Promise<StartingPoint> {
  const weights = model.getWeights().map((w) => tf.keep(w.clone()));
  let optimizer: { name: string; tensor: tf.Tensor }[] | null = null;
  try {
    const own = await model.optimizer.getWeights();
    optimizer = own.map((w) => ({ name: w.name, tensor: tf.keep(w.tensor.clone()) }));
  } catch {
    optimizer = null; // an optimizer that cannot say its state: its state carries over
  }
  return { weights, rates: dropouts.map((d) => d.rate), optimizer };
}

/** Puts the model back as `start` holds it (the snapshot is kept for the next fit). */
async function restore(model: tf.LayersModel, dropouts: TunableDropout[], start: StartingPoint): Promise<void> {
  model.setWeights(start.weights);
  dropouts.forEach((d, i) => {
    d.rate = start.rates[i]!;
  });
  if (start.optimizer === null) return;
  const replaced = await model.optimizer.getWeights();
  // setWeights makes new variables from copies of these: the snapshot stays intact for the next fit.
  await model.optimizer.setWeights(start.optimizer);
  tf.dispose(replaced.map((w) => w.tensor));
}
