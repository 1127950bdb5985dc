/**
 * policy: applies a controller trained beforehand (`npm run train-policy`) zero-shot in one run. It does
 * not learn during the run and draws nothing at random: the same observations give the same rates.
 *
 * The controller is shared by every dropout layer, so one policy file fits a model with any number of
 * them. Before each epoch t, for hidden dropout layer l of L (relDepth_l = l / (L − 1): 0 for the
 * first, 1 for the last; 1 when L = 1; a dropout layer on the input, --input-dropout, is not counted
 * among them), from the env's StepInfo (not the observation vector, so the env's layout and loss
 * scaling do not matter):
 *   progress   t / maxEpochs                                                fraction of the run done
 *   gap        clip(trainAcc − valAcc, ±0.5) / 0.1                           generalization gap (trainAcc is
 *                                                                            measured with dropout on)
 *   rise       clip(ln(valLoss / lowest valLoss so far), 0, 0.5) / 0.1     how far the validation loss has
 *                                                                            climbed from its best: overfitting
 *   spatial_l  1 when layer l drops whole channels of a conv block, else 0      layer type
 *   width_l    clip(log2(units_l / 256), ±3) / 2: 0 at 256 units (channels  fan-in of the next layer
 *              when spatial), 1 at 1,024, −1 at 64; 0 when the env does not know (your own model)
 *   z_l        = bias + depth·(relDepth_l − 1) + spatial·spatial_l + width·width_l
 *                + progress·progress + gap·gap + rise·rise
 *   z_input    = bias + input + progress·progress + gap·gap + rise·rise     the input layer, if any
 *   target_l   = rateCap · σ(z_l)
 *   rate_l    ← rate_l + smoothing · (target_l − rate_l)                    rate_l: the layer's current rate
 * The weights, rateCap and smoothing come from the policy file. `bias` is the logit of the last layer's
 * target at the start of a run with no gap; a negative `depth` weight gives earlier layers more
 * dropout, a positive one less; `input` is the input layer's offset from the last hidden layer; a
 * positive `progress` weight makes a rising schedule; `spatial` is the conv blocks' offset from a dense
 * layer at the same depth, `width` how much more dropout a layer twice… four times as wide gets.
 * Version 1 files (before `spatial` and `width`) still load, with those two weights at 0.
 * In absolute mode (the default) the new rates are the action; in discrete and continuous modes the
 * rates move toward them as fast as the action space allows. Rates stay within [--min-rate, --max-rate].
 *
 * --policy FILE: a JSON policy file (PolicyFile below). A relative FILE is looked up in the current
 * folder, then in the package, so the default `policies/default.json` (the shipped policy) works from
 * anywhere (agents/node-loaders.ts reads it; this file has no node: import, for the browser entry). A file that cannot apply (not a policy, another format version, an unknown controller, a
 * policy saved for another number of dropout layers) is refused with a one-line ConfigError naming
 * --policy and the reason.
 *
 * Measured zero-shot, the version 1 policy (npm run train-policy, seed 0; the shipped file is now version
 * 2, retrained with the spatial and width inputs and not yet evaluated on these tasks) in one run per seed against
 * constant rates on the same seeds: held-out tasks, 1,000 val and 2,000 test samples, Adam 0.001,
 * batch 64, wasm, final-epoch test accuracy, mean over seeds 0–2, Δ = policy − constant paired by seed
 * (± its standard deviation); "grid pick" is whichever of the three constants had the best validation
 * accuracy on each seed:
 *   task                                            policy   rate 0   rate 0.3 rate 0.5 Δ grid pick
 *   MNIST 1,000, mlp:512,512, input dropout, 30 ep  0.9150   0.9108   0.9168   0.9180   −0.0027 ± 0.0070
 *   MNIST 1,000, mlp:512,512, 40 ep                 0.9105   0.9112   0.9135   0.9108   −0.0003 ± 0.0075
 *   Fashion-MNIST 500, cnn:16,32/64, 40 ep          0.7783   0.7780   0.7775   0.7542   −0.0035 ± 0.0048
 * Level with the constants within seed noise on all three, in one run (a third of this three-rate
 * grid's compute), and 2.4 points above rate 0.5 on the CNN, where 0.5 hurts; it does not beat them.
 * With input dropout on MNIST it ends with the input at 0.12–0.23 and the first hidden layer at
 * 0.37–0.49, raised as the validation loss climbs; on the CNN the rates rise for ten epochs (conv 1 to
 * 0.48, the dense layer to 0.34) and then fall to 0.25 / 0.17 / 0.11 by the end.
 */
