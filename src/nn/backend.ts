/**
 * Backend selection at start-up: tensorflow (tfjs-node, when it loads) → wasm → cpu.
 * tfjs-node downloads libtensorflow in its install script, which fails offline, so it is optional:
 * npm drops it and we fall through to wasm (SIMD, ~6× faster than cpu for an MLP here).
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { ConfigError } from '../core/errors.js';
import { registerWasmConvGrad, wasmBinaryDir } from './wasm-conv-grad.js';
import { registerWasmConvInputGrad } from './wasm-conv-input-grad.js';
import { registerWasmMatMul } from './wasm-matmul.js';

export const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];
export type BackendName = Exclude<BackendChoice, 'auto'>;

/** The environment variable that forces a backend when no --backend is given. */
export const BACKEND_ENV_VAR = 'DROPTUNE_BACKEND';

/**
 * tfjs's cpu backend greets its first tensor in Node with "Hi, looks like you are running TensorFlow.js
 * in Node.js…", advice to install tfjs-node that droptune has already weighed (see the header). Its
 * only switches are the IS_TEST and PROD flags, which would silence every tfjs warning, so instead this
 * clears the backend's own `firstUse` mark, the one thing the greeting checks. Called on import and
 * whenever the cpu backend is chosen (a new instance after tf.removeBackend greets again).
 */
export function silenceNodeBanner(): void {
  const cpu = tf.findBackend('cpu') as { firstUse?: boolean } | null;
  if (cpu !== null && typeof cpu.firstUse === 'boolean') cpu.firstUse = false;
}
silenceNodeBanner();

/** Why each backend could not be used, filled in as we try them. */
const unavailable = new Map<BackendName, string>();

async function tryTensorflow(): Promise<boolean> {
  try {
    // A variable specifier keeps tsc from requiring the optional package at type-check time.
    const name = '@tensorflow/tfjs-node';
    await import(name);
    return await tf.setBackend('tensorflow');
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    unavailable.set('tensorflow', `@tensorflow/tfjs-node did not load (${reason})`);
    return false;
  }
}

/**
 * droptune's kernels for the wasm backend: the conv filter and input gradients it lacks, and matmuls
 * that avoid its slow transposed-operand path. Registering needs only the stock kernels, which
 * importing tfjs-backend-wasm registers, not a running backend: so this runs when droptune is imported,
 * and a user who picks wasm with `tf.setBackend('wasm')` gets them too. Safe to call again.
 */
export function registerWasmKernels(): void {
  registerWasmConvGrad();
  registerWasmMatMul();
  registerWasmConvInputGrad();
}

registerWasmKernels();

/**
 * Importing tfjs-backend-wasm registers wasm at priority 2, above cpu (1) and level with webgl, so plain
 * tfjs code in a program that imports droptune would pick wasm, which must be awaited (and, in Node, told
 * where its binaries are): `The highest priority backend 'wasm' has not yet been initialized`. droptune
 * chooses wasm itself (initBackend) and leaves tfjs's own choice as it was: wasm drops below every other
 * backend, so plain tfjs gets cpu in Node and webgl in a browser, as without droptune.
 */
export const WASM_PRIORITY = 0;
function lowerWasmPriority(): void {
  const factory = tf.findBackendFactory('wasm');
  // Already started (its instance exists) means the user chose it: leave it be.
  if (factory === null || wasmStarted()) return;
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', factory, WASM_PRIORITY);
}
function wasmStarted(): boolean {
  return (tf.engine() as unknown as { registry: Record<string, unknown> }).registry['wasm'] !== undefined;
}
lowerWasmPriority();

async function tryWasm(): Promise<boolean> {
  try {
    setWasmPaths(wasmBinaryDir());
    const before = {
      uncaughtException: process.listeners('uncaughtException'),
      unhandledRejection: process.listeners('unhandledRejection'),
    };
    if (!(await tf.setBackend('wasm'))) throw new Error('setBackend returned false');
    // The emscripten module re-throws every uncaught error from a handler of its own, which makes Node
    // print the offending line: 40 KB of minified source. Without it the process's own handling applies.
    for (const listener of process.listeners('uncaughtException'))
      if (!before.uncaughtException.includes(listener)) process.removeListener('uncaughtException', listener);
    for (const listener of process.listeners('unhandledRejection'))
      if (!before.unhandledRejection.includes(listener)) process.removeListener('unhandledRejection', listener);
    registerWasmKernels();
    return true;
  } catch (err) {
    unavailable.set('wasm', err instanceof Error ? err.message.split('\n')[0]! : String(err));
    return false;
  }
}

async function trySet(name: BackendName): Promise<boolean> {
  if (tf.getBackend() === name) return true;
  if (name === 'tensorflow') return tryTensorflow();
  if (name === 'wasm') return tryWasm();
  silenceNodeBanner();
  return tf.setBackend('cpu');
}

/** Reads --backend / DROPTUNE_BACKEND; `auto` when neither is set. */
export function requestedBackend(option?: string): BackendChoice {
  const value = option ?? process.env[BACKEND_ENV_VAR] ?? 'auto';
  if (!(BACKENDS as readonly string[]).includes(value)) {
    const from = option !== undefined ? '--backend' : BACKEND_ENV_VAR;
    throw new ConfigError(`${from} must be one of ${BACKENDS.join(', ')}, got '${value}'`);
  }
  return value as BackendChoice;
}

/**
 * Switches tfjs to the requested backend and returns the one in use.
 * A forced backend that cannot be used is a ConfigError saying why and what is available.
 */
export async function initBackend(choice: BackendChoice = 'auto'): Promise<BackendName> {
  const order: BackendName[] = choice === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [choice];
  for (const name of order) {
    if (await trySet(name)) {
      await tf.ready();
      return name;
    }
  }
  const available = await availableBackends();
  throw new ConfigError(
    `--backend ${choice} is not available: ${unavailable.get(choice as BackendName) ?? 'it failed to start'}; available: ${available.join(', ')}`,
  );
}

/** Backends that start on this machine (tries each; leaves the current one selected). */
export async function availableBackends(): Promise<BackendName[]> {
  const current = tf.getBackend() as BackendName | undefined;
  const found: BackendName[] = [];
  for (const name of ['tensorflow', 'wasm', 'cpu'] as const) {
    if (!unavailable.has(name) && (await trySet(name))) found.push(name);
  }
  if (current) await trySet(current);
  return found;
}
