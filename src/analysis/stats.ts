/**
 * Small-sample statistics for comparing runs across seeds: mean, sample standard deviation, and the
 * 95% confidence interval of the mean from Student's t-distribution (n is 2–10 seeds, so the normal
 * 1.96 would be far too narrow). With one value there is no spread, and the interval is undefined.
 */

/** A mean over n values, with its confidence interval when n >= 2. */
export interface Estimate {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1 in the denominator); undefined when n < 2. */
  std: number | undefined;
  /** Half-width of the confidence interval: mean ± half; undefined when n < 2. */
  half: number | undefined;
  /** The confidence level, e.g. 0.95. */
  level: number;
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('mean of no values');
  let sum = 0;
  for (const x of xs) sum += x;
  return sum / xs.length;
}

/** Sample standard deviation; undefined for fewer than two values. */
export function sampleStd(xs: readonly number[]): number | undefined {
  if (xs.length < 2) return undefined;
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) ** 2;
  return Math.sqrt(ss / (xs.length - 1));
}

/** The mean of `xs` with its two-sided `level` confidence interval (Student t, df = n − 1). */
export function estimate(xs: readonly number[], level = 0.95): Estimate {
  const n = xs.length;
  const std = sampleStd(xs);
  const half = std === undefined ? undefined : tQuantile(1 - (1 - level) / 2, n - 1) * (std / Math.sqrt(n));
  return { n, mean: mean(xs), std, half, level };
}

/** Differences `treatment − baseline` on the keys (seeds) both have, in key order. */
export interface PairedDifference {
  keys: number[];
  differences: number[];
  /** Undefined when no key is shared. */
  estimate: Estimate | undefined;
}

export function pairedDifference(
  treatment: ReadonlyMap<number, number>,
  baseline: ReadonlyMap<number, number>,
  level = 0.95,
): PairedDifference {
  const keys = [...treatment.keys()].filter((k) => baseline.has(k)).sort((a, b) => a - b);
  const differences = keys.map((k) => treatment.get(k)! - baseline.get(k)!);
  return { keys, differences, estimate: differences.length > 0 ? estimate(differences, level) : undefined };
}

// power

/**
 * The smallest true mean difference a paired t-test at two-sided level α detects with probability `power`,
 * from the observed spread of the paired differences: MDE = (t_{1−α/2, n−1} + t_{power, n−1}) · sd / √n
 * (the usual t approximation to the noncentral-t power equation, e.g. Cohen 1988 §2.4, Lenth 2001).
 * Undefined below two pairs (no spread).
 */
export function detectableEffect(sd: number, n: number, alpha = 0.05, power = 0.8): number | undefined {
  if (n < 2) return undefined;
  return (tQuantile(1 - alpha / 2, n - 1) + tQuantile(power, n - 1)) * (sd / Math.sqrt(n));
}

/** The fewest pairs whose detectable effect (same sd) is at most `effect`; undefined above `maxN`. */
export function pairsForEffect(sd: number, effect: number, alpha = 0.05, power = 0.8, maxN = 1000): number | undefined {
  for (let n = 2; n <= maxN; n++) if (detectableEffect(sd, n, alpha, power)! <= effect) return n;
  return undefined;
}

/** Two-sided p-value of the paired t-test that the mean difference is 0; undefined below two pairs. */
export function pairedTTestP(e: Estimate): number | undefined {
  if (e.std === undefined) return undefined;
  if (e.std === 0) return e.mean === 0 ? 1 : 0;
  const t = e.mean / (e.std / Math.sqrt(e.n));
  return 2 * (1 - tCdf(Math.abs(t), e.n - 1));
}

/**
 * Holm's step-down correction (Holm 1979): the adjusted p-values, in the input order. Sorted ascending,
 * p_(i) becomes max over j ≤ i of min(1, (m − j + 1) · p_(j)); reject where the adjusted value is ≤ α.
 */
export function holm(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[i] = running;
  });
  return adjusted;
}

// the t-distribution

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: ~15 significant digits). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x); // reflection
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const z = x - 1;
  let sum = c[0]!;
  for (let i = 1; i < c.length; i++) sum += c[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** The regularized incomplete beta function I_x(a, b), by its continued fraction (modified Lentz). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  // the continued fraction converges fast only below the mean; use the symmetry I_x(a,b) = 1 − I_{1−x}(b,a)
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x)) / a;
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let f = d;
  for (let m = 1; m <= 300; m++) {
    // even step
    let num = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    f *= d * c;
    // odd step
    num = (-(a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return front * f;
}

/** P(T <= t) for Student's t with `df` degrees of freedom. */
export function tCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5); // P(T > |t|)
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t with `df` > 0 degrees of freedom: bracket, then bisect. */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`tQuantile: p must be in (0, 1), got ${p}`);
  if (!(df > 0)) throw new RangeError(`tQuantile: df must be > 0, got ${df}`);
  if (p === 0.5) return 0;
  if (p < 0.5) return -tQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (tCdf(hi, df) < p) {
    lo = hi;
    hi *= 2;
  }
  // 200 halvings reach the float resolution of any bracket; stop as soon as it no longer shrinks
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (mid === lo || mid === hi) break;
    if (tCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
