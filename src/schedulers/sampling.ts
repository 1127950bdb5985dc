/** Space-filling draws the schedulers start their trials from. */
import { permutation, type Rng } from '../core/rng.js';

const round = (r: number) => Math.round(r * 1e4) / 1e4;

/**
 * n points of `dims` coordinates in [lo, hi], a Latin hypercube: on every coordinate the n values fall
 * one in each of n equal strata, in an order of its own (McKay et al. 1979). Rounded to 4 decimals.
 */
export function latinHypercube(n: number, dims: number, lo: number, hi: number, rng: Rng): number[][] {
  const strata = Array.from({ length: dims }, () => permutation(n, rng));
  return Array.from({ length: n }, (_, i) =>
    strata.map((order) => round(lo + ((hi - lo) * (order[i]! + rng.next())) / n)),
  );
}
