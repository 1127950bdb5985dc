import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';

import { initBackend } from '../../src/nn/backend.js';
import { runWasmKernel } from '../../src/nn/wasm-kernels.js';
import { registerWasmMatMul, stockWasmMatMul } from '../../src/nn/wasm-matmul.js';
import { onBackend, randomValues, relError, size } from '../helpers/numeric.js';

/** Seeded integers in 1..70. */
const dims = (n: number, seed: number): number[] =>
  Array.from(randomValues(n, seed), (v) => 1 + Math.floor(((v + 1) / 2) * 70));

const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const sameBits = (a: Float32Array, b: Float32Array): boolean => bytes(a).equals(bytes(b));

/** A product op(A)·op(B) of [..., M, K]·[..., K, N]; `a`, `b` are the stored shapes. */
interface Case {
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
  n: number;
  seed: number;
  label: string;
}

const FLAGS = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

/** The given M×K×N products (batch dims prepended to a and b) with every transpose combination. */
function withFlags(batchA: number[], batchB: number[], mkn: number[][], seed: number): Case[] {
  return mkn.flatMap(([m = 1, k = 1, n = 1], i) =>
    FLAGS.map(([tA, tB], j) => ({
      a: [...batchA, ...(tA ? [k, m] : [m, k])],
      b: [...batchB, ...(tB ? [n, k] : [k, n])],
      transposeA: tA,
      transposeB: tB,
      n,
      seed: seed + 10 * i + j,
      label: `a [${batchA}|${m}x${k}] b [${batchB}|${k}x${n}] tA=${tA} tB=${tB}`,
    })),
  );
}

// Random sizes, the same with a size-1 M, K and N, and two shapes that force each transposition strategy.
const [r0 = [], r1 = [], r2 = [], r3 = []] = [0, 1, 2, 3].map((i) => dims(3, 100 + i));
const twoD = [r0, r1, r2, r3, [1, r0[1]!, r0[2]!], [r1[0]!, 1, r1[2]!], [r2[0]!, r2[1]!, 1], [70, 70, 1], [1, 3, 70]];
const CASES = {
  '2-D': withFlags([], [], twoD, 1),
  'batched 3-D': withFlags([3], [3], [r1, [r2[0]!, 1, r2[2]!]], 200),
  broadcast: [...withFlags([1], [3], [r3], 300), ...withFlags([3], [1], [r0], 400)],
};

/** matMul, fused matMul with a rank-1 bias and relu, or fused matMul with neither. */
type Op = 'matMul' | 'fused relu' | 'fused linear';

function tensors(c: Case, op: Op): { a: tf.Tensor; b: tf.Tensor; bias?: tf.Tensor1D } {
  const a = tf.tensor(randomValues(size(c.a), c.seed), c.a);
  const b = tf.tensor(randomValues(size(c.b), c.seed + 1), c.b);
  return op === 'fused relu' ? { a, b, bias: tf.tensor1d(randomValues(c.n, c.seed + 2)) } : { a, b };
}

function apply(c: Case, op: Op, a: tf.Tensor, b: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const { transposeA, transposeB } = c;
  if (op === 'matMul') return tf.matMul(a, b, transposeA, transposeB);
  return tf.fused.matMul({ a, b, transposeA, transposeB, bias, activation: op === 'fused relu' ? 'relu' : 'linear' });
}

/** The product through the engine, i.e. the kernel registered for the active backend. */
function viaEngine(c: Case, op: Op): Float32Array {
  return tf.tidy(() => {
    const { a, b, bias } = tensors(c, op);
    return apply(c, op, a, b, bias).dataSync() as Float32Array;
  });
}

/** The product through the stock wasm kernel, called directly. */
function viaStock(c: Case, op: Op): Float32Array {
  return tf.tidy(() => {
    const { a, b, bias } = tensors(c, op);
    const fused = op !== 'matMul';
    // The stock _FusedMatMul reads a.shape[1..2]: it needs the rank-3 inputs the tf.fused.matMul op passes it.
    const as3d = (x: tf.Tensor) => (fused && x.rank === 2 ? x.expandDims(0) : x);
    const { transposeA, transposeB } = c;
    const attrs = {
      transposeA,
      transposeB,
      ...(fused ? { activation: op.slice('fused '.length), leakyreluAlpha: 0.2 } : {}),
    };
    const inputs = { a: as3d(a), b: as3d(b), ...(bias ? { bias } : {}) };
    const backend = tf.backend();
    const out = runWasmKernel(stockWasmMatMul(fused ? '_FusedMatMul' : 'BatchMatMul'), backend, inputs, attrs);
    const values = backend.readSync(out.dataId) as Float32Array;
    backend.disposeData(out.dataId);
    return values;
  });
}

