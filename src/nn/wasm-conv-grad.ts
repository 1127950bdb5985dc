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

/** Run another wasm kernel directly on the backend (no engine bookkeeping; caller disposes). */
function run(name: string, backend: tf.KernelBackend, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap): tf.TensorInfo {
  const config = tf.getKernel(name, BACKEND);
  if (config === undefined) throw new Error(`wasm backend has no ${name} kernel`);
  const out = config.kernelFunc({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new Error(`wasm ${name} kernel returned several tensors`);
  return out;
}

/**
 * dW[r, c, i, o] = sum_{b, y, x} X[b, y*sH + r - padTop, x*sW + c - padLeft, i] * dY[b, y, x, o]
 *
 * which is a stride-1 convolution of X' = x as [inC, H, W, batch] (channels as batch, batch as
 * channels) with the filter F' = dy as [outH, outW, batch, outC], dilated by the forward stride,
 * padded by the forward top/left padding. Its output is [inC, >=fh, >=fw, outC]: crop to the filter
 * size, then transpose to [fh, fw, inC, outC].
 */
function conv2dBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
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
  if (dy.shape.length !== 4 || dy.shape[channelsLast ? 1 : 2] !== outHeight || dy.shape[channelsLast ? 2 : 3] !== outWidth) {
    throw new Error(`${KERNEL}: dy shape [${dy.shape.join(',')}] does not match the conv output ${outHeight}x${outWidth}`);
  }

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
    const xT = keep(run('Transpose', backend, { x }, { perm: channelsLast ? [3, 1, 2, 0] : [1, 2, 3, 0] }));
    const dyT = keep(run('Transpose', backend, { x: dy }, { perm: channelsLast ? [1, 2, 0, 3] : [2, 3, 0, 1] }));
    const explicitPad = [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]] as tf.backend_util.ExplicitPadding;
    let grad = keep(
      run('Conv2D', backend, { x: xT, filter: dyT }, {
        strides: [1, 1] as Pair,
        pad: explicitPad,
        dataFormat: 'NHWC',
        dilations: [sH, sW] as Pair,
      } as unknown as tf.NamedAttrMap),
    );
    if (grad.shape[1] !== fh || grad.shape[2] !== fw) {
      grad = keep(run('Slice', backend, { x: grad }, { begin: [0, 0, 0, 0], size: [info.inChannels, fh, fw, info.outChannels] }));
    }
    // The result may share its buffer with `grad` (Transpose is a copy-free identity for some
    // shapes); the refcount keeps it alive when the temporaries are released below.
    return run('Transpose', backend, { x: grad }, { perm: [1, 2, 0, 3] });
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}
