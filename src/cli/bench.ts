/**
 * `npm run bench`: how fast droptune trains, in one process, in figures (never asserted by tests).
 *
 *   matmul   wasm tf.matMul GFLOP/s of the MLP's three products, plain and with a transpose flag, with
 *            tfjs-backend-wasm's stock kernel and with droptune's (src/nn/wasm-matmul.ts).
 *   epoch    seconds per epoch: plain tfjs model.fit (stock layers) vs DropoutEnv's full step (train
 *            epoch + validation + statistics), for the MLP on 5,000 MNIST digits and the CNN on 5,000
 *            Fashion-MNIST images, per backend.
 *   torch    the same MLP step in PyTorch on one thread (src/cli/torch-reference.py, Debian's
 *            python3-torch; skipped when it is not installed), and the env step's ratio to it.
 *   agent    the user's path: `npm run agent` on the same MLP and data (a process of its own, 4 epochs), its
 *            median stepMs against this run's env step.
 *   workers  episodes per minute of a small fixed experiment with 1 and with N workers, by executor
 *            (threads, processes); and the quick preset's grid and ucb (2 seeds) end to end, start-up included.
 *   population  a 6-member PopulationTrainer epoch vs one member's epoch (src/nn/population-bench.ts).
 *   --profile  instead of all that: where one env step spends its time, per kernel.
 *
 * Each epoch figure is the median over --epochs timed epochs after one untimed warm-up. The cpu
 * backend is slow enough on the CNN that it is timed on --cpu-cnn-samples images and scaled (printed).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { DropoutEnv } from '../../envs/dropout-env.js';
import { checkInt } from '../core/check.js';
import { ConfigError } from '../core/errors.js';
import { packageRoot } from '../core/package-root.js';
import { flagOf, type OptionSpec } from '../core/options.js';
import { loadDataset, type Dataset } from '../data/dataset.js';
import { availableBackends, initBackend, type BackendName } from '../nn/backend.js';
import { profileKernels, profileTable } from '../nn/profile.js';
import { stockWasmMatMul } from '../nn/wasm-matmul.js';
import { populationVsSingle } from '../nn/population-bench.js';
import { episodesPerMinute } from '../execution/throughput.js';
import { DEFAULT_EXECUTOR, DEFAULT_WORKERS, EXECUTORS, type ExecutorKind } from '../execution/executor.js';
import { createExecutor } from '../execution/create-executor.js';
import { planExperiment, runExperiment } from '../experiment/experiment.js';
import { helpText, parseArgs } from './args.js';
import { runCli } from './run-cli.js';
import { howToRun } from './command-name.js';

const SECTIONS = ['matmul', 'epoch', 'torch', 'agent', 'workers', 'population'] as const;
/** Debian's python3-torch is installed for the system python, not for a pyenv python3 on PATH. */
const TORCH_PYTHONS = ['/usr/bin/python3', 'python3'];
// Shipped as source beside the compiled code: found from the package root, not from this file.
const TORCH_SCRIPT = path.join(packageRoot(), 'src', 'cli', 'torch-reference.py');

const OPTIONS: OptionSpec[] = [
  {
    key: 'sections',
    flag: flagOf('sections'),
    type: 'string',
    default: SECTIONS.join(','),
    help: `comma-separated subset of ${SECTIONS.join(', ')}`,
  },
  {
    key: 'epochs',
    flag: flagOf('epochs'),
    type: 'int',
    default: 3,
    help: 'timed epochs per measurement (after one warm-up)',
  },
  {
    key: 'backends',
    flag: flagOf('backends'),
    type: 'string',
    default: 'all',
    help: "comma-separated backends for the epoch section, or 'all' that start",
  },
  { key: 'cnn', flag: flagOf('cnn'), type: 'boolean', default: true, help: 'also time the CNN on Fashion-MNIST' },
  {
    key: 'cpuCnnSamples',
    flag: flagOf('cpuCnnSamples'),
    type: 'int',
    default: 500,
    help: 'images the cpu CNN epoch is timed on',
  },
  {
    key: 'workers',
    flag: flagOf('workers'),
    type: 'int',
    default: DEFAULT_WORKERS,
    help: 'N for the workers section (default: the number of cores)',
  },
  {
    key: 'dataDir',
    flag: flagOf('dataDir'),
    type: 'string',
    default: '/usr/share/datasets/fashion-mnist',
    help: 'folder of the fashion-mnist IDX files',
  },
  {
    key: 'profile',
    flag: flagOf('profile'),
    type: 'boolean',
    default: false,
    help: 'print where one env step spends its time, per kernel, and stop',
  },
];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows)
    console.log(
      r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    );
}

