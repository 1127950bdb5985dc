import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';

import { registerWasmConvInputGrad } from '../../src/nn/wasm-conv-input-grad.js';
import { useWasmBackend } from '../../src/nn/wasm-conv-grad.js';
import { onBackend, randomValues, relError, size } from '../helpers/numeric.js';

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

interface ConvCase {
  x: Shape4;
  w: Shape4;
  strides: number | [number, number];
  pad: Pad;
}

/** dx of 0.5·sum(conv2d(x, w)²): Conv2DBackpropInput with dy = the conv output. */
function inputGrad(c: ConvCase, seed: number): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(randomValues(size(c.x), seed), c.x);
    const w = tf.tensor4d(randomValues(size(c.w), seed + 1), c.w);
    const g = tf.grad((v: tf.Tensor) =>
      tf.mul(0.5, tf.sum(tf.square(tf.conv2d(v as tf.Tensor4D, w, c.strides, c.pad)))),
    )(x);
    expect(g.shape).to.deep.equal(c.x);
    return g.dataSync() as Float32Array;
  });
}

interface PoolCase {
  x: Shape4;
  filter: number;
  strides: number;
  pad: 'same' | 'valid';
}

/** dx of sum(maxPool(x) · r) for a fixed random r: MaxPoolGrad with a random dy. */
function poolGrad(c: PoolCase, seed: number): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(randomValues(size(c.x), seed), c.x);
    const outShape = tf.maxPool(x, c.filter, c.strides, c.pad).shape;
    const r = tf.tensor(randomValues(size(outShape), seed + 1), outShape);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(v as tf.Tensor4D, c.filter, c.strides, c.pad), r)))(x);
    return g.dataSync() as Float32Array;
  });
}

const convCases: ConvCase[] = [
  { x: [2, 14, 14, 16], w: [3, 3, 16, 32], strides: 1, pad: 'same' },
  { x: [1, 5, 7, 1], w: [3, 3, 1, 2], strides: 1, pad: 'valid' },
  { x: [3, 9, 9, 3], w: [3, 3, 3, 5], strides: 2, pad: 'same' },
  { x: [3, 9, 9, 4], w: [3, 3, 4, 8], strides: 2, pad: 'valid' },
  { x: [3, 8, 8, 3], w: [2, 2, 3, 2], strides: 2, pad: 'same' },
  { x: [3, 7, 5, 4], w: [5, 3, 4, 2], strides: [2, 1], pad: 'same' },
  { x: [2, 12, 12, 1], w: [3, 3, 1, 4], strides: 3, pad: 'same' },
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
  // Padding wider than the filter: handed to the stock kernel.
  {
    x: [1, 6, 6, 2],
    w: [2, 2, 2, 3],
    strides: 1,
    pad: [
      [0, 0],
      [3, 0],
      [0, 3],
      [0, 0],
    ],
  },
];

const poolCases: PoolCase[] = [
  { x: [4, 28, 28, 16], filter: 2, strides: 2, pad: 'valid' },
  { x: [2, 9, 11, 3], filter: 2, strides: 2, pad: 'same' },
  { x: [2, 9, 11, 3], filter: 2, strides: 2, pad: 'valid' },
  { x: [2, 9, 9, 5], filter: 3, strides: 2, pad: 'valid' },
  { x: [2, 7, 6, 4], filter: 2, strides: 1, pad: 'same' },
  { x: [1, 12, 12, 2], filter: 3, strides: 3, pad: 'same' },
];

const label = (o: object) => JSON.stringify(o).replace(/"/g, '');

describe('wasm Conv2DBackpropInput and MaxPoolGrad', function () {
  let previous = '';
  before(async function () {
    previous = await useWasmBackend();
    registerWasmConvInputGrad();
  });
  after(async function () {
    await tf.setBackend(previous);
  });

  it('registers once, keeping the stock kernels inside', function () {
    expect(registerWasmConvInputGrad()).to.equal(false);
    for (const name of ['Conv2DBackpropInput', 'MaxPoolGrad']) {
      const kernel = tf.getKernel(name, 'wasm')!.kernelFunc as tf.KernelConfig['kernelFunc'] & {
        stock?: { stock?: unknown };
      };
      expect(kernel.stock, name).to.be.a('function');
      expect(kernel.stock!.stock, name).to.equal(undefined);
    }
  });

  for (const [i, c] of convCases.entries()) {
    it(`conv dx matches cpu: ${label(c)}`, async function () {
      const cpu = await onBackend('cpu', () => inputGrad(c, 100 + i));
      const wasm = await onBackend('wasm', () => inputGrad(c, 100 + i));
      expect(relError(wasm, cpu)).to.be.at.most(1e-5);
    });
  }

  for (const [i, c] of poolCases.entries()) {
    it(`max-pool dx matches cpu: ${label(c)}`, async function () {
      const cpu = await onBackend('cpu', () => poolGrad(c, 200 + i));
      const wasm = await onBackend('wasm', () => poolGrad(c, 200 + i));
      expect(relError(wasm, cpu)).to.be.at.most(1e-6);
    });
  }

  it('sends a tie in a pooling window to its first maximum, as cpu does', async function () {
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor4d([1, 1, 0, 1], [1, 2, 2, 1]);
        return tf
          .grad((v: tf.Tensor) => tf.sum(tf.maxPool(v as tf.Tensor4D, 2, 2, 'valid')))(x)
          .dataSync() as Float32Array;
      });
    const cpu = await onBackend('cpu', run);
    const wasm = await onBackend('wasm', run);
    expect(Array.from(wasm)).to.deep.equal(Array.from(cpu));
    expect(Array.from(wasm)).to.deep.equal([1, 0, 0, 0]);
  });

  it('leaks no tensors and no wasm buffers', async function () {
    await tf.setBackend('wasm');
    inputGrad(convCases[2]!, 1);
    poolGrad(poolCases[1]!, 1);
    const tensors = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds();
    for (const c of convCases) inputGrad(c, 2);
    for (const c of poolCases) poolGrad(c, 3);
    expect(tf.memory().numTensors).to.equal(tensors);
    expect(tf.engine().backend.numDataIds()).to.equal(buffers);
  });
});
