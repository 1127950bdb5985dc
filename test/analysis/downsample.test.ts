import { expect } from 'chai';

import { createRng } from '../../src/core/rng.js';
import { Downsampler } from '../../src/analysis/downsample.js';

interface Point {
  i: number;
  y: number;
  z: number;
}

/** A seeded random walk with two spikes placed where a stride sample would miss them. */
function walk(n: number, seed: number): Point[] {
  const rng = createRng(seed);
  let y = 0;
  const points: Point[] = [];
  for (let i = 0; i < n; i++) {
    y += rng.normal();
    points.push({ i, y, z: rng.next() });
  }
  points[4_321]!.y = 1e6;
  points[77_777]!.y = -1e6;
  return points;
}

const keys = [(p: Point) => p.y, (p: Point) => p.z];

describe('Downsampler', () => {
  const points = walk(100_000, 7);

  it('keeps at most the cap, in order: the first and last items and every key’s extremes', () => {
    const d = new Downsampler<Point>({ cap: 500, keys });
    for (const p of points) d.push(p);
    const kept = d.result();
    expect(kept.length).to.be.at.most(500).and.at.least(250);
    expect(d.downsampled).to.equal(true);
    expect(d.seen).to.equal(100_000);
    expect(kept.map((p) => p.i)).to.deep.equal([...kept.map((p) => p.i)].sort((a, b) => a - b));
    expect(kept[0]!.i).to.equal(0);
    expect(kept.at(-1)!.i).to.equal(99_999);
    const ids = new Set(kept.map((p) => p.i));
    for (const key of keys) {
      const values = points.map(key);
      expect(ids.has(values.indexOf(Math.max(...values)))).to.equal(true);
      expect(ids.has(values.indexOf(Math.min(...values)))).to.equal(true);
    }
    expect(ids.has(4_321) && ids.has(77_777)).to.equal(true);
  });

  it('keeps each stretch of the series: no gap between kept items wider than a few buckets', () => {
    const d = new Downsampler<Point>({ cap: 500, keys });
    for (const p of points) d.push(p);
    const kept = d.result().map((p) => p.i);
    const gaps = kept.slice(1).map((i, k) => i - kept[k]!);
    // 100 000 items over at least 500/4 buckets: a bucket spans at most 1024 items, and keeps one at least
    expect(Math.max(...gaps)).to.be.at.most(2 * 1024);
  });

  it('is deterministic, keeps everything under the cap, skips NaN values and keeps pinned items', () => {
    const run = () => {
      const d = new Downsampler<Point>({ cap: 200, keys, pinned: (p) => p.i === 50_001 });
      for (const p of points) d.push(p);
      return d.result().map((p) => p.i);
    };
    expect(run()).to.deep.equal(run());
    expect(run()).to.include(50_001);
    expect(run().length).to.be.at.most(200);

    const few = new Downsampler<Point>({ cap: 200, keys });
    for (const p of points.slice(0, 150)) few.push(p);
    expect(few.result().map((p) => p.i)).to.deep.equal(points.slice(0, 150).map((p) => p.i));
    expect(few.downsampled).to.equal(false);

    const nan = new Downsampler<Point>({ cap: 10, keys: [(p) => p.y] });
    for (let i = 0; i < 1000; i++) nan.push({ i, y: i === 500 ? 5 : i === 600 ? -5 : NaN, z: 0 });
    const kept = nan.result().map((p) => p.i);
    expect(kept).to.include.members([0, 500, 600, 999]);
    expect(kept.length).to.be.at.most(10);
  });

  it('counts weights against the cap (the points of an episode’s line)', () => {
    const d = new Downsampler<Point>({ cap: 300, keys, weight: () => 11 });
    for (const p of points.slice(0, 10_000)) d.push(p);
    expect(d.result().length * 11).to.be.at.most(300);
  });
});