/** Times `epoch` once untimed, then `n` times; seconds per epoch (median). */
async function timeEpochs(n: number, epoch: () => Promise<void>): Promise<number> {
  await epoch();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await epoch();
    times.push((performance.now() - t) / 1000);
  }
  return median(times);
}

// matmul

/** GFLOP/s of one wasm BatchMatMul kernel on op(A)·op(B) = [m×k]·[k×n], called directly (no engine overhead). */
function matMulGflops(
  kernel: tf.KernelConfig['kernelFunc'],
  m: number,
  k: number,
  n: number,
  transposeA: boolean,
  transposeB: boolean,
): number {
  const a = tf.randomNormal([1, ...(transposeA ? [k, m] : [m, k])], 0, 1, 'float32', 1);
  const b = tf.randomNormal([1, ...(transposeB ? [n, k] : [k, n])], 0, 1, 'float32', 2);
  const backend = tf.backend();
  const call = () => {
    const out = kernel({ inputs: { a, b }, backend, attrs: { transposeA, transposeB } }) as tf.TensorInfo;
    backend.disposeData(out.dataId);
  };
  call();
  // Best of 7 rounds of 5 calls: the least disturbed by whatever else the machine runs.
  let best = Infinity;
  for (let r = 0; r < 7; r++) {
    const t = performance.now();
    for (let i = 0; i < 5; i++) call();
    best = Math.min(best, (performance.now() - t) / 5 / 1000);
  }
  tf.dispose([a, b]);
  return (2 * m * k * n) / best / 1e9;
}

async function matmulSection(): Promise<void> {
  await initBackend('wasm');
  const stock = stockWasmMatMul('BatchMatMul');
  const ours = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
  const rows = [
    ['product m×k×n (role in the MLP)', 'flags', 'stock GFLOP/s', 'droptune GFLOP/s', 'droptune vs plain, same size'],
  ];
  const products: [string, number, number, number, boolean, boolean][] = [
    ['64×256×784  (dy·W1ᵀ-sized)', 64, 256, 784, false, true],
    ['784×64×256  (dW1 = xᵀ·dy)', 784, 64, 256, true, false],
    ['64×128×256  (dx2 = dy·W2ᵀ)', 64, 128, 256, false, true],
    ['256×64×128  (dW2 = hᵀ·dy)', 256, 64, 128, true, false],
    ['64×256×784  (both flags)', 64, 256, 784, true, true],
  ];
  for (const [label, m, k, n, ta, tb] of products) {
    const plain = matMulGflops(ours, m, k, n, false, false);
    const s = matMulGflops(stock, m, k, n, ta, tb);
    const d = matMulGflops(ours, m, k, n, ta, tb);
    const flags = ta && tb ? 'transposeA+B' : ta ? 'transposeA' : 'transposeB';
    rows.push([label, 'none', plain.toFixed(1), plain.toFixed(1), '']);
    rows.push([
      '',
      flags,
      s.toFixed(1),
      d.toFixed(1),
      `${(d / plain).toFixed(2)}× (stock ${(s / plain).toFixed(2)}×; target ≥ 0.50×)`,
    ]);
  }
  console.log('\nwasm matmul kernels (one call, inputs reused; best of 7 rounds of 5 calls)');
  printTable(rows);
}

// epoch

/** Plain tfjs: the same MLP with the stock Dropout layer, one model.fit epoch at a time. */
async function plainFitSecondsPerEpoch(data: Dataset, epochs: number): Promise<number> {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 256, activation: 'relu' }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 128, activation: 'relu' }),
      tf.layers.dropout({ rate: 0.3 }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const x = tf.tensor2d(data.train.x, [data.train.n, 784]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(data.train.y, 'int32'), 10).toFloat());
  const seconds = await timeEpochs(epochs, async () => {
    await model.fit(x, y, { epochs: 1, batchSize: 64, shuffle: true, verbose: 0 });
  });
  tf.dispose([x, y]);
  model.dispose();
  return seconds;
}

/** DropoutEnv's full step: train epoch + validation evaluation + observation statistics. */
async function envStepSeconds(data: Dataset, model: string, rates: number[], epochs: number): Promise<number> {
  const env = new DropoutEnv(data, { model, initialRates: rates, maxEpochs: epochs + 1, batchSize: 64, lr: 0.001 });
  await env.reset({ seed: 0 });
  const keep = Array<number>(rates.length).fill(1);
  const seconds = await timeEpochs(epochs, async () => {
    await env.step(keep);
  });
  env.dispose();
  return seconds;
}

