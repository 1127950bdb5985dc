/**
 * Where a training step's time goes, per tfjs kernel: `tf.profile` around one call, summed by kernel
 * name. Kernels called without the engine (mlpBatch's, src/nn/mlp-step.ts) and the wasm Adam pass are
 * timed by `kernelTimer` while a profile runs. What the kernels do not account for (op dispatch, tape
 * bookkeeping, JS work between kernels) is the wall time minus their sum, reported as its own row.
 */
import * as tf from '@tensorflow/tfjs';

/** Set while profileKernels runs: code that calls kernels directly reports each call here. */
export const kernelTimer: { record: ((kernel: string, ms: number) => void) | null } = { record: null };

export interface KernelRow {
  kernel: string;
  calls: number;
  ms: number;
}

export interface StepProfile {
  wallMs: number;
  /** Sorted by time, largest first. */
  kernels: KernelRow[];
  kernelMs: number;
  calls: number;
}

export async function profileKernels(fn: () => Promise<unknown>): Promise<StepProfile> {
  const byName = new Map<string, KernelRow>();
  let calls = 0;
  const add = (kernel: string, ms: number) => {
    const row = byName.get(kernel) ?? { kernel, calls: 0, ms: 0 };
    row.calls += 1;
    row.ms += ms;
    byName.set(kernel, row);
    calls += 1;
  };
  kernelTimer.record = add;
  const started = performance.now();
  try {
    const info = await tf.profile(fn as () => Promise<tf.TensorContainer>);
    for (const k of info.kernels) add(k.name, typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0);
  } finally {
    kernelTimer.record = null;
  }
  const wallMs = performance.now() - started;
  const kernels = [...byName.values()].sort((a, b) => b.ms - a.ms);
  return { wallMs, kernels, kernelMs: kernels.reduce((s, r) => s + r.ms, 0), calls };
}

/** A printable table: the top `top` kernels, the rest summed, and the time outside kernels. */
export function profileTable(p: StepProfile, top = 15): string[][] {
  const rows: string[][] = [['kernel', 'calls', 'ms', 'share']];
  const pct = (ms: number) => `${((100 * ms) / p.wallMs).toFixed(1)}%`;
  for (const r of p.kernels.slice(0, top)) rows.push([r.kernel, String(r.calls), r.ms.toFixed(1), pct(r.ms)]);
  const rest = p.kernels.slice(top);
  if (rest.length > 0) {
    const ms = rest.reduce((s, r) => s + r.ms, 0);
    rows.push([
      `(${rest.length} other kernels)`,
      String(rest.reduce((s, r) => s + r.calls, 0)),
      ms.toFixed(1),
      pct(ms),
    ]);
  }
  rows.push(['(outside kernels: dispatch, JS)', '', (p.wallMs - p.kernelMs).toFixed(1), pct(p.wallMs - p.kernelMs)]);
  rows.push(['total', String(p.calls), p.wallMs.toFixed(1), '100%']);
  return rows;
}
