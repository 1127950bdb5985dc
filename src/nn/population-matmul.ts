/**
 * PopulationMatMul: P independent products in one kernel call, C[p] = op(A[p])·op(B[p]), for a
 * population of models trained as one graph (src/nn/population.ts).
 *
 * Why a kernel of its own rather than tf.matMul on rank-3 tensors: tfjs-backend-wasm hands a batched
 * product (batch > 1) to its scalar loop, not to XNNPACK (src/cc/batch_mat_mul_impl.cc), which is both
 * several times slower and sums in another order than a member's own run. This kernel slices each
 * member's operands and calls the backend's registered BatchMatMul or _FusedMatMul (droptune's wrappers
 * on wasm, src/nn/wasm-matmul.ts) once per member, on exactly the operands a single run gives them: so
 * each member's product is bit-identical to its single run's, and the engine dispatches one op, not P.
 *
 * A may be rank 2 (one matrix every member multiplies, as the validation inputs) or rank 3 [P, m, k];
 * B is [P, k, n]. With `fused`, _FusedMatMul runs per member with its own bias row (bias [P, …, n]) and
 * `activation`, as a Dense layer does outside training. The gradient is defined for the untransposed
 * product of rank-3 operands, fused or not, without bias or activation: what training needs.
 */
import * as tf from '@tensorflow/tfjs';
import { asWasmBackend, heapFloats } from './wasm-kernels.js';

export const POPULATION_MATMUL = 'PopulationMatMul';

export interface PopulationMatMulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
  /** Run _FusedMatMul per member instead of BatchMatMul (with `bias` and `activation`). @default false */
  fused?: boolean;
  /** Per-member bias rows, [P, n] or [P, 1, n] (`fused` only). */
  bias?: tf.Tensor;
  /** @default 'linear' */
  activation?: 'linear' | 'relu';
}

interface Attrs {
  transposeA: boolean;
  transposeB: boolean;
  fused: boolean;
  activation: 'linear' | 'relu';
  /** A bias was given (`fused` only). */
  withBias: boolean;
}

type KernelFunc = tf.KernelConfig['kernelFunc'];

function kernelFor(backendName: string): KernelFunc {
  return (args) => {
    const { a, b, bias } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo };
    const { transposeA, transposeB, fused, activation } = args.attrs as unknown as Attrs;
    const backend = args.backend as tf.KernelBackend;
    const run = (name: string, inputs: tf.NamedTensorInfoMap | tf.TensorInfo[], attrs: object): tf.TensorInfo => {
      const config = tf.getKernel(name, backendName);
      if (config === undefined) throw new Error(`${POPULATION_MATMUL}: backend ${backendName} has no ${name} kernel`);
      const out = config.kernelFunc({
        inputs: inputs as tf.NamedTensorInfoMap,
        backend,
        attrs: attrs as tf.NamedAttrMap,
      });
      if (Array.isArray(out)) throw new Error(`${POPULATION_MATMUL}: ${name} gave several outputs`);
      return out;
    };
    const temps: tf.TensorInfo[] = [];
    const keep = (t: tf.TensorInfo) => (temps.push(t), t);
    // On wasm a Slice kernel reads its whole input back first (readSync copies the heap): P members'
    // slices of a [P, …] tensor would copy it P times. A copy of the member's segment on the heap does not.
    const wasm = backendName === 'wasm' ? asWasmBackend(backend) : null;
    const segment = (x: tf.TensorInfo, shape: number[], p: number): tf.TensorInfo => {
      const per = shape.reduce((a, d) => a * d, 1);
      const out = keep(wasm!.makeOutput(shape, 'float32'));
      heapFloats(wasm!, out).set(heapFloats(wasm!, x).subarray(p * per, (p + 1) * per));
      return out;
    };
    // Member p's slice [1, …] of a tensor whose first axis is the member.
    const memberOf = (x: tf.TensorInfo, p: number) =>
      wasm
        ? segment(x, [1, ...x.shape.slice(1)], p)
        : keep(
            run('Slice', { x }, { begin: x.shape.map((_, i) => (i === 0 ? p : 0)), size: [1, ...x.shape.slice(1)] }),
          );
    const members = b.shape[0]!;
    const products: tf.TensorInfo[] = [];
    try {
      // wasm's _FusedMatMul reads rank-3 operands, as tfjs's fused matMul reshapes them.
      const shared = a.shape.length === 2 ? keep(run('Reshape', { x: a }, { shape: [1, ...a.shape] })) : null;
      // wasm's _FusedMatMul wants a bias whose data is rank 1: slices of the flattened rows are.
      const n = bias ? bias.shape.at(-1)! : 0;
      const biasRows = bias ? keep(run('Reshape', { x: bias }, { shape: [members * n] })) : null;
      for (let p = 0; p < members; p++) {
        const ap = shared ?? memberOf(a, p);
        const bp = memberOf(b, p);
        if (!fused) {
          products.push(run('BatchMatMul', { a: ap, b: bp }, { transposeA, transposeB }));
          continue;
        }
        const inputs: tf.NamedTensorInfoMap = { a: ap, b: bp };
        if (biasRows)
          inputs['bias'] = wasm
            ? segment(biasRows, [n], p)
            : keep(run('Slice', { x: biasRows }, { begin: [p * n], size: [n] }));
        products.push(run('_FusedMatMul', inputs, { transposeA, transposeB, activation, leakyreluAlpha: 0.2 }));
      }
      return run('Concat', products, { axis: 0 });
    } finally {
      for (const t of [...temps, ...products]) backend.disposeData(t.dataId);
    }
  };
}