async function epochSection(
  backends: BackendName[],
  mnist: Dataset,
  fashion: Dataset | undefined,
  epochs: number,
  cpuCnnSamples: number,
): Promise<number | undefined> {
  const rows: string[][] = [['backend', 'what', 's/epoch', 'samples/s', 'note']];
  let wasmStep: number | undefined;
  for (const backend of backends) {
    await initBackend(backend);
    const fit = await plainFitSecondsPerEpoch(mnist, epochs);
    const step = await envStepSeconds(mnist, 'mlp:256,128', [0.5, 0.3], epochs);
    if (backend === 'wasm') wasmStep = step;
    rows.push([backend, 'mlp  model.fit (stock layers, tf.train.adam)', fit.toFixed(2), (5000 / fit).toFixed(0), '']);
    rows.push([
      backend,
      'mlp  DropoutEnv step',
      step.toFixed(2),
      (5000 / step).toFixed(0),
      `${(step / fit).toFixed(2)}× model.fit`,
    ]);
    if (fashion) {
      const samples = backend === 'cpu' ? cpuCnnSamples : 5000;
      const subset: Dataset =
        samples === 5000
          ? fashion
          : {
              ...fashion,
              train: {
                x: fashion.train.x.subarray(0, samples * 784),
                y: fashion.train.y.subarray(0, samples),
                n: samples,
              },
            };
      const seconds =
        (await envStepSeconds(subset, 'cnn:16,32/64', [0.1, 0.1, 0.3], backend === 'cpu' ? 1 : epochs)) *
        (5000 / samples);
      rows.push([
        backend,
        'cnn  DropoutEnv step (fashion)',
        seconds.toFixed(2),
        (5000 / seconds).toFixed(0),
        samples === 5000 ? '' : `timed on ${samples} images, scaled to 5,000`,
      ]);
    }
  }
  console.log('\nseconds per epoch (5,000 training samples, batch 64, Adam; validation on 1,000)');
  printTable(rows);
  return wasmStep;
}

// torch