import { checkKnownKeys, checkString } from '../src/core/check.js';
import { ConfigError } from '../src/core/errors.js';
import type { OptionSpec } from '../src/core/options.js';
import type { Action, Agent, AgentContext, DropoutLayerInfo, StepInfo } from '../src/core/types.js';
import { ALL_MODES, checkActionMode, type AgentEntry } from './entry.js';
import { clamp, towardRates } from './rates.js';
import { readState, stateError } from './state.js';

// the controller

/** What a policy file's `format` says; anything else is not one. */
export const POLICY_FORMAT = 'droptune-policy';
/** The policy file version this droptune writes; it reads this one and version 1 (no spatial or width weights). */
export const POLICY_VERSION = 2;
const READABLE_VERSIONS: readonly number[] = [1, 2];
export const CONTROLLER_KIND = 'shared-logistic';
export const WEIGHT_NAMES = ['bias', 'depth', 'input', 'progress', 'gap', 'rise', 'spatial', 'width'] as const;
/** The weights a version 1 file has; the others read as 0 there. */
const V1_WEIGHT_NAMES: readonly WeightName[] = ['bias', 'depth', 'input', 'progress', 'gap', 'rise'];
export type WeightName = (typeof WEIGHT_NAMES)[number];
/** A gap of 0.1 (ten points of accuracy) and a 10% climb of the validation loss are one unit each. */
export const GAP_SCALE = 0.1;
export const RISE_SCALE = 0.1;
const GAP_CLIP = 0.5;
const RISE_CLIP = 0.5;
/** Width is counted in doublings from 256 units, two doublings one unit, within ±1.5. */
const WIDTH_REFERENCE = 256;
const WIDTH_CLIP = 3;

/** The `width` input of a layer of `units` units (channels, when spatial). */
export function widthFeature(units: number): number {
  return clamp(Math.log2(units / WIDTH_REFERENCE), -WIDTH_CLIP, WIDTH_CLIP) / 2;
}

export interface Controller {
  kind: typeof CONTROLLER_KIND;
  /** Targets lie in (0, rateCap). */
  rateCap: number;
  weights: Record<WeightName, number>;
  /** In (0, 1]: the fraction of the way to the target a rate moves per epoch (1: straight there). */
  smoothing: number;
}

/** The run-wide inputs, each of order one (see the header). */
export interface GlobalFeatures {
  progress: number;
  gap: number;
  rise: number;
}

