import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';

import { registerWasmConvGrad, useWasmBackend } from '../../src/nn/wasm-conv-grad.js';
import { onBackend, randomValues, relError, size } from '../helpers/numeric.js';

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

interface Case {
  x: Shape4;
  w: Shape4;
  strides: number | [number, number];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Gradient of 0.5 * sum(conv2d(x, w)^2) w.r.t. w (so dy = the conv output), through tf.grad. */
function filterGradViaTape(c: Case, seed: number): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(randomValues(size(c.x), seed), c.x);
    const w = tf.tensor4d(randomValues(size(c.w), seed + 1), c.w);
    const loss = (f: tf.Tensor): tf.Scalar =>
      tf.mul(0.5, tf.sum(tf.square(tf.conv2d(x, f as tf.Tensor4D, c.strides, c.pad, 'NHWC', 1, c.dimRoundingMode))));
    const g = tf.grad(loss)(w);
    expect(g.shape).to.deep.equal(c.w);
    return g.dataSync() as Float32Array;
  });
}

const cases: Case[] = [
  { x: [1, 5, 7, 1], w: [3, 3, 1, 2], strides: 1, pad: 'same' },
  { x: [1, 5, 7, 1], w: [3, 3, 1, 2], strides: 1, pad: 'valid' },
  { x: [3, 9, 9, 3], w: [3, 3, 3, 5], strides: 2, pad: 'same' },
  { x: [3, 9, 9, 4], w: [3, 3, 4, 8], strides: 2, pad: 'valid' },
  { x: [1, 5, 7, 3], w: [2, 2, 3, 5], strides: 2, pad: 'valid' },
  { x: [3, 8, 8, 3], w: [2, 2, 3, 2], strides: 2, pad: 'same' },
  { x: [3, 7, 5, 4], w: [5, 3, 4, 2], strides: 1, pad: 'valid' },
  { x: [3, 7, 5, 4], w: [5, 3, 4, 2], strides: 2, pad: 'same' },
  { x: [1, 9, 9, 1], w: [3, 3, 1, 8], strides: [2, 1], pad: 'same' },
  { x: [3, 9, 9, 3], w: [1, 1, 3, 5], strides: 2, pad: 'valid' },
  {
    x: [3, 5, 7, 4],
    w: [3, 3, 4, 5],
    strides: 2,
    pad: [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  },
  { x: [1, 9, 9, 3], w: [3, 3, 3, 2], strides: 2, pad: 1, dimRoundingMode: 'ceil' },
];

describe('wasm Conv2DBackpropFilter', function () {
  let previous = '';

  before(async function () {
    previous = await useWasmBackend();
  });

  after(async function () {
    await tf.setBackend(previous);
  });

  it('registers once, and not when a kernel already exists', function () {
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).to.not.equal(undefined);
    expect(registerWasmConvGrad()).to.equal(false);
    expect(registerWasmConvGrad()).to.equal(false);
  });

  for (const [i, c] of cases.entries()) {
    const label =
      `x ${c.x.join('x')}, w ${c.w.join('x')}, stride ${String(c.strides)}, ` +
      `pad ${JSON.stringify(c.pad)}${c.dimRoundingMode ? ` (${c.dimRoundingMode})` : ''}`;
    it(`matches cpu through tf.grad: ${label}`, async function () {
      const seed = 1000 + 17 * i;
      const cpu = await onBackend('cpu', () => filterGradViaTape(c, seed));
      const wasm = await onBackend('wasm', () => filterGradViaTape(c, seed));
      expect(relError(wasm, cpu)).to.be.at.most(1e-4);
    });
  }

  it('matches cpu for NCHW when the kernel is run directly', async function () {
    const xShape: Shape4 = [3, 4, 9, 7];
    const filterShape: Shape4 = [3, 3, 4, 5];
    for (const pad of ['same', 'valid'] as const) {
      for (const stride of [1, 2]) {
        const info = tf.backend_util.computeConv2DInfo(
          xShape,
          filterShape,
          stride,
          1,
          pad,
          undefined,
          false,
          'channelsFirst',
        );
        const dyShape = info.outShape;
        const attrs = { strides: [stride, stride], pad, dataFormat: 'NCHW', filterShape } as unknown as tf.NamedAttrMap;
        const run = (): Float32Array =>
          tf.tidy(() => {
            const x = tf.tensor4d(randomValues(size(xShape), 7 + stride), xShape);
            const dy = tf.tensor4d(randomValues(size(dyShape), 8 + stride), dyShape);
            const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as tf.Tensor;
            expect(dw.shape).to.deep.equal(filterShape);
            return dw.dataSync() as Float32Array;
          });
        const cpu = await onBackend('cpu', run);
        const wasm = await onBackend('wasm', run);
        expect(relError(wasm, cpu), `${pad} stride ${stride}`).to.be.at.most(1e-4);
      }
    }
  });

  it('leaks no tensors and no backend buffers', async function () {
    await tf.setBackend('wasm');
    const c: Case = { x: [3, 9, 9, 3], w: [3, 3, 3, 5], strides: 2, pad: 'same' };
    filterGradViaTape(c, 1); // warm-up
    const tensors = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds();
    for (let i = 0; i < 3; i++) filterGradViaTape(c, i);
    filterGradViaTape({ x: [1, 5, 7, 1], w: [3, 3, 1, 2], strides: 1, pad: 'valid' }, 5);
    expect(tf.memory().numTensors).to.equal(tensors);
    expect(tf.engine().backend.numDataIds()).to.equal(buffers);
  });

  it('trains a small conv net with adam on wasm, tracking the cpu run', async function () {
    const wasm = await onBackend('wasm', () => trainConvNet(15));
    const cpu = await onBackend('cpu', () => trainConvNet(15));
    for (const l of wasm.losses) expect(Number.isFinite(l), `loss ${l}`).to.equal(true);
    const first = wasm.losses[0] ?? NaN;
    const last = wasm.losses[wasm.losses.length - 1] ?? NaN;
    expect(last).to.be.lessThan(first * 0.8);
    expect(wasm.filterChange).to.be.greaterThan(0);
    expect(wasm.leaked).to.equal(0);
    // Same seeds and data on both backends: the loss curves agree closely.
    wasm.losses.forEach((l, i) => expect(l).to.be.closeTo(cpu.losses[i] ?? NaN, 1e-3 * Math.max(1, Math.abs(l))));
  });
});

