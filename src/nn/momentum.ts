/**
 * SGD with (heavy-ball) momentum as one fused pass per weight tensor, as the dropout papers trained
 * (Srivastava et al. 2014). Fused for the same reason as FusedAdam (see adam.ts): tf.train.momentum
 * runs several kernels per tensor per batch. The arithmetic is tf.train.momentum's:
 *   v ← μ·v + g,   w ← w − lr·v
 */
import * as tf from '@tensorflow/tfjs';
import { hostValues } from './wasm-kernels.js';

export interface MomentumConfig {
  /** Learning rate. */
  lr: number;
  /** μ: the fraction of the previous step kept. 0 is plain SGD. @default 0.9 */
  momentum?: number;
}

/** What the next update depends on besides the weights: the velocity per tensor (and a step count). */
export interface MomentumState {
  step: number;
  velocity: Float32Array[];
}

/** One tensor's update, a separate function so that V8 compiles one monomorphic loop. */
function momentumUpdate(
  g: Float32Array,
  w: Float32Array,
  velocity: Float32Array,
  next: Float32Array,
  lr: number,
  momentum: number,
): void {
  for (let j = 0; j < g.length; j++) {
    const vj = momentum * velocity[j]! + g[j]!;
    velocity[j] = vj;
    next[j] = w[j]! - lr * vj;
  }
}

export class FusedMomentum {
  readonly lr: number;
  readonly momentum: number;
  private state: MomentumState = { step: 0, velocity: [] };

  constructor(config: MomentumConfig) {
    this.lr = config.lr;
    this.momentum = config.momentum ?? 0.9;
  }

  /**
   * One update of `weights` (in the same order every call) from their gradients. A weight the loss does
   * not reach has no gradient: it and its velocity are left as they are, as tf.train.momentum does.
   */
  apply(weights: tf.Variable[], grads: (tf.Tensor | undefined)[], lrScales?: readonly number[]): void {
    const s = this.state;
    s.step += 1;
    weights.forEach((weight, i) => {
      const grad = grads[i];
      if (grad === undefined) return;
      const g = hostValues(grad);
      const w = hostValues(weight);
      const velocity = (s.velocity[i] ??= new Float32Array(g.length));
      const next = new Float32Array(g.length);
      momentumUpdate(g, w, velocity, next, this.lr * (lrScales?.[i] ?? 1), this.momentum);
      // A new tensor, not an in-place write (XNNPACK caches packed weights by tensor id); the views
      // above may be detached by this allocation and are not used after it.
      const updated = tf.tensor(next, weight.shape, 'float32');
      weight.assign(updated);
      updated.dispose();
    });
  }

  /** A copy of the optimizer's state. */
  getState(): MomentumState {
    return { step: this.state.step, velocity: this.state.velocity.map((a) => a.slice()) };
  }

  setState(state: MomentumState): void {
    if (!Array.isArray(state.velocity))
      throw new Error('FusedMomentum.setState: the state has no velocity (was it saved by another optimizer?)');
    this.state = { step: state.step, velocity: state.velocity.map((a) => a.slice()) };
  }
}
