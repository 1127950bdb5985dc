/**
 * The one place random streams are made. Everything else receives an `Rng`.
 * Streams are seedrandom's alea: fast, and the same seed gives the same sequence on every machine.
 */
import seedrandom from 'seedrandom';

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
  /** A fresh 32-bit seed, for a tfjs op or a child stream. */
  seed(): number;
  /** An independent child stream; the parent advances by one draw. */
  fork(): Rng;
}

export function createRng(seed: number | string): Rng {
  const prng = seedrandom.alea(String(seed));
  const rng: Rng = {
    next: () => prng(),
    int: (n) => Math.floor(prng() * n),
    normal: () => {
      const u = 1 - prng(); // in (0, 1], so log is finite
      const v = prng();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    seed: () => (prng.int32() >>> 0),
    fork: () => createRng(rng.seed()),
  };
  return rng;
}

/** Fisher–Yates shuffle of 0..n-1 drawn from `rng`. */
export function permutation(n: number, rng: Rng): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = order[i]!;
    order[i] = order[j]!;
    order[j] = tmp;
  }
  return order;
}
