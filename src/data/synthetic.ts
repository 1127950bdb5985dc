/**
 * A tiny seeded image task for tests: 8×8 one-channel images, 4 classes.
 * Each class is a pattern of Gaussian blobs; samples are the pattern with random gain and
 * pixel noise, and 10% of labels are flipped. A small network learns it in a few epochs and, with a
 * few hundred training samples, overfits it, so dropout matters.
 */
import { createRng } from '../core/rng.js';
import type { Pool } from './dataset.js';

const SIDE = 8;
const CLASSES = 4;
const LABEL_NOISE = 0.1;
const PIXEL_NOISE = 0.5;

export function makeSynthetic(count: number, seed: number): Pool {
  const rng = createRng(`synthetic:${seed}`);
  const templates = Array.from({ length: CLASSES }, () => {
    const t = new Float32Array(SIDE * SIDE);
    for (let blob = 0; blob < 3; blob++) {
      const cy = rng.next() * SIDE;
      const cx = rng.next() * SIDE;
      const width = 1 + rng.next() * 1.5;
      for (let r = 0; r < SIDE; r++) {
        for (let c = 0; c < SIDE; c++) t[r * SIDE + c]! += Math.exp(-((r - cy) ** 2 + (c - cx) ** 2) / (2 * width * width));
      }
    }
    return t;
  });
  const x = new Float32Array(count * SIDE * SIDE);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = rng.int(CLASSES);
    const template = templates[label]!;
    const gain = 0.6 + 0.8 * rng.next();
    for (let p = 0; p < SIDE * SIDE; p++) x[i * SIDE * SIDE + p] = gain * template[p]! + PIXEL_NOISE * rng.normal();
    y[i] = rng.next() < LABEL_NOISE ? rng.int(CLASSES) : label;
  }
  return { imageShape: [SIDE, SIDE, 1], numClasses: CLASSES, x, y };
}
