/** Action and observation spaces, shaped like Gymnasium's. A point in any space is a `number[]`. */
import type { Rng } from './rng.js';

export interface Space {
  readonly kind: 'box' | 'discrete' | 'multi-discrete';
  /** Length of a point of this space. */
  readonly size: number;
  contains(x: readonly number[]): boolean;
  sample(rng: Rng): number[];
}

/** A box [low_i, high_i] in R^n. */
export class Box implements Space {
  readonly kind = 'box' as const;
  readonly size: number;
  constructor(
    readonly low: readonly number[],
    readonly high: readonly number[],
  ) {
    if (low.length !== high.length) throw new Error(`Box: low has ${low.length} entries, high ${high.length}`);
    low.forEach((l, i) => {
      if (!(l <= high[i]!)) throw new Error(`Box: low[${i}] = ${l} > high[${i}] = ${high[i]}`);
    });
    this.size = low.length;
  }
  contains(x: readonly number[]): boolean {
    return x.length === this.size && x.every((v, i) => Number.isFinite(v) && v >= this.low[i]! && v <= this.high[i]!);
  }
  sample(rng: Rng): number[] {
    return this.low.map((l, i) => l + rng.next() * (this.high[i]! - l));
  }
}

/** One integer in {0, …, n-1}, as a one-entry point. */
export class Discrete implements Space {
  readonly kind = 'discrete' as const;
  readonly size = 1;
  constructor(readonly n: number) {}
  contains(x: readonly number[]): boolean {
    return x.length === 1 && Number.isInteger(x[0]) && x[0]! >= 0 && x[0]! < this.n;
  }
  sample(rng: Rng): number[] {
    return [rng.int(this.n)];
  }
}

/** One integer per entry, entry i in {0, …, nvec[i]-1}. */
export class MultiDiscrete implements Space {
  readonly kind = 'multi-discrete' as const;
  readonly size: number;
  constructor(readonly nvec: readonly number[]) {
    this.size = nvec.length;
  }
  contains(x: readonly number[]): boolean {
    return x.length === this.size && x.every((v, i) => Number.isInteger(v) && v >= 0 && v < this.nvec[i]!);
  }
  sample(rng: Rng): number[] {
    return this.nvec.map((n) => rng.int(n));
  }
}
