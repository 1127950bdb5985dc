/**
 * What DropoutEnv is without a training run or a file: its options, declared once, and the arithmetic of
 * a step (the observation, the reward, the rates an action leads to). The env and the fit callback
 * (src/integrations/fit-controller.ts) share it; it has no node: import, so the browser entry has it too.
 * The observation and the reward are described at the top of envs/dropout-env.ts.
 */
import type * as tf from '@tensorflow/tfjs';
import { checkOption, flagOf, type OptionSpec } from '../src/core/options.js';
import { Box, MultiDiscrete, type Space } from '../src/core/spaces.js';
import { ACTION_MODES, type ActionMode, type StepInfo } from '../src/core/types.js';
import { OPTIMIZERS, type OptimizerName } from '../src/nn/optimizer.js';

export type RewardMode = 'delta' | 'terminal';

/** The concrete logits' learning rate over the weights' when --concrete-lr is not given (measured: see the README). */
export const CONCRETE_LR_SCALE = 50;
export const REWARD_MODES: readonly RewardMode[] = ['delta', 'terminal'];

export interface DropoutEnvConfig {
  /**
   * Model spec (see src/nn/models.ts), `file:PATH` of a model.json saved by `model.save('file://…')`,
   * or your own tf.LayersModel (its dropout layers are tuned; it is not changed). @default 'mlp:256,128'
   */
  model: string | tf.LayersModel;
  /** BatchNorm before each dropout layer. @default false */
  batchNorm: boolean;
  /** A tunable dropout layer on the input too: the first of the rates (`dropout_1`). @default false */
  inputDropout: boolean;
  /**
   * Concrete dropout: every layer learns its rate by gradient from `initialRates` (in (0, 1)), and
   * actions change no rate. @default false
   */
  concreteDropout: boolean;
  /**
   * Concrete dropout: the learning rate of the rate logits. Adam moves a weight by about its lr per
   * step at most, so at the weights' 0.001 a logit travels 0.48 in 480 steps. @default null: CONCRETE_LR_SCALE × lr
   */
  concreteLr: number | null;
  /** Concrete dropout: the prior length-scale l of the weight regularizer l²/(2N). @default 1e-4 (Gal et al.'s) */
  concreteLengthScale: number;
  /** L2 weight decay on dense and conv kernels. @default 0 */
  l2: number;
  /** 'adam', or 'sgd' with momentum (as the dropout papers trained). @default 'adam' */
  optimizer: OptimizerName;
  /** Learning rate of the optimizer. @default 0.001 */
  lr: number;
  /** SGD's momentum (`optimizer: 'sgd'` only). @default 0.9 */
  momentum: number;
  /** @default 64 */
  batchSize: number;
  /** Epochs per episode (steps until `truncated`). @default 10 */
  maxEpochs: number;
  /** How actions change rates, see ActionMode. @default 'discrete' */
  actionMode: ActionMode;
  /** δ: the step of a discrete action. @default 0.05 */
  rateStep: number;
  /** δmax: the largest change of a continuous action. @default 0.1 */
  maxDelta: number;
  /** Rates are clamped to [minRate, maxRate]. @default 0 */
  minRate: number;
  /** @default 0.8 */
  maxRate: number;
  /** Rates at reset: one for every layer, or one per layer. @default 0.3 (your own model: its own rates) */
  initialRates: number | number[];
  /** @default 'delta' */
  reward: RewardMode;
  /** Reward of the step at which training diverged. @default -1 */
  divergencePenalty: number;
  /** Epochs the trend slopes look back over. @default 3 */
  trendWindow: number;
  /**
   * Measure the test split after every epoch, not only the last (StepInfo.testAcc): what the best-epoch
   * selection protocol reads, since the best epoch's weights gave that accuracy. Never in the observation.
   * @default false
   */
  testEachEpoch: boolean;
}

/**
 * One env option, declared once: its key in DropoutEnvConfig, flag, type, default, help and range.
 * ENV_DEFAULTS, the flags of error messages, checkEnvConfig's checks, the CLI's ENV_OPTIONS (flags and
 * --help) and resolveRun's env are all derived from DROPOUT_ENV_OPTIONS.
 */