/** Registers the kernel on wasm and cpu and its gradient (idempotent). */
export function registerPopulationMatMul(): void {
  for (const backendName of ['wasm', 'cpu']) {
    if (tf.getKernel(POPULATION_MATMUL, backendName) !== undefined) continue;
    tf.registerKernel({ kernelName: POPULATION_MATMUL, backendName, kernelFunc: kernelFor(backendName) });
  }
  if (tf.getGradient(POPULATION_MATMUL) !== undefined) return;
  tf.registerGradient({
    kernelName: POPULATION_MATMUL,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const { transposeA, transposeB, fused, activation, withBias } = attrs as unknown as Attrs;
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      // A fused product without bias or activation differentiates as the plain one (tfjs's fused matMul).
      if ((fused && (withBias || activation !== 'linear')) || transposeA || transposeB || a.rank !== 3)
        throw new Error(
          `${POPULATION_MATMUL}: only a product of rank-3 operands, untransposed, without bias or activation has a gradient`,
        );
      const g = dy as tf.Tensor;
      // As tfjs's BatchMatMul gradient: dA = dy·Bᵀ, dB = Aᵀ·dy, per member.
      return {
        a: () => populationMatMul(g, b, { transposeB: true }),
        b: () => populationMatMul(a, g, { transposeA: true }),
      };
    },
  });
}

registerPopulationMatMul();

/** C[p] = op(A[p])·op(B[p]) for every member p (see the top of this file). */
export function populationMatMul(a: tf.Tensor, b: tf.Tensor, opts: PopulationMatMulOptions = {}): tf.Tensor3D {
  if (b.rank !== 3 || (a.rank !== 3 && a.rank !== 2) || (a.rank === 3 && a.shape[0] !== b.shape[0]))
    throw new Error(
      `${POPULATION_MATMUL}: needs A [P, m, k] or [m, k] and B [P, k, n], got [${a.shape}] and [${b.shape}]`,
    );
  const attrs: Attrs = {
    transposeA: opts.transposeA ?? false,
    transposeB: opts.transposeB ?? false,
    fused: opts.fused ?? false,
    activation: opts.activation ?? 'linear',
    withBias: opts.bias !== undefined,
  };
  const inputs: tf.NamedTensorMap = { a, b };
  if (opts.bias) inputs['bias'] = opts.bias;
  return tf.engine().runKernel(POPULATION_MATMUL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor3D;
}
