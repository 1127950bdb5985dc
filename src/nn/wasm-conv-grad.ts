/**
 * A `Conv2DBackpropFilter` kernel for the tfjs `wasm` backend.
 *
 * Why: @tensorflow/tfjs-backend-wasm 4.22 has every kernel a small CNN needs to train except the
 * gradient of conv2d with respect to its filter, so `tf.grads`/`optimizer.minimize` over a conv
 * net throws on wasm. The filter gradient is itself a convolution, so it is built here from
 * kernels wasm already has (Transpose, Conv2D, Slice); the arithmetic runs in wasm's XNNPACK conv.
 * Registered only when missing, so tfjs-node or a later wasm release keeps its own kernel.
 */
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';

import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { asWasmBackend, heapFloats, runWasmKernel, stockKernel } from './wasm-kernels.js';

const KERNEL = 'Conv2DBackpropFilter';
const BACKEND = 'wasm';

/** Directory of the wasm binaries (`.../@tensorflow/tfjs-backend-wasm/dist/`), with a trailing separator. */
export function wasmBinaryDir(): string {
  const pkgJson = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return join(dirname(pkgJson), 'dist') + sep;
}

/**
 * Make `wasm` the active backend, with the filter-gradient kernel registered, loading the
 * binaries from the installed package. Returns the backend that was active before (if none had
 * been chosen yet, the one tfjs picks by default), so callers can switch back.
 * Throws if the wasm backend cannot be initialised.
 */
export async function useWasmBackend(): Promise<string> {
  registerWasmConvGrad();
  // Only read when the wasm backend initialises, so set it before tf.ready() may pick wasm.
  setWasmPaths(wasmBinaryDir());
  await tf.ready();
  const previous = tf.getBackend();
  if (!(await tf.setBackend(BACKEND))) throw new Error('could not initialise the tfjs wasm backend');
  return previous;
}

/**
 * Register the wasm `Conv2DBackpropFilter` kernel unless one already exists.
 * Returns true if this call registered it; safe to call any number of times, before or after
 * the wasm backend is initialised.
 */
export function registerWasmConvGrad(): boolean {
  if (tf.getKernel(KERNEL, BACKEND) !== undefined) return false;
  tf.registerKernel({ kernelName: KERNEL, backendName: BACKEND, kernelFunc: conv2dBackpropFilter });
  return true;
}

type Pair = [number, number];

/** Largest filter height × width × input channels for which the filter gradient goes through im2col. */
const IM2COL_MAX_ROWS = 32;

/**
 * NHWC: dW = Pᵀ · dY, with dY as [B·outH·outW, outC] (a free reshape) and Pᵀ the image patches laid out
 * [fh·fw·inC, B·outH·outW], written on the wasm heap in one JS pass. The product is one plain matmul,
 * so XNNPACK runs it; as a convolution (below) XNNPACK was slow with its outH×outW-sized "filter".
 */