export interface EnvOption<K extends keyof DropoutEnvConfig = keyof DropoutEnvConfig> extends OptionSpec {
  key: K;
  default: DropoutEnvConfig[K];
  /**
   * The key a run takes it by (resolveRun, the CLI, --config), when it is a run option: `initialRate` for
   * `initialRates`. Absent: set by the run another way (`maxEpochs` is the run's --epochs) or not at all.
   */
  runKey?: string;
  /** The default a run shows and takes, when it is not the env's: `undefined` for the agent's own. */
  runDefault?: unknown;
}

const option = <K extends keyof DropoutEnvConfig>(o: Omit<EnvOption<K>, 'flag'> & { flag?: string }): EnvOption<K> =>
  ({ ...o, flag: o.flag ?? flagOf(o.runKey ?? o.key) }) as EnvOption<K>;

/** Every option of DropoutEnv, in config order (--help lists the run options in this order). */
export const DROPOUT_ENV_OPTIONS: readonly EnvOption[] = [
  option({
    key: 'model',
    runKey: 'model',
    type: 'string',
    default: 'mlp:256,128',
    help: "model spec: 'mlp:256,128', 'cnn:16,32/64', or your own saved model: 'file:DIR/model.json'",
  }),
  option({
    key: 'batchNorm',
    runKey: 'batchNorm',
    type: 'boolean',
    default: false,
    help: 'BatchNorm before each dropout layer',
  }),
  option({
    key: 'inputDropout',
    runKey: 'inputDropout',
    type: 'boolean',
    default: false,
    help: 'a tunable dropout layer on the input too (the first rate)',
  }),
  option({
    key: 'concreteDropout',
    runKey: 'concreteDropout',
    type: 'boolean',
    default: false,
    help: 'learn the rates by gradient in the run (Gal et al. 2017); with --agent constant, whose --rate is the initial rate',
  }),
  option({
    key: 'concreteLr',
    runKey: 'concreteLr',
    type: 'number',
    default: null,
    help: `--concrete-dropout: learning rate of the rate logits (default ${CONCRETE_LR_SCALE} × --lr)`,
    min: 1e-7,
    max: 100,
  }),
  option({
    key: 'concreteLengthScale',
    runKey: 'concreteLengthScale',
    type: 'number',
    default: 1e-4,
    help: '--concrete-dropout: prior length-scale l of the weight regularizer',
    min: 0,
    max: 100,
  }),
  option({
    key: 'l2',
    runKey: 'l2',
    type: 'number',
    default: 0,
    help: 'L2 weight decay on kernels',
    min: 0,
    max: 1,
  }),
  option({
    key: 'optimizer',
    runKey: 'optimizer',
    type: 'string',
    default: 'adam' as OptimizerName,
    help: 'adam, or sgd with --momentum',
    choices: OPTIMIZERS,
  }),
  option({
    key: 'lr',
    runKey: 'lr',
    type: 'number',
    default: 0.001,
    help: 'learning rate of the optimizer',
    min: 1e-7,
    max: 10,
  }),
  option({
    key: 'momentum',
    runKey: 'momentum',
    type: 'number',
    default: 0.9,
    help: 'momentum of --optimizer sgd',
    min: 0,
    max: 1,
    openMax: true,
  }),
  option({ key: 'batchSize', runKey: 'batchSize', type: 'int', default: 64, help: 'minibatch size', min: 1 }),
  option({
    key: 'maxEpochs',
    flag: '--epochs',
    type: 'int',
    default: 10,
    help: 'epochs per episode (steps until truncated)',
    min: 1,
  }),
  option({
    key: 'actionMode',
    runKey: 'action',
    type: 'string',
    default: 'discrete' as ActionMode,
    runDefault: undefined,
    help: "how actions change rates (default: the agent's own)",
    choices: ACTION_MODES,
  }),
  option({
    key: 'rateStep',
    runKey: 'rateStep',
    type: 'number',
    default: 0.05,
    help: 'δ of a discrete action',
    min: 0,
    max: 1,
  }),
  option({
    key: 'maxDelta',
    runKey: 'maxDelta',
    type: 'number',
    default: 0.1,
    help: 'largest change of a continuous action',
    min: 0,
    max: 1,
  }),
  option({
    key: 'minRate',
    runKey: 'minRate',
    type: 'number',
    default: 0,
    help: 'lowest rate',
    min: 0,
    max: 1,
    openMax: true,
  }),
  option({
    key: 'maxRate',
    runKey: 'maxRate',
    type: 'number',
    default: 0.8,
    help: 'highest rate',
    min: 0,
    max: 1,
    openMax: true,
  }),
  option({
    key: 'initialRates',
    runKey: 'initialRate',
    type: 'numbers',
    default: 0.3,
    help: 'rates at the start of an episode: one, or one per layer',
  }),
  option({
    key: 'reward',
    runKey: 'reward',
    type: 'string',
    default: 'delta' as RewardMode,
    help: 'delta: change in valAcc per step; terminal: final valAcc',
    choices: REWARD_MODES,
  }),
  option({
    key: 'divergencePenalty',
    runKey: 'divergencePenalty',
    type: 'number',
    default: -1,
    help: 'reward when training diverges',
    min: -1e6,
    max: 0,
  }),
  option({
    key: 'trendWindow',
    type: 'int',
    default: 3,
    help: 'epochs the trend slopes look back over',
    min: 2,
  }),
  option({
    key: 'testEachEpoch',
    runKey: 'testEachEpoch',
    type: 'boolean',
    default: false,
    help: 'measure test accuracy after every epoch (in steps.jsonl; --select best-epoch implies it)',
  }),
];