/** Gradients of sum(product²) w.r.t. a, b (and bias), concatenated. */
function gradients(c: Case, op: Op): Float32Array {
  return tf.tidy(() => {
    const { a, b, bias } = tensors(c, op);
    const loss = (x: tf.Tensor, y: tf.Tensor, z?: tf.Tensor) => tf.sum(tf.square(apply(c, op, x, y, z)));
    const gs = tf.grads(loss as (...args: tf.Tensor[]) => tf.Tensor)(bias ? [a, b, bias] : [a, b]);
    return tf.concat(gs.map((g) => g.flatten())).dataSync() as Float32Array;
  });
}

// Rank 2 only (as Dense layers run it): with batch > 1 the stock _FusedMatMul the wrappers end in takes its
// scalar loop, which gets bias and relu wrong (see below), flags or not. K = 67 and 54 cover relu with K > 48.
const FUSED = withFlags([], [], [r0, r3, [1, r1[1]!, r1[2]!], [r3[0]!, 1, r3[2]!], [r2[0]!, r2[1]!, 1]], 500);
const PLAIN = [...Object.values(CASES).flat(), ...FUSED].filter((c) => !c.transposeA && !c.transposeB);
// Batched fused products, K = 60 > 48: the stock kernel gets bias and relu wrong even without flags.
const FUSED_BATCHED = [...withFlags([3], [3], [[7, 60, 9]], 700), ...withFlags([1], [3], [[5, 4, 6]], 800)];