/** conv2d -> relu -> maxPool -> flatten -> dense on a seeded two-class toy problem, trained with adam. */
function trainConvNet(steps: number): { losses: number[]; filterChange: number; leaked: number } {
  const n = 32;
  const side = 9;
  // Class 0: bright blob in the upper-left quadrant; class 1: lower-right; plus noise.
  const noise = randomValues(n * side * side, 42);
  const images = new Float32Array(n * side * side);
  const labels = new Float32Array(n * 2);
  for (let s = 0; s < n; s++) {
    const cls = s % 2;
    labels[s * 2 + cls] = 1;
    for (let r = 0; r < side; r++) {
      for (let col = 0; col < side; col++) {
        const k = (s * side + r) * side + col;
        const inBlob = cls === 0 ? r < 4 && col < 4 : r >= 5 && col >= 5;
        images[k] = (inBlob ? 1 : 0) + 0.3 * (noise[k] ?? 0);
      }
    }
  }
  const tensorsBefore = tf.memory().numTensors;
  const xs = tf.tensor4d(images, [n, side, side, 1]);
  const ys = tf.tensor2d(labels, [n, 2]);
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [side, side, 1],
        filters: 4,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  const convKernel = model.layers[0]?.getWeights()[0];
  if (convKernel === undefined) throw new Error('conv layer has no kernel');
  const kernelBefore = convKernel.dataSync().slice();
  const optimizer = tf.train.adam(0.01);
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(ys, model.apply(xs) as tf.Tensor) as tf.Scalar,
      true,
    );
    if (loss === null) throw new Error('minimize returned no loss');
    losses.push(loss.dataSync()[0] ?? NaN);
    loss.dispose();
  }
  const kernelAfter = model.layers[0]?.getWeights()[0]?.dataSync() ?? new Float32Array();
  let filterChange = 0;
  kernelBefore.forEach((v, i) => (filterChange = Math.max(filterChange, Math.abs(v - (kernelAfter[i] ?? v)))));
  xs.dispose();
  ys.dispose();
  optimizer.dispose();
  model.dispose();
  return { losses, filterChange, leaked: tf.memory().numTensors - tensorsBefore };
}