export function globalFeatures(info: StepInfo, maxEpochs: number, lowestValLoss: number): GlobalFeatures {
  const ratio = Math.log(info.valLoss / lowestValLoss);
  return {
    progress: info.epoch / maxEpochs,
    gap: clamp(info.trainAcc - info.valAcc, -GAP_CLIP, GAP_CLIP) / GAP_SCALE,
    // a NaN loss (training diverged) counts as the largest climb
    rise: (Number.isNaN(ratio) ? RISE_CLIP : clamp(ratio, 0, RISE_CLIP)) / RISE_SCALE,
  };
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/**
 * The next rate of every layer, given their current rates (input to output; the first on the input with
 * `inputDropout`) and, when known, each layer's kind and width (else dense and 256 wide: both inputs 0).
 */
export function controllerRates(
  c: Controller,
  f: GlobalFeatures,
  rates: readonly number[],
  inputDropout = false,
  layers?: readonly DropoutLayerInfo[],
): number[] {
  const w = c.weights;
  const first = inputDropout ? 1 : 0;
  const last = rates.length - 1;
  const shared = w.bias + w.progress * f.progress + w.gap * f.gap + w.rise * f.rise;
  return rates.map((rate, l) => {
    const relDepth = last === first ? 1 : (l - first) / (last - first);
    const layer = layers?.[l];
    const own =
      l < first
        ? w.input
        : w.depth * (relDepth - 1) +
          (layer?.kind === 'spatial' ? w.spatial : 0) +
          (layer ? w.width * widthFeature(layer.units) : 0);
    const target = c.rateCap * sigmoid(shared + own);
    return rate + c.smoothing * (target - rate);
  });
}

// the policy file

/** A policy file as `npm run train-policy` writes it. */
export interface PolicyFile {
  format: typeof POLICY_FORMAT;
  /** 1 or 2; a version 1 file is read with the spatial and width weights at 0. */
  version: number;
  controller: Controller;
  /** The number of dropout layers the policy is for; null: any (a shared controller). */
  layers: number | null;
  /** How it was made: command, options, tasks, seed, cost. Recorded, never read by the agent. */
  training?: unknown;
}

const show = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? text.slice(0, 57) + '...' : text;
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks a controller; `fail(what)` makes the error (it names the file or the state). Version 1 has no
 * spatial or width weights: they read as 0.
 */
export function readController(
  value: unknown,
  fail: (what: string) => ConfigError,
  version = POLICY_VERSION,
): Controller {
  if (!isObject(value)) throw fail(`controller must be an object, got ${show(value)}`);
  if (value['kind'] !== CONTROLLER_KIND)
    throw fail(`controller kind ${show(value['kind'])} is not supported (this droptune knows '${CONTROLLER_KIND}')`);
  const rateCap = value['rateCap'];
  if (typeof rateCap !== 'number' || !(rateCap > 0 && rateCap < 1))
    throw fail(`controller.rateCap must be in (0, 1), got ${show(rateCap)}`);
  const smoothing = value['smoothing'];
  if (typeof smoothing !== 'number' || !(smoothing > 0 && smoothing <= 1))
    throw fail(`controller.smoothing must be in (0, 1], got ${show(smoothing)}`);
  const weights = value['weights'];
  if (!isObject(weights))
    throw fail(`controller.weights must be an object of ${WEIGHT_NAMES.join(', ')}, got ${show(weights)}`);
  const names: readonly WeightName[] = version === 1 ? V1_WEIGHT_NAMES : WEIGHT_NAMES;
  const extra = Object.keys(weights).find((k) => !(names as readonly string[]).includes(k));
  if (extra !== undefined)
    throw fail(`controller.weights.${extra} is not an input of this controller (it has ${names.join(', ')})`);
  const read = (name: WeightName): number => {
    if (!names.includes(name)) return 0;
    const v = weights[name];
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw fail(`controller.weights.${name} must be a finite number, got ${show(v)}`);
    return v;
  };
  const checked = Object.fromEntries(WEIGHT_NAMES.map((n) => [n, read(n)])) as Record<WeightName, number>;
  return { kind: CONTROLLER_KIND, rateCap, smoothing, weights: checked };
}

/** Checks a parsed policy file; `where` starts every message (`--policy FILE`). */
export function readPolicy(value: unknown, where: string): PolicyFile {
  const fail = (what: string) => new ConfigError(`${where}: ${what}`);
  if (!isObject(value)) throw fail(`must hold a JSON object, got ${show(value)}`);
  if (value['format'] !== POLICY_FORMAT) {
    // the likeliest mix-up: an agent.json handed to --policy instead of --load-agent
    if (typeof value['agent'] === 'string')
      throw fail(
        `is a saved ${value['agent']} agent (a --load-agent file), not a policy file from npm run train-policy`,
      );
    throw fail(`not a policy file ("format" must be "${POLICY_FORMAT}", got ${show(value['format'])})`);
  }
  const version = value['version'];
  if (typeof version !== 'number' || !READABLE_VERSIONS.includes(version))
    throw fail(
      `policy version ${show(version)} is not supported (this droptune reads versions ${READABLE_VERSIONS.join(' and ')})`,
    );
  const layers = value['layers'] ?? null;
  if (layers !== null && (typeof layers !== 'number' || !Number.isInteger(layers) || layers < 1))
    throw fail(`layers must be null or a whole number >= 1, got ${show(layers)}`);
  return {
    format: POLICY_FORMAT,
    version,
    controller: readController(value['controller'], fail, version),
    layers,
    training: value['training'],
  };
}

/** Reads and checks the policy `--policy` names (a file, in Node): every problem is a ConfigError naming --policy. */
export type PolicyLoader = (policy: string) => PolicyFile;

/** Parses and checks a policy file's text; `where` starts every message (`--policy FILE`). */
export function parsePolicy(text: string, where: string): PolicyFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(`${where}: not valid JSON`);
  }
  return readPolicy(parsed, where);
}