describe('wasm matmul kernels', function () {
  let previous = '';

  before(async function () {
    previous = tf.getBackend();
    try {
      await initBackend('wasm'); // registers the wrappers, also when the suite started on cpu
    } catch {
      this.skip();
    }
  });

  afterEach(async function () {
    await tf.setBackend(previous);
  });

  it('registers once, keeping the stock kernels inside the wrappers', async function () {
    await tf.setBackend('wasm');
    type Kernel = (tf.KernelFunc & { stock?: tf.KernelFunc }) | undefined;
    const kernel = (name: 'BatchMatMul' | '_FusedMatMul') => tf.getKernel(name, 'wasm')?.kernelFunc as Kernel;
    const before = [kernel('BatchMatMul'), kernel('_FusedMatMul')];
    expect(registerWasmMatMul()).to.equal(false);
    for (const [i, name] of (['BatchMatMul', '_FusedMatMul'] as const).entries()) {
      const k = kernel(name);
      expect(k, name).to.equal(before[i]);
      expect(k?.stock, name).to.be.a('function');
      expect(k?.stock, name).to.not.have.property('stock');
      expect(stockWasmMatMul(name), name).to.equal(k?.stock);
    }
  });

  for (const [group, cases] of Object.entries(CASES)) {
    it(`matches the stock wasm kernel and cpu for ${group} products, all transpose flags`, async function () {
      const cpu = await onBackend('cpu', () => cases.map((c) => viaEngine(c, 'matMul')));
      await tf.setBackend('wasm');
      cases.forEach((c, i) => {
        const ours = viaEngine(c, 'matMul');
        expect(relError(ours, viaStock(c, 'matMul')), `vs stock: ${c.label}`).to.be.at.most(1e-5);
        expect(relError(ours, cpu[i]!), `vs cpu: ${c.label}`).to.be.at.most(1e-5);
      });
    });
  }

  // Both branches of the wrapper (transpose the flagged operands, or compute Cᵀ) must be exercised.
  it('covers both transposition strategies of BatchMatMul', function () {
    const strategies = new Set(
      Object.values(CASES)
        .flat()
        .filter((c) => c.transposeA || c.transposeB)
        .map((c) => {
          const batch = Math.max(size(c.a.slice(0, -2)), size(c.b.slice(0, -2)));
          const m = c.transposeA ? c.a.at(-1)! : c.a.at(-2)!;
          const direct = (c.transposeA ? size(c.a) : 0) + (c.transposeB ? size(c.b) : 0);
          return direct <= (c.transposeA ? 0 : size(c.a)) + (c.transposeB ? 0 : size(c.b)) + batch * m * c.n;
        }),
    );
    expect([...strategies].sort()).to.deep.equal([false, true]);
  });

  // With a flag set the stock _FusedMatMul runs a scalar loop that adds bias[min(i·N + j, N - 1)] (so row i > 0
  // gets the wrong bias) and clamps each 48-wide partial sum over K for relu: it is only a reference without bias
  // and activation. Here cpu is the reference for bias + relu; the wrappers take XNNPACK, which gets it right.
  it('matches cpu for batched fused matmul + bias + relu, where the stock kernel does not', async function () {
    const cpu = await onBackend('cpu', () => FUSED_BATCHED.map((c) => viaEngine(c, 'fused relu')));
    await tf.setBackend('wasm');
    FUSED_BATCHED.forEach((c, i) =>
      expect(relError(viaEngine(c, 'fused relu'), cpu[i]!), `relu vs cpu: ${c.label}`).to.be.at.most(1e-5),
    );
    const stockError = relError(viaStock(FUSED_BATCHED[0]!, 'fused relu'), cpu[0]!);
    expect(stockError, 'the stock kernel still has the bias bug this works around').to.be.above(1e-3);
  });

  it('matches cpu for fused matmul + bias + relu, and the stock kernel and cpu for linear without bias', async function () {
    const cpu = await onBackend('cpu', () =>
      FUSED.map((c) => [viaEngine(c, 'fused relu'), viaEngine(c, 'fused linear')] as const),
    );
    await tf.setBackend('wasm');
    FUSED.forEach((c, i) => {
      const [relu, linear] = [viaEngine(c, 'fused relu'), viaEngine(c, 'fused linear')];
      expect(relError(relu, cpu[i]![0]), `relu vs cpu: ${c.label}`).to.be.at.most(1e-5);
      expect(relError(linear, cpu[i]![1]), `linear vs cpu: ${c.label}`).to.be.at.most(1e-5);
      expect(relError(linear, viaStock(c, 'fused linear')), `linear vs stock: ${c.label}`).to.be.at.most(1e-5);
    });
  });

  it('gives bit-identical results to the stock kernel without transpose flags', async function () {
    await tf.setBackend('wasm');
    for (const c of PLAIN) {
      for (const op of FUSED.includes(c) ? (['fused relu', 'fused linear'] as const) : (['matMul'] as const)) {
        expect(sameBits(viaEngine(c, op), viaStock(c, op)), `${op}: ${c.label}`).to.equal(true);
      }
    }
  });

  // No broadcast: tfjs-core's BatchMatMul gradient does not sum over broadcast batch dims (fails on cpu too).
  // Under a tape tf.fused.matMul runs relu unfused (BatchMatMul + Add + Relu) but linear fused: test both,
  // linear on the first two fused shapes only. 2-D matMul: one random shape, then the size-1 and strategy ones.
  const GRADS = [
    ...[...withFlags([], [], [r0, ...twoD.slice(4)], 700), ...CASES['batched 3-D']].map((c) => ['matMul', c] as const),
    ...FUSED.flatMap((c, i) =>
      i < 8
        ? ([
            ['fused relu', c],
            ['fused linear', c],
          ] as const)
        : ([['fused relu', c]] as const),
    ),
  ];

  it('matches cpu gradients of matMul and fused matMul for all transpose flags', async function () {
    const run = () => GRADS.map(([op, c]) => gradients(c, op));
    const cpu = await onBackend('cpu', run);
    const wasm = await onBackend('wasm', run);
    wasm.forEach((g, i) => expect(relError(g, cpu[i]!), `${GRADS[i]![0]}: ${GRADS[i]![1].label}`).to.be.at.most(1e-5));
  });

  it('matches cpu gradients of a Dense 784→64 relu →10 softmax model', async function () {
    const init = (seed: number) => ({
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
      biasInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: seed + 1 }),
    });
    const grads = () => {
      const model = tf.sequential({
        layers: [
          tf.layers.dense({ inputShape: [784], units: 64, activation: 'relu', ...init(1) }),
          tf.layers.dense({ units: 10, activation: 'softmax', ...init(3) }),
        ],
      });
      const out = tf.tidy(() => {
        const xs = tf.tensor2d(randomValues(32 * 784, 7), [32, 784]).abs();
        const ys = tf.oneHot(
          tf.tensor1d(
            Array.from(randomValues(32, 8), (v) => Math.floor((v + 1) * 5)),
            'int32',
          ),
          10,
        );
        const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
        const loss = () => tf.mean(tf.metrics.categoricalCrossentropy(ys, model.apply(xs) as tf.Tensor)) as tf.Scalar;
        const { value, grads } = tf.variableGrads(loss, vars);
        const read = (t: tf.Tensor) => t.dataSync() as Float32Array;
        return { weights: vars.map(read), loss: value.dataSync()[0]!, grads: vars.map((v) => read(grads[v.name]!)) };
      });
      model.dispose();
      return out;
    };
    const cpu = await onBackend('cpu', grads);
    const wasm = await onBackend('wasm', grads);
    wasm.weights.forEach((w, i) => expect(sameBits(w, cpu.weights[i]!), `initial weight ${i}`).to.equal(true));
    expect(wasm.loss).to.be.closeTo(cpu.loss, 1e-5 * cpu.loss);
    wasm.grads.forEach((g, i) => expect(relError(g, cpu.grads[i]!), `grad of weight ${i}`).to.be.at.most(1e-5));
  });

  it('leaks no tensors and no wasm buffers, forward and backward', async function () {
    await tf.setBackend('wasm');
    const tensors = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds();
    for (const c of Object.values(CASES).flat()) viaEngine(c, 'matMul');
    // Every third case: all flag combinations still occur, at a third of the cost.
    for (const [op, c] of GRADS.filter((_, i) => i % 3 === 0)) {
      viaEngine(c, op);
      gradients(c, op);
    }
    expect(tf.memory().numTensors).to.equal(tensors);
    expect(tf.engine().backend.numDataIds()).to.equal(buffers);
  });
});
