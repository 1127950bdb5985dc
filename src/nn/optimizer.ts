/**
 * The optimizers an env can train with, behind one shape: `apply` once per batch, and a state that
 * `getState`/`setState` carry across a snapshot so that a restored run continues bit-identically.
 */
import type * as tf from '@tensorflow/tfjs';
import { FusedAdam, type AdamState } from './adam.js';
import { FusedMomentum, type MomentumState } from './momentum.js';

export const OPTIMIZERS = ['adam', 'sgd'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

export type OptimizerState = AdamState | MomentumState;

export interface Optimizer {
  /** One update; `lrScales[i]` multiplies the learning rate of weight i (concrete dropout's logits). @default all 1 */
  apply(weights: tf.Variable[], grads: (tf.Tensor | undefined)[], lrScales?: readonly number[]): void;
  getState(): OptimizerState;
  setState(state: OptimizerState): void;
}

export interface OptimizerConfig {
  /** 'adam' (FusedAdam) or 'sgd' (FusedMomentum). */
  optimizer: OptimizerName;
  lr: number;
  /** SGD's momentum; Adam ignores it. */
  momentum: number;
}

export function createOptimizer({ optimizer, lr, momentum }: OptimizerConfig): Optimizer {
  return optimizer === 'adam' ? new FusedAdam({ lr }) : new FusedMomentum({ lr, momentum });
}