function filterGradIm2col(
  backend: tf.KernelBackend,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: O } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sH, strideWidth: sW } = info;
  const { top, left } = info.padInfo;
  const K = B * OH * OW;
  const heap = asWasmBackend(backend);
  const patchesT = heap.makeOutput([1, fh * fw * C, K], 'float32');
  const temps: tf.TensorInfo[] = [patchesT];
  try {
    const xs = heapFloats(heap, x);
    const p = heapFloats(heap, patchesT);
    // Output row (b, y) at a time: the input rows it reads stay in cache while every (r, c, i) row of
    // the patches gets a contiguous run of outW values.
    for (let b = 0; b < B; b++) {
      for (let y = 0; y < OH; y++) {
        const column = (b * OH + y) * OW;
        for (let r = 0; r < fh; r++) {
          const iy = y * sH + r - top;
          for (let c = 0; c < fw; c++) {
            for (let i = 0; i < C; i++) {
              const at = ((r * fw + c) * C + i) * K + column;
              if (iy < 0 || iy >= H) {
                p.fill(0, at, at + OW);
                continue;
              }
              const rowBase = (b * H + iy) * W;
              for (let xo = 0; xo < OW; xo++) {
                const ix = xo * sW + c - left;
                p[at + xo] = ix < 0 || ix >= W ? 0 : xs[(rowBase + ix) * C + i]!;
              }
            }
          }
        }
      }
    }
    const dyRows = runWasmKernel(stockKernel('Reshape'), backend, { x: dy }, { shape: [1, K, O] });
    temps.push(dyRows);
    const product = runWasmKernel(
      stockKernel('BatchMatMul'),
      backend,
      { a: patchesT, b: dyRows },
      { transposeA: false, transposeB: false },
    );
    temps.push(product);
    return runWasmKernel(stockKernel('Reshape'), backend, { x: product }, { shape: [fh, fw, C, O] });
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

/**
 * NCHW: dW[r, c, i, o] = sum_{b, y, x} X[b, y*sH + r - padTop, x*sW + c - padLeft, i] * dY[b, y, x, o]
 *
 * which is a stride-1 convolution of X' = x as [inC, H, W, batch] (channels as batch, batch as
 * channels) with the filter F' = dy as [outH, outW, batch, outC], dilated by the forward stride,
 * padded by the forward top/left padding. Its output is [inC, >=fh, >=fw, outC]: crop to the filter
 * size, then transpose to [fh, fw, inC, outC].
 */
function conv2dBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const backend = args.backend as tf.KernelBackend;
  const { x, dy } = args.inputs;
  if (x === undefined || dy === undefined) throw new Error(`${KERNEL}: expected inputs x and dy`);
  const attrs = (args.attrs ?? {}) as unknown as tf.Conv2DBackpropFilterAttrs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;

  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  const { filterHeight: fh, filterWidth: fw, strideHeight: sH, strideWidth: sW } = info;
  const { inHeight, inWidth, outHeight, outWidth } = info;
  const channelsLast = info.dataFormat === 'channelsLast';
  if (
    dy.shape.length !== 4 ||
    dy.shape[channelsLast ? 1 : 2] !== outHeight ||
    dy.shape[channelsLast ? 2 : 3] !== outWidth
  ) {
    throw new Error(
      `${KERNEL}: dy shape [${dy.shape.join(',')}] does not match the conv output ${outHeight}x${outWidth}`,
    );
  }

  // im2col pays off for few patch rows (a first conv layer on grey images: 9 rows, 15 -> 5 ms per call on a
  // 64x28x28 batch); for 144 rows (3x3x16) XNNPACK's matmul over K = B·outH·outW is slower than the conv.
  if (channelsLast && x.dtype === 'float32' && fh * fw * info.inChannels <= IM2COL_MAX_ROWS)
    return filterGradIm2col(backend, x, dy, info);

  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Bottom/right padding that makes the inner conv output exactly fh x fw; when negative the
  // forward conv never read the trailing rows, so pad 0 and crop the surplus output instead.
  const bottom = fh + (outHeight - 1) * sH - inHeight - top;
  const right = fw + (outWidth - 1) * sW - inWidth - left;

  const temps: tf.TensorInfo[] = [];
  const keep = (t: tf.TensorInfo): tf.TensorInfo => {
    temps.push(t);
    return t;
  };
  try {
    const xT = keep(
      runWasmKernel(stockKernel('Transpose'), backend, { x }, { perm: channelsLast ? [3, 1, 2, 0] : [1, 2, 3, 0] }),
    );
    const dyT = keep(
      runWasmKernel(stockKernel('Transpose'), backend, { x: dy }, { perm: channelsLast ? [1, 2, 0, 3] : [2, 3, 0, 1] }),
    );
    const explicitPad = [
      [0, 0],
      [top, Math.max(0, bottom)],
      [left, Math.max(0, right)],
      [0, 0],
    ] as tf.backend_util.ExplicitPadding;
    let grad = keep(
      runWasmKernel(stockKernel('Conv2D'), backend, { x: xT, filter: dyT }, {
        strides: [1, 1] as Pair,
        pad: explicitPad,
        dataFormat: 'NHWC',
        dilations: [sH, sW] as Pair,
      } as unknown as tf.NamedAttrMap),
    );
    if (grad.shape[1] !== fh || grad.shape[2] !== fw) {
      grad = keep(
        runWasmKernel(
          stockKernel('Slice'),
          backend,
          { x: grad },
          { begin: [0, 0, 0, 0], size: [info.inChannels, fh, fw, info.outChannels] },
        ),
      );
    }
    // The result may share its buffer with `grad` (Transpose is a copy-free identity for some
    // shapes); the refcount keeps it alive when the temporaries are released below.
    return runWasmKernel(stockKernel('Transpose'), backend, { x: grad }, { perm: [1, 2, 0, 3] });
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}