const declared = new Map(DROPOUT_ENV_OPTIONS.map((o) => [o.key, o]));

/** Every option's default. */
export const ENV_DEFAULTS = Object.fromEntries(
  DROPOUT_ENV_OPTIONS.map((o) => [o.key, o.default]),
) as unknown as DropoutEnvConfig;

/** Option names as the command line spells them, for error messages. */
export const ENV_FLAGS = Object.fromEntries(DROPOUT_ENV_OPTIONS.map((o) => [o.key, o.flag])) as Record<
  keyof DropoutEnvConfig,
  string
>;

/** Checks one option's value against its declaration (type, range, choices). */
export function checkEnvOption<K extends keyof DropoutEnvConfig>(key: K, value: unknown): DropoutEnvConfig[K] {
  return checkOption(declared.get(key)!, value) as DropoutEnvConfig[K];
}

/**
 * Checks one env option as code gives it (the fit callback's options): as checkEnvConfig checks it, but
 * the message names the key (`minRate must be in [0, 1), got 1`) rather than the flag.
 */
export function checkEnvOptionByKey<K extends keyof DropoutEnvConfig>(key: K, value: unknown): DropoutEnvConfig[K] {
  return checkOption({ ...declared.get(key)!, flag: key }, value) as DropoutEnvConfig[K];
}

/** The env options a run takes, keyed and defaulted as the CLI and resolveRun take them. */
export const ENV_OPTIONS: OptionSpec[] = DROPOUT_ENV_OPTIONS.filter((o) => o.runKey !== undefined).map((o) => {
  const { runKey, runDefault, key: _key, ...spec } = o;
  return { ...spec, key: runKey!, default: 'runDefault' in o ? runDefault : o.default };
});

/** Least-squares slope of the last `window` values against their index (0 with fewer than two). */
export function trendSlope(values: readonly number[], window: number): number {
  const ys = values.slice(-window);
  const k = ys.length;
  if (k < 2) return 0;
  const meanX = (k - 1) / 2;
  const meanY = ys.reduce((a, b) => a + b, 0) / k;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - meanX) * (y - meanY);
    den += (x - meanX) ** 2;
  });
  return num / den;
}

const clip = (v: number, lo: number, hi: number) => (Number.isNaN(v) ? hi : Math.min(hi, Math.max(lo, v)));

