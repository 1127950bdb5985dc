/**
 * Adam (Kingma & Ba 2015) as one fused pass per weight tensor.
 *
 * Why not tf.train.adam: it updates each weight tensor with about a dozen separate kernels (two moment
 * updates, square, two bias corrections, sqrt, add, div, mul, add, three assigns), so an MLP epoch of 79
 * batches ran ~5,000 tiny kernels and their dispatch. Here one loop per tensor reads the gradient and
 * the weights where they already are (the wasm heap, without a copy), updates the moments kept in
 * Float32Arrays, and uploads the new weights as one tensor. The arithmetic is tfjs's own:
 *   m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²,   w ← w − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)
 * The weights get a new tensor rather than an in-place write: wasm's XNNPACK caches packed weights by
 * tensor id, so a weight changed in place would be multiplied with its stale packed copy.
 */
import * as tf from '@tensorflow/tfjs';
import { hostValues } from './wasm-kernels.js';
import { wasmAdamUpdate } from './wasm-adam.js';

export interface AdamConfig {
  /** Learning rate. */
  lr: number;
  /** @default 0.9 */
  beta1?: number;
  /** @default 0.999 */
  beta2?: number;
  /** @default 1e-7 (tfjs's and Keras's default) */
  epsilon?: number;
}

/** What the next update depends on besides the weights: the step count and both moments per tensor. */
export interface AdamState {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

/** One tensor's update, a separate function so that V8 compiles one monomorphic loop (PopulationTrainer runs it per member). */
export function adamUpdate(
  g: Float32Array,
  w: Float32Array,
  m: Float32Array,
  v: Float32Array,
  next: Float32Array,
  beta1: number,
  beta2: number,
  stepSize: number,
  sqrtC2: number,
  epsilon: number,
): void {
  for (let j = 0; j < g.length; j++) {
    const gj = g[j]!;
    const mj = beta1 * m[j]! + (1 - beta1) * gj;
    const vj = beta2 * v[j]! + (1 - beta2) * gj * gj;
    m[j] = mj;
    v[j] = vj;
    next[j] = w[j]! - (stepSize * mj) / (Math.sqrt(vj) / sqrtC2 + epsilon);
  }
}

export class FusedAdam {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  private state: AdamState = { step: 0, m: [], v: [] };

  constructor(config: AdamConfig) {
    this.lr = config.lr;
    this.beta1 = config.beta1 ?? 0.9;
    this.beta2 = config.beta2 ?? 0.999;
    this.epsilon = config.epsilon ?? 1e-7;
  }

  /**
   * One update of `weights` (in the same order every call) from their gradients, weight i at
   * lr · lrScales[i] (Adam moves a weight by at most about its lr per step, so a weight that must travel
   * far in few steps, a concrete dropout logit, gets its own). A weight the loss does
   * not reach has no gradient: it and its moments are left as they are, as tf.train.adam does.
   */
  apply(weights: tf.Variable[], grads: (tf.Tensor | undefined)[], lrScales?: readonly number[]): void {
    const { beta1, beta2, epsilon, lr } = this;
    const s = this.state;
    s.step += 1;
    const c1 = 1 - beta1 ** s.step;
    const c2 = 1 - beta2 ** s.step;
    weights.forEach((weight, i) => {
      const grad = grads[i];
      if (grad === undefined) return;
      const m = (s.m[i] ??= new Float32Array(grad.size));
      const v = (s.v[i] ??= new Float32Array(grad.size));
      const stepSize = (lr * (lrScales?.[i] ?? 1)) / c1;
      // On wasm the SIMD loop (src/nn/wasm-adam.ts), elsewhere this one: the same numbers.
      let updated = wasmAdamUpdate(grad, weight, m, v, beta1, beta2, epsilon, [
        { start: 0, length: grad.size, stepSize, sqrtC2: Math.sqrt(c2) },
      ]);
      if (updated === null) {
        const g = hostValues(grad);
        const w = hostValues(weight);
        const next = new Float32Array(g.length);
        adamUpdate(g, w, m, v, next, beta1, beta2, stepSize, Math.sqrt(c2), epsilon);
        // Allocating the new tensor may grow the wasm heap and detach the views above: they are not used after it.
        updated = tf.tensor(next, weight.shape, 'float32');
      }
      weight.assign(updated);
      updated.dispose();
    });
  }

  /** A copy of the optimizer's state. */
  getState(): AdamState {
    return { step: this.state.step, m: this.state.m.map((a) => a.slice()), v: this.state.v.map((a) => a.slice()) };
  }

  setState(state: AdamState): void {
    if (!Array.isArray(state.m) || !Array.isArray(state.v))
      throw new Error('FusedAdam.setState: the state has no moments (was it saved by another optimizer?)');
    this.state = { step: state.step, m: state.m.map((a) => a.slice()), v: state.v.map((a) => a.slice()) };
  }
}
