/** What the kernel tests share: seeded values, the relative error they assert on, switching backends. */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';

/** mulberry32: small seeded generator, values in [-1, 1). */
export function randomValues(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

export const size = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

/** max |a − b| / max |b| (b is the reference, e.g. the cpu backend's result). */
export function relError(a: Float32Array, b: Float32Array): number {
  expect(a.length).to.equal(b.length);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < b.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs((a[i] ?? NaN) - (b[i] ?? NaN)));
    maxRef = Math.max(maxRef, Math.abs(b[i] ?? 0));
  }
  return maxDiff / Math.max(maxRef, 1e-12);
}

/** Switches tfjs to `name` (which must start) and runs `fn` there. */
export async function onBackend<T>(name: string, fn: () => T): Promise<T> {
  expect(await tf.setBackend(name)).to.equal(true);
  return fn();
}