/** The first python that imports torch: Debian's system python3 where python3-torch is installed. */
function torchPython(): string | undefined {
  return TORCH_PYTHONS.find((python) => {
    try {
      execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
}

function torchSection(epochs: number, envStep: number | undefined): void {
  console.log('\nPyTorch reference (same MLP step, one thread)');
  const python = torchPython();
  if (python === undefined) {
    console.log(`  skipped: no python with torch (tried ${TORCH_PYTHONS.join(', ')}; apt-get install python3-torch)`);
    return;
  }
  let result: { torch: string; secondsPerEpoch: number };
  try {
    const out = execFileSync(python, [TORCH_SCRIPT, '--epochs', String(Math.max(3, epochs))], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    result = JSON.parse(out.trim().split('\n').pop()!) as typeof result;
  } catch (err) {
    const why = String((err as { stderr?: string }).stderr ?? (err as Error).message)
      .trim()
      .split('\n')
      .pop();
    console.log(`  skipped: the PyTorch reference did not run (${why}); it needs Debian's python3-torch`);
    return;
  }
  const rows = [
    ['what', 's/epoch', 'note'],
    [`torch ${result.torch} (1 thread, ${python})`, result.secondsPerEpoch.toFixed(3), ''],
  ];
  if (envStep !== undefined)
    rows.push([
      'droptune wasm DropoutEnv step (this run)',
      envStep.toFixed(3),
      `${(envStep / result.secondsPerEpoch).toFixed(2)}× torch (target ≤ 2×)`,
    ]);
  printTable(rows);
  console.log(
    "  (torch uses the BLAS behind libblas.so.3: install libopenblas0-serial for a fair figure; Debian's reference BLAS is ~10× slower)",
  );
}

// agent

// Where the commands are: .ts beside this file under tsx, .js in the compiled package.
const COMMAND_EXT = path.extname(fileURLToPath(import.meta.url));
const commandFile = (name: string) => fileURLToPath(new URL(`./${name}${COMMAND_EXT}`, import.meta.url));

/**
 * The user's path: `npm run agent` on the bench's MLP and data, as its own process (start-up, a cold
 * JIT and the run folder's writes included), 4 epochs; its median stepMs against this run's env step.
 */
function agentSection(envStep: number | undefined): void {
  const out = mkdtempSync(path.join(tmpdir(), 'droptune-bench-agent-'));
  const args = ['--agent', 'constant', '--rate', '0.3', '--episodes', '1', '--epochs', '4', '--dataset', 'mnist'];
  args.push('--train-size', '5000', '--val-size', '1000', '--test-size', '1000', '--model', 'mlp:256,128');
  try {
    execFileSync(
      process.execPath,
      [...process.execArgv, commandFile('agent'), ...args, '--out', path.join(out, 'run')],
      {
        stdio: 'ignore',
      },
    );
    const stepMs = readFileSync(path.join(out, 'run', 'steps.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { stepMs: number }).stepMs);
    const agentStep = median(stepMs) / 1000;
    console.log(`\nthe agent path (${howToRun('agent')} ${args.join(' ')}): stepMs by epoch`);
    printTable([
      ['what', 's/epoch', 'note'],
      ['agent, median stepMs', agentStep.toFixed(3), `epochs ${stepMs.map((ms) => (ms / 1000).toFixed(2)).join(', ')}`],
      ...(envStep === undefined
        ? []
        : [
            [
              'bench env step (this run)',
              envStep.toFixed(3),
              `agent ${(agentStep / envStep).toFixed(2)}× the bench's step (target ≤ 1.1×)`,
            ],
          ]),
    ]);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

// workers

/**
 * The quick preset's grid and ucb on 2 seeds, as `npm run experiment -- --preset quick --methods grid,ucb`
 * trains them: wall seconds from making the executor (its start-up included) to the last run's end.
 */
async function quickPresetSeconds(workers: number, kind: ExecutorKind): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'droptune-bench-quick-'));
  const started = performance.now();
  const plan = planExperiment({ preset: 'quick', methods: ['grid', 'ucb'], workers, out: path.join(dir, 'exp') });
  const executor = createExecutor(Math.min(workers, plan.tasks.length), kind);
  try {
    const result = await runExperiment(plan, { executor });
    if (result.failures.length > 0) throw new Error(`quick preset: ${result.failures.join('; ')}`);
    return (performance.now() - started) / 1000;
  } finally {
    await executor.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function workersSection(workers: number): Promise<void> {
  console.log(
    `\nepisodes per minute, ${workers} workers by executor vs 1 in this process (a small fixed experiment, see src/execution/throughput.ts; start-up excluded)`,
  );
  const one = await episodesPerMinute(1);
  const rows = [
    ['workers', 'executor', 'episodes', 'seconds', 'start-up s', 'episodes/min', 'note'],
    ['1', 'in-process', String(one.episodes), one.seconds.toFixed(1), '', one.perMinute.toFixed(1), ''],
  ];
  for (const kind of EXECUTORS) {
    const many = await episodesPerMinute(workers, kind);
    rows.push([
      String(workers),
      `${kind}${kind === DEFAULT_EXECUTOR ? ' (default)' : ''}`,
      String(many.episodes),
      many.seconds.toFixed(1),
      many.startupSeconds.toFixed(1),
      many.perMinute.toFixed(1),
      `${(many.perMinute / one.perMinute).toFixed(2)}× 1 worker (target ≥ 1.85× on 2 cores)`,
    ]);
  }
  printTable(rows);

  console.log(`\nthe quick preset, grid and ucb on 2 seeds (10 runs), wall seconds start-up included`);
  const single = await quickPresetSeconds(1, DEFAULT_EXECUTOR);
  const quick = [
    ['workers', 'executor', 'seconds', 'note'],
    ['1', 'in-process', single.toFixed(1), ''],
  ];
  for (const kind of EXECUTORS) {
    const seconds = await quickPresetSeconds(workers, kind);
    quick.push([
      String(workers),
      `${kind}${kind === DEFAULT_EXECUTOR ? ' (default)' : ''}`,
      seconds.toFixed(1),
      `${(single / seconds).toFixed(2)}× 1 worker (target ≥ 1.6× on 2 cores)`,
    ]);
  }
  printTable(quick);
}

// profile

/** One untimed step, then the per-kernel profile of the next. */
async function profileStep(title: string, data: Dataset, model: string, rates: number[]): Promise<void> {
  const env = new DropoutEnv(data, { model, initialRates: rates, maxEpochs: 3, batchSize: 64, lr: 0.001 });
  await env.reset({ seed: 0 });
  const keep = Array<number>(rates.length).fill(1);
  await env.step(keep);
  const profile = await profileKernels(() => env.step(keep));
  env.dispose();
  console.log(`\n${title}: ${(profile.wallMs / 1000).toFixed(2)} s, ${profile.calls} kernel calls`);
  printTable(profileTable(profile));
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, OPTIONS);
  if (args.help) {
    console.log(
      helpText(
        `usage: ${howToRun('bench')} [options]\n\nHow fast droptune trains: matmul kernels, epochs per backend, PyTorch reference, the agent path, workers by executor.`,
        [{ title: 'Options', specs: OPTIONS }],
      ),
    );
    return 0;
  }
  if (args.positional.length > 0) throw new ConfigError(`unexpected argument '${args.positional[0]}' (see --help)`);
  const get = (key: string) => args.values[key] ?? OPTIONS.find((o) => o.key === key)!.default;
  const epochs = checkInt('--epochs', get('epochs'), 1, 100);
  const cpuCnnSamples = checkInt('--cpu-cnn-samples', get('cpuCnnSamples'), 1, 5000);
  const workers = checkInt('--workers', get('workers'), 1, 64);
  const sections = String(get('sections')).split(',');
  for (const s of sections) {
    if (!(SECTIONS as readonly string[]).includes(s))
      throw new ConfigError(`--sections must be a comma-separated subset of ${SECTIONS.join(', ')}, got '${s}'`);
  }
  const available = await availableBackends();
  const wanted = String(get('backends')) === 'all' ? available : String(get('backends')).split(',');
  for (const b of wanted) {
    if (!available.includes(b as BackendName))
      throw new ConfigError(`--backends: '${b}' is not available here (available: ${available.join(', ')})`);
  }
  console.log(
    `node ${process.versions.node}, backends here: ${available.join(', ')}; figures from one run of this machine (noisy: compare within a run)`,
  );

  const mnist = loadDataset({ dataset: 'mnist', trainSize: 5000, valSize: 1000, testSize: 1000, seed: 0 });
  let fashion: Dataset | undefined;
  if (get('cnn') === true && (get('profile') === true || sections.includes('epoch'))) {
    try {
      fashion = loadDataset({
        dataset: 'fashion-mnist',
        trainSize: 5000,
        valSize: 1000,
        testSize: 1000,
        seed: 0,
        dataDir: String(get('dataDir')),
      });
    } catch (err) {
      console.log(`cnn: skipped (${(err as Error).message})`);
    }
  }

  if (get('profile') === true) {
    for (const backend of wanted as BackendName[]) {
      await initBackend(backend);
      await profileStep(
        `${backend}: mlp:256,128 DropoutEnv step, 5,000 mnist digits`,
        mnist,
        'mlp:256,128',
        [0.5, 0.3],
      );
      if (fashion && backend !== 'cpu')
        await profileStep(
          `${backend}: cnn:16,32/64 DropoutEnv step, 5,000 fashion-mnist images`,
          fashion,
          'cnn:16,32/64',
          [0.1, 0.1, 0.3],
        );
    }
    return 0;
  }

  if (sections.includes('matmul') && available.includes('wasm')) await matmulSection();
  let envStep: number | undefined;
  if (sections.includes('epoch'))
    envStep = await epochSection(wanted as BackendName[], mnist, fashion, epochs, cpuCnnSamples);
  if (
    (sections.includes('torch') || sections.includes('agent')) &&
    envStep === undefined &&
    available.includes('wasm')
  ) {
    await initBackend('wasm');
    envStep = await envStepSeconds(mnist, 'mlp:256,128', [0.5, 0.3], epochs);
  }
  if (sections.includes('torch')) torchSection(epochs, envStep);
  if (sections.includes('agent')) agentSection(envStep);
  if (sections.includes('workers')) await workersSection(workers);
  if (sections.includes('population') && available.includes('wasm')) await populationSection(epochs);
  return 0;
}

// population

async function populationSection(epochs: number): Promise<void> {
  await initBackend('wasm');
  const data = loadDataset({ dataset: 'mnist', trainSize: 1000, valSize: 1000, testSize: 1000, seed: 0 });
  const r = await populationVsSingle(data, { epochs });
  console.log('\n--- population: 6 members trained as one model (mlp:512,512 + input dropout, 1,000 digits, wasm) ---');
  printTable([
    ['', 'train s/epoch', 'train+val s/epoch'],
    ['one member (trainEpoch + evaluate)', r.singleTrain.toFixed(3), r.singleEpoch.toFixed(3)],
    [`${r.members} members, PopulationTrainer`, r.populationTrain.toFixed(3), r.populationEpoch.toFixed(3)],
    [
      'population vs one member',
      `${(r.populationTrain / r.singleTrain).toFixed(2)}×`,
      `${r.ratio.toFixed(2)}× (sequential: ${r.members}×; target ≤ 2.5×)`,
    ],
  ]);
  console.log('--- end population ---');
}

runCli('bench', main);
