/**
 * Series too long to draw, cut down as they stream in. TensorBoard keeps a reservoir sample per tag
 * (10,000 scalars by default, always keeping the last); a uniform random sample drops the spikes that
 * matter here (a diverging episode, a rate at its bound), so this keeps instead, deterministically, the
 * first and last items and, for each of a series' keys, the lowest and highest item of every bucket of
 * consecutive items. Buckets start one item wide and double (neighbours merge) whenever what is kept
 * outweighs the cap, so the stream's length need not be known: the memory stays O(cap), and an item
 * with a series' extreme value always survives, since a merge keeps the extremes of both halves.
 */

export interface DownsampleOptions<T> {
  /** The most weight kept (weight 1 each by default: the most items). */
  cap: number;
  /** The values whose lowest and highest item each bucket keeps; NaN values are never picked. */
  keys: readonly ((item: T) => number)[];
  /** What an item costs against the cap (the points of an episode's line). @default 1 */
  weight?: (item: T) => number;
  /** Items always kept (the best episode); their weight counts against the cap. */
  pinned?: (item: T) => boolean;
}

interface Kept<T> {
  index: number;
  item: T;
}

interface Bucket<T> {
  /** The first index it covers: buckets cover [start, start + width). */
  start: number;
  /** Per key: the lowest and highest item, or undefined while every value seen was NaN. */
  low: (Kept<T> | undefined)[];
  high: (Kept<T> | undefined)[];
  /** The first item, kept while no key has a finite value (a bucket is never empty). */
  first: Kept<T>;
  weight: number;
}

export class Downsampler<T> {
  private readonly opts: Required<Omit<DownsampleOptions<T>, 'pinned'>> & Pick<DownsampleOptions<T>, 'pinned'>;
  private width = 1;
  private readonly buckets: Bucket<T>[] = [];
  private bucketsWeight = 0;
  private first: Kept<T> | undefined;
  private last: Kept<T> | undefined;
  private readonly pins: Kept<T>[] = [];
  private pinnedWeight = 0;
  /** Items pushed so far. */
  seen = 0;

  constructor(opts: DownsampleOptions<T>) {
    if (!(opts.cap >= 1)) throw new RangeError(`a downsampling cap must be at least 1, got ${opts.cap}`);
    this.opts = { weight: () => 1, ...opts };
  }

  push(item: T): void {
    const kept = { index: this.seen++, item };
    if (this.opts.pinned?.(item) === true) {
      this.pins.push(kept);
      this.pinnedWeight += this.opts.weight(item);
    } else if (this.first === undefined) {
      this.first = kept;
    } else {
      // the previous last item goes into its bucket; the new one waits as the last
      if (this.last !== undefined) this.add(this.last);
      this.last = kept;
    }
    while (this.buckets.length > 1 && this.overweight()) this.merge();
  }

  /** Whether fewer items are kept than were pushed. */
  get downsampled(): boolean {
    return this.result().length < this.seen;
  }

  /** What is kept, in the order it was pushed. */
  result(): T[] {
    const all: Kept<T>[] = [];
    if (this.first !== undefined) all.push(this.first);
    for (const b of this.buckets) all.push(...bucketItems(b));
    if (this.last !== undefined) all.push(this.last);
    all.push(...this.pins);
    all.sort(byIndex);
    const items: T[] = [];
    for (let i = 0; i < all.length; i++) if (i === 0 || all[i]!.index !== all[i - 1]!.index) items.push(all[i]!.item);
    return items;
  }

  private overweight(): boolean {
    const { weight, cap } = this.opts;
    const ends =
      (this.first === undefined ? 0 : weight(this.first.item)) + (this.last === undefined ? 0 : weight(this.last.item));
    return ends + this.pinnedWeight + this.bucketsWeight > cap;
  }

  private add(kept: Kept<T>): void {
    const start = kept.index - (kept.index % this.width);
    const keys = this.opts.keys;
    let bucket = this.buckets.at(-1);
    if (bucket === undefined || bucket.start !== start) {
      bucket = { start, low: new Array(keys.length), high: new Array(keys.length), first: kept, weight: 0 };
      this.buckets.push(bucket);
    }
    let changed = bucket.weight === 0;
    for (let k = 0; k < keys.length; k++) {
      const value = keys[k]!(kept.item);
      if (Number.isNaN(value)) continue;
      const low = bucket.low[k];
      const high = bucket.high[k];
      // strict comparisons: on a tie the earlier item stays
      if (low === undefined || value < keys[k]!(low.item)) {
        bucket.low[k] = kept;
        changed = true;
      }
      if (high === undefined || value > keys[k]!(high.item)) {
        bucket.high[k] = kept;
        changed = true;
      }
    }
    if (!changed) return;
    this.bucketsWeight -= bucket.weight;
    bucket.weight = this.weightOf(bucket);
    this.bucketsWeight += bucket.weight;
  }

  /** Doubles the bucket width: each pair of neighbours becomes one bucket keeping the extremes of both. */
  private merge(): void {
    this.width *= 2;
    const keys = this.opts.keys;
    const merged: Bucket<T>[] = [];
    for (const b of this.buckets) {
      const start = b.start - (b.start % this.width);
      const into = merged.at(-1);
      if (into === undefined || into.start !== start) {
        merged.push({ ...b, start, low: [...b.low], high: [...b.high] });
        continue;
      }
      for (let k = 0; k < keys.length; k++) {
        const key = keys[k]!;
        const [low, otherLow] = [into.low[k], b.low[k]];
        if (low === undefined || (otherLow !== undefined && key(otherLow.item) < key(low.item))) into.low[k] = otherLow;
        const [high, otherHigh] = [into.high[k], b.high[k]];
        if (high === undefined || (otherHigh !== undefined && key(otherHigh.item) > key(high.item)))
          into.high[k] = otherHigh;
      }
    }
    this.buckets.length = 0;
    this.bucketsWeight = 0;
    for (const b of merged) {
      b.weight = this.weightOf(b);
      this.bucketsWeight += b.weight;
      this.buckets.push(b);
    }
  }

  private weightOf(bucket: Bucket<T>): number {
    let sum = 0;
    for (const k of bucketItems(bucket)) sum += this.opts.weight(k.item);
    return sum;
  }
}

const byIndex = (a: { index: number }, b: { index: number }): number => a.index - b.index;

/** A bucket's distinct items: its extremes, or its first item when it has none. */
function bucketItems<T>(bucket: Bucket<T>): Kept<T>[] {
  const items: Kept<T>[] = [];
  for (const k of bucket.low) if (k !== undefined && !items.includes(k)) items.push(k);
  for (const k of bucket.high) if (k !== undefined && !items.includes(k)) items.push(k);
  if (items.length === 0) items.push(bucket.first);
  return items;
}