/** The policy, or a ConfigError when it was saved for another number of dropout layers. */
export function checkPolicyFits(policy: PolicyFile, file: string, numLayers: number): PolicyFile {
  if (policy.layers !== null && policy.layers !== numLayers) {
    throw new ConfigError(
      `--policy ${file}: it was saved for ${policy.layers} dropout layer${policy.layers === 1 ? '' : 's'} and this model has ${numLayers}`,
    );
  }
  return policy;
}

// config

export interface PolicyConfig {
  /** The policy file to apply. @default 'policies/default.json' (the shipped policy) */
  policy: string;
}

export const DEFAULT_POLICY_FILE = 'policies/default.json';
export const POLICY_DEFAULTS: PolicyConfig = { policy: DEFAULT_POLICY_FILE };

export const POLICY_OPTIONS: OptionSpec[] = [
  {
    key: 'policy',
    flag: '--policy',
    type: 'string',
    default: POLICY_DEFAULTS.policy,
    help: 'policy: a policy file from npm run train-policy (relative: from here, else from the package)',
  },
];

/** Checks the options and that the policy loads; returns the options as given (config.json records the file named). */
export function checkPolicyConfig(partial: Partial<PolicyConfig>, load: PolicyLoader): PolicyConfig {
  checkKnownKeys('policy', partial, Object.keys(POLICY_DEFAULTS));
  const c = { ...POLICY_DEFAULTS, ...partial };
  const policy = checkString('--policy', c.policy);
  load(policy);
  return { policy };
}

// agent

export class PolicyAgent implements Agent {
  readonly name = 'policy';
  private controller: Controller;
  /** The lowest validation loss of this episode so far (the `rise` input). */
  private lowestValLoss = Number.POSITIVE_INFINITY;

  constructor(
    controller: Controller,
    private readonly ctx: AgentContext,
  ) {
    this.controller = controller;
  }

  beginEpisode(): void {
    this.lowestValLoss = Number.POSITIVE_INFINITY;
  }

  // act

  act(_observation: number[], info: StepInfo): Action {
    // an episode begun without beginEpisode starts over too
    if (info.epoch === 0) this.lowestValLoss = Number.POSITIVE_INFINITY;
    if (info.valLoss < this.lowestValLoss) this.lowestValLoss = info.valLoss;
    const features = globalFeatures(info, this.ctx.maxEpochs, this.lowestValLoss);
    return towardRates(
      controllerRates(this.controller, features, info.rates, this.ctx.inputDropout ?? false, this.ctx.layers),
      info,
      this.ctx,
    );
  }

  // save/load: nothing is learned; the state records the controller that was applied

  saveState(): unknown {
    return { agent: this.name, version: 1, controller: structuredClone(this.controller) };
  }

  loadState(state: unknown): void {
    const s = readState(this.name, state);
    // a state saved before the spatial and width weights has neither: read it as version 1
    const weights = (s['controller'] as { weights?: Record<string, unknown> } | undefined)?.weights;
    const version = isObject(weights) && !('spatial' in weights) && !('width' in weights) ? 1 : POLICY_VERSION;
    this.controller = readController(s['controller'], (what) => stateError(this.name, what), version);
  }
}

// registry entry

/** The policy agent's entry, its policies read by `load` (from disk in Node: agents/node-loaders.ts). */
export function policyEntryWith(load: PolicyLoader): AgentEntry {
  return {
    description: 'a controller trained beforehand on other tasks (npm run train-policy), applied zero-shot in one run',
    options: POLICY_OPTIONS,
    defaultActionMode: 'absolute',
    supports: ALL_MODES,
    check: (options) => ({ ...checkPolicyConfig(options as Partial<PolicyConfig>, load) }),
    create(options, ctx) {
      const c = checkPolicyConfig(options as Partial<PolicyConfig>, load);
      checkActionMode('policy', ctx, ALL_MODES);
      const policy = checkPolicyFits(load(c.policy), c.policy, ctx.numLayers);
      return new PolicyAgent(policy.controller, ctx);
    },
  };
}
