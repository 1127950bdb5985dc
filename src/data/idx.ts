/**
 * MNIST-format IDX files from a folder: `--dataset idx:DIR`.
 *
 * Looked for in DIR, each plain or gzipped (`.gz`, recognized by its content), with `-` or `.` before
 * `idx`: train-images-idx3-ubyte and train-labels-idx1-ubyte (required), t10k-images-idx3-ubyte and
 * t10k-labels-idx1-ubyte (optional, both or neither: the official test set, where the test split is
 * drawn from). Images are unsigned bytes of shape [n, height, width] or [n, height, width, channels],
 * scaled to [0, 1] (byte / 255, as MNIST); labels are unsigned bytes of shape [n], mapped to classes
 * as labels.ts says (over train and test together).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { ConfigError } from '../core/errors.js';
import type { Pool } from './types.js';
import { classIndices } from './labels.js';

/** IDX element types by their code, the third byte of the magic number; only unsigned bytes are read. */
const IDX_TYPES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'short',
  0x0c: 'int',
  0x0d: 'float',
  0x0e: 'double',
};

const hex = (buf: Buffer) => `0x${buf.subarray(0, 4).toString('hex').padEnd(8, '0')}`;

/**
 * Parses an IDX file: magic (0, 0, type 0x08 = unsigned byte, rank), then one big-endian uint32 per
 * dimension, then the bytes. `file` names the file in every error.
 */
export function parseIdx(buf: Buffer, file: string, headerOnly = false): { dims: number[]; data: Uint8Array } {
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0 || !(buf[2]! in IDX_TYPES) || buf[3] === 0) {
    throw new ConfigError(
      `${file}: bad IDX magic number ${hex(buf)} (an IDX file starts with 0x00 0x00, its type, then its rank; MNIST's images start 0x00000803)`,
    );
  }
  if (buf[2] !== 0x08)
    throw new ConfigError(
      `${file}: IDX elements of type ${IDX_TYPES[buf[2]!]} (0x${buf[2]!.toString(16).padStart(2, '0')}) are not supported, only unsigned bytes (0x08)`,
    );
  const rank = buf[3]!;
  const offset = 4 + 4 * rank;
  if (buf.length < offset)
    throw new ConfigError(`${file}: truncated IDX header: ${buf.length} bytes, a rank-${rank} header has ${offset}`);
  const dims = Array.from({ length: rank }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  if (headerOnly) return { dims, data: new Uint8Array(0) };
  const size = dims.reduce((a, b) => a * b, 1);
  if (buf.length < offset + size)
    throw new ConfigError(
      `${file}: truncated: ${buf.length - offset} of ${size} bytes of data (dimensions ${dims.join('×')})`,
    );
  if (buf.length > offset + size)
    throw new ConfigError(
      `${file}: ${buf.length - offset - size} bytes after the data its header declares (dimensions ${dims.join('×')}): not an IDX file`,
    );
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + offset, size) };
}

/** An IDX file of unsigned bytes, as parseIdx reads it back (for tests and for users making their own). */
export function encodeIdx(dims: readonly number[], data: ArrayLike<number>): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt8(0x08, 2);
  head.writeUInt8(dims.length, 3);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(Uint8Array.from(data))]);
}

/** The most bytes of data an IDX file may declare (what one Buffer holds). */
export const MAX_IDX_BYTES = 2 ** 31 - 1;

/** The size an IDX header declares (header and data), from its first bytes; undefined until they are all there. */
function declaredSize(head: Buffer, file: string): number | undefined {
  if (head.length < 4) return undefined;
  const rank = head[3]!;
  if (head[0] !== 0 || head[1] !== 0 || rank === 0) parseIdx(head, file); // throws naming the bad magic
  const offset = 4 + 4 * rank;
  if (head.length < offset) return undefined;
  const dims = Array.from({ length: rank }, (_, i) => head.readUInt32BE(4 + 4 * i));
  const size = dims.reduce((a, b) => a * b, 1);
  if (size > MAX_IDX_BYTES)
    throw new ConfigError(
      `${file}: its header (dimensions ${dims.join('×')}) declares ${size} bytes of data, more than the ${MAX_IDX_BYTES} allowed`,
    );
  return offset + size;
}

/**
 * Reads an IDX file, gunzipping it when it starts with gzip's magic bytes: never to more than the size
 * its header declares (a gzip bomb stops there), and never a file that is not a regular file.
 */
