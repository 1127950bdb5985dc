/**
 * Class labels as a user's file or arrays hold them, turned into class indices 0..K−1.
 * The distinct labels, sorted (numerically when every one is a number, else as strings), are the
 * classes in order; so labels that are already 0..K−1 keep their values.
 */
import { ConfigError } from '../core/errors.js';

export interface ClassIndices {
  /** Class index of each label, in the order given. */
  y: Int32Array;
  /** The label of each class index, as written in the source. */
  classNames: string[];
}

const isNumber = (s: string) => s.trim() !== '' && Number.isFinite(Number(s));

/** `where` names the source in an error, e.g. `data.csv` or `y`. */
export function classIndices(labels: readonly (string | number)[], where: string): ClassIndices {
  const texts = labels.map((l) => String(l).trim());
  const numeric = texts.every(isNumber);
  // Numbers as numbers: '1', '1.0' and '01' are one class, and 10 sorts after 9.
  const keys = numeric ? texts.map((t) => String(Number(t))) : texts;
  const distinct = [...new Set(keys)];
  if (numeric) distinct.sort((a, b) => Number(a) - Number(b));
  else distinct.sort();
  if (distinct.length < 2)
    throw new ConfigError(
      `${where}: every sample has the label '${distinct[0] ?? ''}': a classifier needs at least 2 classes`,
    );
  const index = new Map(distinct.map((name, i) => [name, i]));
  return { y: Int32Array.from(keys, (k) => index.get(k)!), classNames: distinct };
}
