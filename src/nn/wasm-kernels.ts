/**
 * What droptune's own kernels for the tfjs `wasm` backend share:
 * - direct access to the tensors wasm holds, for kernels written in JS over its heap. A view is valid
 *   until the next allocation on the backend (the heap may grow, which detaches it): take views after
 *   making the outputs, and drop them before allocating again;
 * - calling another wasm kernel directly, and replacing a stock kernel with a wrapper that keeps it
 *   (as `.stock`), idempotently.
 */
import * as tf from '@tensorflow/tfjs';

const BACKEND = 'wasm';
export type KernelFunc = tf.KernelConfig['kernelFunc'];
export type KernelArgs = Parameters<KernelFunc>[0];

/** A kernel of ours, holding the stock kernel it replaces. */
export type Wrapped = KernelFunc & { stock: KernelFunc };
export const wrapped = (kernel: (args: KernelArgs) => tf.TensorInfo, stock: KernelFunc): Wrapped =>
  Object.assign(kernel as KernelFunc, { stock });
const isWrapped = (kernel: KernelFunc): kernel is Wrapped => 'stock' in kernel;

/** The stock wasm kernel `name` (the one a wrapper of ours holds, if it was replaced). */
export function stockKernel(name: string): KernelFunc {
  const config = tf.getKernel(name, BACKEND);
  if (config === undefined) throw new Error(`wasm backend has no ${name} kernel`);
  return isWrapped(config.kernelFunc) ? config.kernelFunc.stock : config.kernelFunc;
}

/** Runs a kernel of the wasm backend directly (no engine bookkeeping; the caller disposes the result). */
export function runWasmKernel(
  kernel: KernelFunc,
  backend: tf.KernelBackend,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo {
  const out = kernel({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new Error('expected a kernel with one output');
  return out;
}

/**
 * Replaces each named stock wasm kernel with `wrap(stock)`, unless it already is one of ours. Safe to
 * call any number of times, before or after the wasm backend starts (the stock setupFunc, which binds
 * the wasm function the stock kernel calls, is kept). Returns true if this call replaced any.
 */
export function replaceWasmKernels(
  replacements: readonly (readonly [string, (stock: KernelFunc) => Wrapped])[],
): boolean {
  let replaced = false;
  for (const [name, wrap] of replacements) {
    const config = tf.getKernel(name, BACKEND);
    if (config === undefined || isWrapped(config.kernelFunc)) continue;
    tf.unregisterKernel(name, BACKEND);
    tf.registerKernel({ ...config, kernelFunc: wrap(config.kernelFunc) });
    replaced = true;
  }
  return replaced;
}

/** The parts of tfjs-backend-wasm's BackendWasm that JS kernels use (not in its public types). */
export interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object): boolean;
}

export function asWasmBackend(backend: unknown): WasmBackend {
  const b = backend as Partial<WasmBackend>;
  if (typeof b.makeOutput !== 'function' || typeof b.typedArrayFromHeap !== 'function')
    throw new Error('not the tfjs wasm backend');
  return b as WasmBackend;
}

/** Where a tensor's data starts on the wasm heap, in bytes (tfjs-backend-wasm's dataIdMap, not in its public types). */
export function heapOffset(backend: WasmBackend, t: tf.TensorInfo): number {
  const data = (
    backend as unknown as { dataIdMap: { get(id: object): { memoryOffset: number } | undefined } }
  ).dataIdMap.get(t.dataId);
  if (data === undefined) throw new Error('heapOffset: the tensor is not on this wasm backend');
  return data.memoryOffset;
}

/** A float32 tensor's values on the wasm heap, without a copy. */
export function heapFloats(backend: WasmBackend, t: tf.TensorInfo): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`expected a float32 tensor, got ${t.dtype}`);
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** The values of a float32 tensor: a view into the wasm heap when wasm holds it (no copy), else a copy. */
export function hostValues(t: tf.Tensor): Float32Array {
  if (tf.getBackend() === 'wasm') return heapFloats(asWasmBackend(tf.backend()), t);
  return t.dataSync() as Float32Array;
}