/** The observation's entries and bounds for L dropout layers (see the top of this file). */
export function observationLayout(L: number): { names: string[]; space: Box } {
  const rateNames = Array.from({ length: L }, (_, i) => `rate_${i + 1}`);
  const names = [
    'trainLoss',
    'trainLossStd',
    'trainAcc',
    'valLoss',
    'valAcc',
    'lossGap',
    'accGap',
    'trainLossTrend',
    'valLossTrend',
    'valAccTrend',
    ...rateNames,
    'progress',
  ];
  const low = [0, 0, 0, 0, 0, -10, -1, -10, -10, -1, ...Array<number>(L).fill(0), 0];
  const high = [10, 10, 1, 10, 1, 10, 1, 10, 10, 1, ...Array<number>(L).fill(1), 1];
  return { names, space: new Box(low, high) };
}

/** The action space for L layers under an action mode. */
export function actionSpaceOf(
  L: number,
  c: Pick<DropoutEnvConfig, 'actionMode' | 'maxDelta' | 'minRate' | 'maxRate'>,
): Space {
  return c.actionMode === 'discrete'
    ? new MultiDiscrete(Array<number>(L).fill(3))
    : c.actionMode === 'continuous'
      ? new Box(Array<number>(L).fill(-c.maxDelta), Array<number>(L).fill(c.maxDelta))
      : new Box(Array<number>(L).fill(c.minRate), Array<number>(L).fill(c.maxRate));
}

/**
 * The observation after the epochs in `history` (history[0]: the state at the start), losses divided
 * by `lossScale` (ln classes), clipped into `space`.
 */
export function observationOf(
  history: readonly StepInfo[],
  opts: { lossScale: number; trendWindow: number; epoch: number; maxEpochs: number; space: Box },
): number[] {
  const s = opts.lossScale;
  const last = history[history.length - 1]!;
  const w = opts.trendWindow;
  const raw = [
    last.trainLoss / s,
    last.trainLossStd / s,
    last.trainAcc,
    last.valLoss / s,
    last.valAcc,
    (last.valLoss - last.trainLoss) / s,
    last.trainAcc - last.valAcc,
    trendSlope(
      history.map((h) => h.trainLoss / s),
      w,
    ),
    trendSlope(
      history.map((h) => h.valLoss / s),
      w,
    ),
    trendSlope(
      history.map((h) => h.valAcc),
      w,
    ),
    ...last.rates,
    opts.epoch / opts.maxEpochs,
  ];
  const { low, high } = opts.space;
  return raw.map((v, i) => clip(v, low[i]!, high[i]!));
}

/**
 * How the epoch that produced `info` ends the step: `terminated` when training diverged, `truncated`
 * when it was the last epoch of the budget, and its reward (rewardOf). The env and the fit callback
 * (src/integrations/tfjs-fit.ts) both decide a step by it.
 */
export function stepOutcome(
  info: StepInfo,
  previous: StepInfo,
  c: Pick<DropoutEnvConfig, 'maxEpochs' | 'reward' | 'divergencePenalty'>,
): { terminated: boolean; truncated: boolean; reward: number } {
  const terminated = info.diverged;
  const truncated = !terminated && info.epoch >= c.maxEpochs;
  return { terminated, truncated, reward: rewardOf(info, previous, truncated, c) };
}

/**
 * The reward of the epoch that produced `info`: the divergence penalty when it diverged, else the change
 * in validation accuracy (delta) or, under terminal rewards, the final validation accuracy at the end.
 */
export function rewardOf(
  info: StepInfo,
  previous: StepInfo,
  truncated: boolean,
  c: Pick<DropoutEnvConfig, 'reward' | 'divergencePenalty'>,
): number {
  if (info.diverged) return c.divergencePenalty;
  if (c.reward === 'delta') return info.valAcc - previous.valAcc;
  return truncated ? info.valAcc : 0;
}

/** The rate a layer at `rate` moves to under action entry `a`, clamped to [minRate, maxRate]. */
export function rateAfter(
  rate: number,
  a: number,
  c: Pick<DropoutEnvConfig, 'actionMode' | 'rateStep' | 'minRate' | 'maxRate'>,
): number {
  const target =
    c.actionMode === 'discrete' ? rate + (a - 1) * c.rateStep : c.actionMode === 'continuous' ? rate + a : a;
  // Rounding keeps repeated ±δ steps on the grid (0.3 − 0.05 − 0.05 is not 0.2 in floating point).
  return Math.round(clip(target, c.minRate, c.maxRate) * 1e9) / 1e9;
}
