/**
 * Fashion-MNIST from IDX files on disk (gzip or plain), as Debian's dataset-fashion-mnist installs them.
 * Train and validation come from the 60,000 training images; test from the official 10,000 t10k images.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ConfigError } from '../core/errors.js';
import type { Pool } from './dataset.js';

export const DEFAULT_FASHION_DIR = '/usr/share/datasets/fashion-mnist';

function readIdx(dir: string, base: string): Buffer {
  for (const file of [base, `${base}.gz`]) {
    const full = path.join(dir, file);
    if (!existsSync(full)) continue;
    const raw = readFileSync(full);
    return raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
  }
  throw new ConfigError(
    `--data-dir ${dir} has no ${base}(.gz): install Fashion-MNIST with 'apt-get install dataset-fashion-mnist' or point --data-dir at a folder with its IDX files`,
  );
}

/** Parses an IDX file: magic (0, 0, type 0x08 = ubyte, rank), then one big-endian uint32 per dimension. */
export function parseIdx(buf: Buffer, what: string): { dims: number[]; data: Uint8Array } {
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 0x08) throw new ConfigError(`${what} is not an unsigned-byte IDX file`);
  const rank = buf[3]!;
  const dims = Array.from({ length: rank }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  const offset = 4 + 4 * rank;
  const size = dims.reduce((a, b) => a * b, 1);
  if (buf.length < offset + size) throw new ConfigError(`${what} is truncated: ${buf.length - offset} of ${size} bytes`);
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + offset, size) };
}

function readPair(dir: string, prefix: string): { x: Float32Array; y: Int32Array } {
  const images = parseIdx(readIdx(dir, `${prefix}-images-idx3-ubyte`), `${prefix}-images`);
  const labels = parseIdx(readIdx(dir, `${prefix}-labels-idx1-ubyte`), `${prefix}-labels`);
  if (images.dims[0] !== labels.dims[0]) throw new ConfigError(`${prefix}: ${images.dims[0]} images but ${labels.dims[0]} labels`);
  return { x: Float32Array.from(images.data, (v) => v / 255), y: Int32Array.from(labels.data) };
}

export function loadFashionMnist(dir: string = DEFAULT_FASHION_DIR): Pool {
  const train = readPair(dir, 'train');
  return { imageShape: [28, 28, 1], numClasses: 10, x: train.x, y: train.y, test: readPair(dir, 't10k') };
}
