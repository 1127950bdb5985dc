/**
 * The one place random streams are made. Everything else receives an `Rng`.
 * Streams are seedrandom's alea: fast, and the same seed gives the same sequence on every machine.
 * A stream's position is four numbers (`state()`); `restoreRng` continues from it in constant time.
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
  /** The stream's position: `restoreRng(state)` draws what this stream would draw next. */
  state(): RngState;
}

/** alea's internal state. */
export interface RngState {
  c: number;
  s0: number;
  s1: number;
  s2: number;
}

export function createRng(seed: number | string): Rng {
  return wrap(seedrandom.alea(String(seed), { state: true }));
}

/** A stream that continues exactly where the one whose `state()` this is stood. */
export function restoreRng(state: RngState): Rng {
  if (!isRngState(state)) throw new Error(`not a random stream state: ${JSON.stringify(state)}`);
  return wrap(seedrandom.alea('', { state: { ...state } }));
}

export function isRngState(value: unknown): value is RngState {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return ['c', 's0', 's1', 's2'].every((k) => typeof v[k] === 'number' && Number.isFinite(v[k]));
}

function wrap(prng: seedrandom.StatefulPRNG<seedrandom.State.Alea>): Rng {
  const rng: Rng = {
    next: () => prng(),
    int: (n) => Math.floor(prng() * n),
    normal: () => {
      const u = 1 - prng(); // in (0, 1], so log is finite
      const v = prng();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    seed: () => prng.int32() >>> 0,
    fork: () => createRng(rng.seed()),
    state: () => ({ ...prng.state() }),
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