export function readMaybeGzip(file: string): Buffer {
  if (!statSync(file).isFile())
    throw new ConfigError(`${file}: not a regular file (a device or a FIFO is no IDX file)`);
  const raw = readFileSync(file);
  if (raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
  let head: Buffer;
  try {
    // What the first kilobyte inflates to holds the header (a few bytes) of any IDX file.
    head = gunzipSync(raw.subarray(0, 1024), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch (err) {
    throw new ConfigError(`${file}: not a valid gzip file (${(err as Error).message})`);
  }
  const declared = declaredSize(head, file);
  if (declared === undefined)
    throw new ConfigError(`${file}: truncated IDX header (${head.length} bytes after gunzip)`);
  try {
    return gunzipSync(raw, { maxOutputLength: Math.max(declared, 1) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      const dims = parseIdx(head.subarray(0, 4 + 4 * head[3]!), file, true).dims;
      throw new ConfigError(
        `${file}: more data than its header declares (dimensions ${dims.join('×')}, ${declared - 4 - 4 * dims.length} bytes): not an IDX file`,
      );
    }
    throw new ConfigError(`${file}: not a valid gzip file (${(err as Error).message})`);
  }
}

/** Reads and parses one IDX file (plain or gzipped). */
export function readIdxFile(file: string): { dims: number[]; data: Uint8Array } {
  return parseIdx(readMaybeGzip(file), file);
}

/** The file names tried for `<prefix>-<kind>-idx<rank>-ubyte`, in order. */
export function idxCandidates(prefix: string, kind: 'images' | 'labels'): string[] {
  const rank = kind === 'images' ? 3 : 1;
  return [`${prefix}-${kind}-idx${rank}-ubyte`, `${prefix}-${kind}.idx${rank}-ubyte`].flatMap((base) => [
    base,
    `${base}.gz`,
  ]);
}

/** The first of the candidates present in `dir`, if any. */
export function findIdx(dir: string, prefix: string, kind: 'images' | 'labels'): string | undefined {
  return idxCandidates(prefix, kind)
    .map((name) => path.join(dir, name))
    .find((file) => existsSync(file));
}

/** The files `idx:DIR` reads (train pair, then the t10k pair when present); throws when the train pair is missing. */
export function idxFiles(dir: string, option = '--dataset idx:'): string[] {
  if (!existsSync(dir)) throw new ConfigError(`${option}${dir}: no such folder`);
  const train = (['images', 'labels'] as const).map((kind) => {
    const file = findIdx(dir, 'train', kind);
    if (!file) throw new ConfigError(`${option}${dir}: no ${idxCandidates('train', kind)[0]} (or .gz) in the folder`);
    return file;
  });
  const test = (['images', 'labels'] as const).map((kind) => findIdx(dir, 't10k', kind));
  if ((test[0] === undefined) !== (test[1] === undefined)) {
    const [has, lacks] = test[0] ? ['images', 'labels'] : ['labels', 'images'];
    throw new ConfigError(
      `${option}${dir}: has t10k ${has} but no ${idxCandidates('t10k', lacks as 'images' | 'labels')[0]} (or .gz): give both test files or neither`,
    );
  }
  return [...train, ...(test[0] && test[1] ? [test[0], test[1]] : [])];
}

interface RawPair {
  dims: number[];
  pixels: Uint8Array;
  labels: Uint8Array;
}

function readPair(imagesFile: string, labelsFile: string): RawPair {
  const images = readIdxFile(imagesFile);
  const labels = readIdxFile(labelsFile);
  if (images.dims.length < 2 || images.dims.length > 4)
    throw new ConfigError(
      `${imagesFile}: images must have 2 to 4 dimensions ([n, features], [n, height, width] or [n, height, width, channels]), got ${images.dims.join('×')}`,
    );
  if (labels.dims.length !== 1)
    throw new ConfigError(`${labelsFile}: labels must have one dimension [n], got ${labels.dims.join('×')}`);
  if (images.dims[0] !== labels.dims[0])
    throw new ConfigError(
      `${imagesFile} holds ${images.dims[0]} images but ${labelsFile} holds ${labels.dims[0]} labels`,
    );
  return { dims: images.dims, pixels: images.data, labels: labels.data };
}

/** Reads `dir`'s IDX files into a pool (pixels / 255; the t10k pair, when present, as its test set). */
export function loadIdxDir(dir: string): Pool & { classNames: string[] } {
  const files = idxFiles(dir);
  const train = readPair(files[0]!, files[1]!);
  const test = files.length === 4 ? readPair(files[2]!, files[3]!) : undefined;
  const [, a = 1, b = 1, c = 1] = train.dims;
  const imageShape: [number, number, number] = train.dims.length === 2 ? [1, a, 1] : [a, b, c];
  if (test && test.dims.slice(1).join('×') !== train.dims.slice(1).join('×')) {
    throw new ConfigError(
      `${files[2]}: test images are ${test.dims.slice(1).join('×')}, the training images ${train.dims.slice(1).join('×')}`,
    );
  }
  const n = train.labels.length;
  const { y, classNames } = classIndices(
    [...train.labels, ...(test?.labels ?? [])],
    `${files[1]}${test ? ` and ${files[3]}` : ''}`,
  );
  const scale = (bytes: Uint8Array) => Float32Array.from(bytes, (v) => v / 255);
  return {
    imageShape,
    numClasses: classNames.length,
    classNames,
    x: scale(train.pixels),
    y: y.slice(0, n),
    ...(test ? { test: { x: scale(test.pixels), y: y.slice(n) } } : {}),
  };
}
