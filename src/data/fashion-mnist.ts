/**
 * Fashion-MNIST from IDX files on disk (gzip or plain), as Debian's dataset-fashion-mnist installs them.
 * Train and validation come from the 60,000 training images; test from the official 10,000 t10k images.
 */
import { ConfigError } from '../core/errors.js';
import type { Pool } from './types.js';
import { findIdx, idxCandidates, parseIdx, readMaybeGzip } from './idx.js';

export { parseIdx } from './idx.js';

export const DEFAULT_FASHION_DIR = '/usr/share/datasets/fashion-mnist';

function readIdx(dir: string, prefix: string, kind: 'images' | 'labels'): { file: string; buf: Buffer } {
  const file = findIdx(dir, prefix, kind);
  if (file) return { file, buf: readMaybeGzip(file) };
  throw new ConfigError(
    `--data-dir ${dir} has no ${idxCandidates(prefix, kind)[0]}(.gz): install Fashion-MNIST with 'apt-get install dataset-fashion-mnist' or point --data-dir at a folder with its IDX files`,
  );
}

function readPair(dir: string, prefix: string): { x: Float32Array; y: Int32Array } {
  const imagesIdx = readIdx(dir, prefix, 'images');
  const labelsIdx = readIdx(dir, prefix, 'labels');
  const images = parseIdx(imagesIdx.buf, imagesIdx.file);
  const labels = parseIdx(labelsIdx.buf, labelsIdx.file);
  if (images.dims[0] !== labels.dims[0])
    throw new ConfigError(
      `${imagesIdx.file} holds ${images.dims[0]} images but ${labelsIdx.file} holds ${labels.dims[0]} labels`,
    );
  return { x: Float32Array.from(images.data, (v) => v / 255), y: Int32Array.from(labels.data) };
}

export function loadFashionMnist(dir: string = DEFAULT_FASHION_DIR): Pool {
  const train = readPair(dir, 'train');
  return { imageShape: [28, 28, 1], numClasses: 10, x: train.x, y: train.y, test: readPair(dir, 't10k') };
}
