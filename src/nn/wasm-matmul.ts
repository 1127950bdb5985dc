/**
 * Matmuls with transposed operands at the speed of the plain product, for the tfjs `wasm` backend.
 *
 * Why: tfjs-backend-wasm 4.22 hands a matmul to XNNPACK only when neither `transposeA` nor `transposeB`
 * is set and both batch sizes are 1 (src/cc/batch_mat_mul_impl.cc); every other case runs a scalar
 * loop at 1–2 GFLOP/s against XNNPACK's 12–25. The backward pass of every Dense layer sets those flags
 * (dx = dy·Wᵀ, dW = xᵀ·dy), so training ran mostly in that loop.
 *
 * These kernels wrap the stock ones: when a flag is set they move the transposition into an explicit
 * Transpose (a memory pass, far cheaper than the product) and call the stock kernel with both flags off,
 * which then takes the XNNPACK path. For a product with one flag, the transpose can go on the flagged
 * operand, or on the other operand and the output (C = AᵀB = (BᵀA)ᵀ); the cheaper one, counted in
 * elements moved, is taken. The plain case goes straight to the stock kernel, and other backends keep
 * their own kernels (tfjs-node has a native one).
 */
import * as tf from '@tensorflow/tfjs';
import {
  replaceWasmKernels,
  runWasmKernel,
  stockKernel,
  wrapped,
  type KernelArgs,
  type KernelFunc,
  type Wrapped,
} from './wasm-kernels.js';

/** A copy of `x` with its last two axes swapped. */
function swapLastTwo(x: tf.TensorInfo, backend: tf.KernelBackend): tf.TensorInfo {
  const rank = x.shape.length;
  const perm = [...Array(rank - 2).keys(), rank - 1, rank - 2];
  return runWasmKernel(stockKernel('Transpose'), backend, { x }, { perm });
}

const size = (x: tf.TensorInfo) => x.shape.reduce((a, b) => a * b, 1);
const rows = (x: tf.TensorInfo) => x.shape[x.shape.length - 2]!;
const cols = (x: tf.TensorInfo) => x.shape[x.shape.length - 1]!;

/**
 * BatchMatMul: C = op(A)·op(B). With flags, either transpose the flagged operands, or compute
 * Cᵀ = op(B)ᵀ·op(A)ᵀ with the other operands transposed and transpose the result, whichever moves fewer
 * elements.
 */
