/** The contracts between environments, agents and the loop. Nothing here knows about tfjs. */
import type { Space } from './spaces.js';

/** A point of the env's action space: one entry per dropout layer (see `ActionMode`). */
export type Action = number[];

/**
 * How an action changes the rates, per layer:
 * - `discrete`: 0 = down by δ, 1 = keep, 2 = up by δ
 * - `continuous`: a delta in [−δmax, δmax]
 * - `absolute`: the new rate itself
 * Every result is clamped to [minRate, maxRate].
 */
export type ActionMode = 'discrete' | 'continuous' | 'absolute';
export const ACTION_MODES: readonly ActionMode[] = ['discrete', 'continuous', 'absolute'];

/** What an env reports about one step (or about the state after reset). */
export interface StepInfo {
  /** Epochs trained so far in this episode (0 after reset). */
  epoch: number;
  /** Mean and standard deviation of the training loss over the epoch's batches (dropout on). */
  trainLoss: number;
  trainLossStd: number;
  /** Accuracy on the training batches as they were trained (dropout on). */
  trainAcc: number;
  /** Validation loss and accuracy with dropout off. */
  valLoss: number;
  valAcc: number;
  /** Every dropout layer's rate, as used for the epoch just trained (after the action). */
  rates: number[];
  /** True when a loss became NaN or infinite; the episode then ends (`terminated`). */
  diverged: boolean;
  /** Test split, dropout off: only at the end of an episode (terminated or truncated). */
  testLoss?: number;
  testAcc?: number;
  /** Wall time of the step (training + evaluation + statistics). Timing fields end in `Ms`. */
  stepMs?: number;
}

export interface ResetResult {
  observation: number[];
  info: StepInfo;
}

export interface StepResult {
  observation: number[];
  reward: number;
  /** The task ended on its own (training diverged). */
  terminated: boolean;
  /** The epoch budget ran out. */
  truncated: boolean;
  info: StepInfo;
}

/** A Gymnasium-shaped environment. Async because a step is a real training epoch. */
export interface Env {
  readonly observationSpace: Space;
  readonly actionSpace: Space;
  /** Names of the observation entries, in order (for logs and docs). */
  readonly observationNames: readonly string[];
  /** Reseeds only when given a seed; otherwise continues the env's own stream. */
  reset(opts?: { seed?: number }): Promise<ResetResult>;
  step(action: Action): Promise<StepResult>;
  dispose(): void;
}

/** One step as an agent learns from it. */
export interface Transition {
  episode: number;
  epoch: number;
  observation: number[];
  action: Action;
  reward: number;
  nextObservation: number[];
  terminated: boolean;
  truncated: boolean;
  info: StepInfo;
}

/** What kind of units a dropout layer drops, and how many: the policy's layer-type and fan-in inputs. */
export interface DropoutLayerInfo {
  /** 'input': the input's features; 'dense': a dense layer's units; 'spatial': whole channels of a conv block. */
  kind: 'input' | 'dense' | 'spatial';
  /** Units (channels when spatial, features on the input) feeding the next layer: its fan-in, up to the kernel size. */
  units: number;
}

/** What an agent is told when it is created. */
export interface AgentContext {
  observationSpace: Space;
  actionSpace: Space;
  actionMode: ActionMode;
  /** Number of dropout layers (the length of an action and of `rates`). */
  numLayers: number;
  /** Rates are kept within [minRate, maxRate]; discrete steps move by `rateStep`. */
  minRate: number;
  maxRate: number;
  rateStep: number;
  /** Epochs per episode. */
  maxEpochs: number;
  /** The first rate is a dropout layer on the input, not after a hidden layer. @default false */
  inputDropout?: boolean;
  /** Per dropout layer, input to output: its kind and width; absent when the env does not know (your own model). */
  layers?: DropoutLayerInfo[];
  /** The agent's own stream, forked from the run seed. */
  rng: import('./rng.js').Rng;
}

/**
 * A dropout-tuning agent. Everything it draws comes from `AgentContext.rng`.
 * `act` is called once per step with the current observation; learning happens in `learn`
 * (after every step) and/or `endEpisode` (after every episode), whichever the agent needs.
 */
export interface Agent {
  readonly name: string;
  /** A new episode starts; `info.rates` are the initial rates. */
  beginEpisode?(observation: number[], info: StepInfo, episode: number): void;
  act(observation: number[], info: StepInfo): Action | Promise<Action>;
  learn?(transition: Transition): void | Promise<void>;
  endEpisode?(transitions: readonly Transition[]): void | Promise<void>;
  /** The learned state as plain JSON, and back. */
  saveState(): unknown;
  loadState(state: unknown): void;
  /** Frees tensors an agent may own (policy networks). */
  dispose?(): void;
}
