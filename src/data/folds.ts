/** K-fold splits for cross-validated scoring (the GridSearchCV case): the test split is never folded in. */
import type { Dataset, Split } from './types.js';

/** Fold `fold` of K over train ∪ validation as the validation split, the rest as training; test untouched. */
export function foldDataset(data: Dataset, folds: number, fold: number): Dataset {
  const n = data.train.n + data.val.n;
  const x = new Float32Array(n * data.features);
  x.set(data.train.x);
  x.set(data.val.x, data.train.x.length);
  const y = new Int32Array(n);
  y.set(data.train.y);
  y.set(data.val.y, data.train.n);
  const lo = Math.floor((fold * n) / folds);
  const hi = Math.floor(((fold + 1) * n) / folds);
  const part = (ranges: [number, number][]): Split => {
    const count = ranges.reduce((s, [a, b]) => s + b - a, 0);
    const out: Split = { x: new Float32Array(count * data.features), y: new Int32Array(count), n: count };
    let at = 0;
    for (const [a, b] of ranges) {
      out.x.set(x.subarray(a * data.features, b * data.features), at * data.features);
      out.y.set(y.subarray(a, b), at);
      at += b - a;
    }
    return out;
  };
  return {
    ...data,
    train: part([
      [0, lo],
      [hi, n],
    ]),
    val: part([[lo, hi]]),
  };
}
