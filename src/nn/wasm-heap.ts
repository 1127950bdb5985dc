/**
 * Direct access to tensors the tfjs `wasm` backend holds, for kernels written in JS over its heap.
 * A view is valid until the next allocation on the backend (the heap may grow, which detaches it):
 * take views after making the outputs, and drop them before allocating again.
 */
import * as tf from '@tensorflow/tfjs';

/** The parts of tfjs-backend-wasm's BackendWasm that JS kernels use (not in its public types). */
export interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object): boolean;
}

export function asWasmBackend(backend: unknown): WasmBackend {
  const b = backend as Partial<WasmBackend>;
  if (typeof b.makeOutput !== 'function' || typeof b.typedArrayFromHeap !== 'function') throw new Error('not the tfjs wasm backend');
  return b as WasmBackend;
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
