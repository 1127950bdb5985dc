/**
 * Where a training step's time goes, per tfjs kernel: `tf.profile` around one call, summed by kernel
 * name. What the kernels do not account for (op dispatch, tape bookkeeping, JS work between kernels) is
 * the wall time minus their sum, reported as its own row.
 */
import * as tf from '@tensorflow/tfjs';

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
  const started = performance.now();
  const info = await tf.profile(fn as () => Promise<tf.TensorContainer>);
  const wallMs = performance.now() - started;
  const byName = new Map<string, KernelRow>();
  for (const k of info.kernels) {
    const row = byName.get(k.name) ?? { kernel: k.name, calls: 0, ms: 0 };
    row.calls += 1;
    row.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    byName.set(k.name, row);
  }
  const kernels = [...byName.values()].sort((a, b) => b.ms - a.ms);
  return { wallMs, kernels, kernelMs: kernels.reduce((s, r) => s + r.ms, 0), calls: info.kernels.length };
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
