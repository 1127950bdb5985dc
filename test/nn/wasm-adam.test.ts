import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';

import { createRng } from '../../src/core/rng.js';
import { adamUpdate } from '../../src/nn/adam.js';
import { wasmAdamAvailable, wasmAdamUpdate, type AdamSegment } from '../../src/nn/wasm-adam.js';

const random = (n: number, seed: number, scale = 1) => {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => (rng.next() - 0.5) * scale);
};
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** The JS loop over the same segments: the reference. */
function reference(g: Float32Array, w: Float32Array, m: Float32Array, v: Float32Array, segments: AdamSegment[]) {
  const next = w.slice();
  for (const s of segments) {
    const at = (a: Float32Array) => a.subarray(s.start, s.start + s.length);
    adamUpdate(at(g), at(w), at(m), at(v), at(next), 0.9, 0.999, s.stepSize, s.sqrtC2, 1e-7);
  }
  return next;
}

describe('Adam as a wasm SIMD loop (wasmAdamUpdate)', function () {
  before(function () {
    if (tf.getBackend() !== 'wasm') this.skip();
  });

  it('runs on the wasm backend', () => {
    expect(wasmAdamAvailable()).to.equal(true);
  });

  // odd lengths (the last weight by the scalar tail), segments of their own step sizes, a gap no segment covers
  const CASES: { n: number; segments: AdamSegment[] }[] = [
    { n: 1, segments: [{ start: 0, length: 1, stepSize: 0.01, sqrtC2: 0.03 }] },
    { n: 1001, segments: [{ start: 0, length: 1001, stepSize: 0.001 / 0.1, sqrtC2: Math.sqrt(0.001) }] },
    {
      n: 23,
      segments: [
        { start: 0, length: 7, stepSize: 0.02, sqrtC2: 0.5 },
        { start: 7, length: 7, stepSize: 0.001, sqrtC2: 0.9 },
        { start: 16, length: 7, stepSize: 0.3, sqrtC2: 0.1 },
      ],
    },
  ];
  for (const { n, segments } of CASES) {
    it(`matches the JS loop bit for bit: ${n} weights in ${segments.length} segment(s), three steps`, () => {
      const w0 = random(n, 1);
      const host = { w: w0.slice(), m: new Float32Array(n), v: new Float32Array(n) };
      const heap = { m: new Float32Array(n), v: new Float32Array(n) };
      let weight: tf.Tensor = tf.tensor1d(w0);
      for (let step = 0; step < 3; step++) {
        // gradients with large and tiny entries and an exact zero
        const g = random(n, 10 + step, step === 1 ? 1e-6 : 10);
        if (n > 2) g[2] = 0;
        const grad = tf.tensor1d(g);
        host.w = reference(g, host.w, host.m, host.v, segments);
        const next = wasmAdamUpdate(grad, weight, heap.m, heap.v, 0.9, 0.999, 1e-7, segments)!;
        grad.dispose();
        weight.dispose();
        weight = next;
        expect(bytes(weight.dataSync() as Float32Array).equals(bytes(host.w)), `weights, step ${step}`).to.equal(true);
        expect(bytes(heap.m).equals(bytes(host.m)), `m, step ${step}`).to.equal(true);
        expect(bytes(heap.v).equals(bytes(host.v)), `v, step ${step}`).to.equal(true);
      }
      // the weights did move (the last one by the scalar tail), except where no segment covers them
      const moved = weight.dataSync();
      expect(moved[n - 1]).to.not.equal(w0[n - 1]);
      if (n === 23) expect([moved[14], moved[15]]).to.deep.equal([w0[14], w0[15]]);
      weight.dispose();
    });
  }

  it('leaves no tensor behind', () => {
    const before = tf.memory().numTensors;
    const [g, w] = [tf.tensor1d(random(64, 2)), tf.tensor1d(random(64, 3))];
    const next = wasmAdamUpdate(g, w, new Float32Array(64), new Float32Array(64), 0.9, 0.999, 1e-7, [
      { start: 0, length: 64, stepSize: 0.01, sqrtC2: 0.03 },
    ]);
    tf.dispose([g, w, next!]);
    expect(tf.memory().numTensors).to.equal(before);
  });
});