function batchMatMul(stock: KernelFunc): Wrapped {
  const kernel = (args: KernelArgs): tf.TensorInfo => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
    if (!transposeA && !transposeB) return stock(args) as tf.TensorInfo;
    const backend = args.backend as tf.KernelBackend;
    const m = transposeA ? cols(a) : rows(a);
    const n = transposeB ? rows(b) : cols(b);
    const batch = Math.max(size(a) / (rows(a) * cols(a)), size(b) / (rows(b) * cols(b)));
    // Elements moved: transpose the flagged operands, or the unflagged ones plus the output.
    const direct = (transposeA ? size(a) : 0) + (transposeB ? size(b) : 0);
    const swapped = (transposeA ? 0 : size(a)) + (transposeB ? 0 : size(b)) + batch * m * n;
    const temps: tf.TensorInfo[] = [];
    const keep = (t: tf.TensorInfo) => (temps.push(t), t);
    const plain = { transposeA: false, transposeB: false } as unknown as tf.NamedAttrMap;
    try {
      if (direct <= swapped) {
        const a2 = transposeA ? keep(swapLastTwo(a, backend)) : a;
        const b2 = transposeB ? keep(swapLastTwo(b, backend)) : b;
        return runWasmKernel(stock, backend, { a: a2, b: b2 }, plain);
      }
      // Cᵀ = op(B)ᵀ · op(A)ᵀ: an operand that was flagged is used as stored.
      const bt = transposeB ? b : keep(swapLastTwo(b, backend));
      const at = transposeA ? a : keep(swapLastTwo(a, backend));
      const ct = keep(runWasmKernel(stock, backend, { a: bt, b: at }, plain));
      return swapLastTwo(ct, backend);
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
  return wrapped(kernel, stock);
}

/** The kernel applying a fused activation on its own, with its extra attrs or inputs. */
const ACTIVATIONS: Record<
  string,
  (
    x: tf.TensorInfo,
    attrs: Record<string, unknown>,
    inputs: tf.NamedTensorInfoMap,
  ) => [string, tf.NamedTensorInfoMap, tf.NamedAttrMap]
> = {
  relu: (x) => ['Relu', { x }, {}],
  relu6: (x) => ['Relu6', { x }, {}],
  elu: (x) => ['Elu', { x }, {}],
  sigmoid: (x) => ['Sigmoid', { x }, {}],
  leakyrelu: (x, attrs) => ['LeakyRelu', { x }, { alpha: (attrs['leakyreluAlpha'] as number | undefined) ?? 0.2 }],
  prelu: (x, _attrs, inputs) => ['Prelu', { x, alpha: inputs['preluActivationWeights']! }, {}],
};

/**
 * _FusedMatMul (matmul + bias + activation, what Dense layers call at inference): the bias and
 * activation apply to the output as laid out, so only the flagged operands are transposed. The stock
 * scalar loop, which also serves every batched product, adds the wrong bias entries (it indexes the
 * rank-1 bias by row·cols + col, clamped) and applies bias and activation to each 48-wide block of the
 * inner sum; with a batch dimension the bias and activation are therefore applied as separate kernels.
 */
function fusedMatMul(stock: KernelFunc): Wrapped {
  const kernel = (args: KernelArgs): tf.TensorInfo => {
    const { a, b, bias } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo };
    const attrs = args.attrs as unknown as tf.BatchMatMulAttrs & { activation: string };
    const batched = size(a) > rows(a) * cols(a) || size(b) > rows(b) * cols(b);
    const unfused = batched && (bias !== undefined || attrs.activation !== 'linear');
    if (!attrs.transposeA && !attrs.transposeB && !unfused) return stock(args) as tf.TensorInfo;
    const backend = args.backend as tf.KernelBackend;
    const temps: tf.TensorInfo[] = [];
    const keep = (t: tf.TensorInfo) => (temps.push(t), t);
    try {
      const a2 = attrs.transposeA ? keep(swapLastTwo(a, backend)) : a;
      const b2 = attrs.transposeB ? keep(swapLastTwo(b, backend)) : b;
      const plain = { ...attrs, transposeA: false, transposeB: false } as unknown as tf.NamedAttrMap;
      if (!unfused) return runWasmKernel(stock, backend, { ...args.inputs, a: a2, b: b2 }, plain);
      const product = runWasmKernel(stockKernel('BatchMatMul'), backend, { a: a2, b: b2 }, plain);
      const biased = bias ? runWasmKernel(stockKernel('Add'), backend, { a: keep(product), b: bias }, {}) : product;
      const activation = ACTIVATIONS[attrs.activation];
      if (!activation) return biased;
      keep(biased);
      const [name, inputs, extra] = activation(biased, attrs as unknown as Record<string, unknown>, args.inputs);
      return runWasmKernel(stockKernel(name), backend, inputs, extra);
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
  return wrapped(kernel, stock);
}

/** Replace wasm's BatchMatMul and _FusedMatMul with the wrappers above (see replaceWasmKernels). */
export function registerWasmMatMul(): boolean {
  return replaceWasmKernels([
    ['BatchMatMul', batchMatMul],
    ['_FusedMatMul', fusedMatMul],
  ]);
}

/** The stock kernels, for tests and the benchmark. */
export function stockWasmMatMul(name: 'BatchMatMul' | '_FusedMatMul'): KernelFunc {
  return stockKernel(name);
}
