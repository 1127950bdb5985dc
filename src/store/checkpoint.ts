/**
 * Files that must never be seen half-written: atomic writes, and checkpoints of plain data that holds
 * Float32Arrays (an env snapshot's weights and optimizer moments).
 *
 * A checkpoint `<name>` is two files: `<name>-<stamp>.bin`, the arrays back to back, and `<name>.json`,
 * everything else with each array replaced by `{ "$f32": [offset, length] }` and the binary's file name.
 * The binary is renamed into place first and the JSON last, so a reader that finds the JSON always finds
 * the binary it names; a crash at any moment leaves the previous checkpoint or the new one, whole.
 * Non-finite numbers (a diverged loss) are kept as `{ "$num": "NaN" }`, which plain JSON cannot hold.
 */
import {
  appendFileSync,
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { checkpointBinary, checkpointJson, isCheckpointBinary } from './layout.js';
import { ConfigError, storageErrorOf } from '../core/errors.js';

/**
 * Writes `data` to `file` through a temporary file in the same folder, flushed, then renamed. Every byte
 * is written or it throws (a StorageError when the disk is full or read-only), and the temporary file
 * is removed: a short write is never renamed into place.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}-${threadId}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  try {
    const fd = openSync(temp, 'w');
    try {
      // writeSync may write less than asked (a disk filling up): carry on from where it stopped.
      for (let at = 0; at < bytes.length;) {
        const written = writeSync(fd, bytes, at, bytes.length - at);
        if (written <= 0) throw Object.assign(new Error(`ENOSPC: short write to ${temp}`), { code: 'ENOSPC' });
        at += written;
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    throw storageErrorOf(err, file);
  }
}

/** Appends `text` to `file`; a full or read-only disk is a StorageError naming the file. */
export function appendFileChecked(file: string, text: string): void {
  try {
    appendFileSync(file, text);
  } catch (err) {
    throw storageErrorOf(err, file);
  }
}

interface Encoded {
  json: string;
  arrays: Float32Array[];
}

function encode(value: unknown): Encoded {
  const arrays: Float32Array[] = [];
  let offset = 0;
  const json = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Float32Array) {
      arrays.push(v);
      const ref = { $f32: [offset, v.length] };
      offset += v.length;
      return ref;
    }
    if (typeof v === 'number' && !Number.isFinite(v)) return { $num: String(v) };
    return v;
  });
  return { json, arrays };
}

function decode(json: string, floats: Float32Array): unknown {
  return JSON.parse(json, (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (Array.isArray(o['$f32'])) {
        const [start, length] = o['$f32'] as [number, number];
        return floats.slice(start, start + length);
      }
      if (typeof o['$num'] === 'string') return Number(o['$num']);
    }
    return v;
  });
}

/** Checkpoints written by this thread: two in the same millisecond still get different binaries. */
let writes = 0;

/** Writes `value` as the checkpoint `<dir>/<name>`, replacing the previous one atomically. */
export function writeCheckpoint(dir: string, name: string, value: unknown): void {
  const { json, arrays } = encode(value);
  const total = arrays.reduce((s, a) => s + a.length, 0);
  const floats = new Float32Array(total);
  let at = 0;
  for (const a of arrays) {
    floats.set(a, at);
    at += a.length;
  }
  writes += 1;
  const binary = checkpointBinary(name, `${Date.now()}-${process.pid}-${threadId}-${writes}`);
  writeFileAtomic(path.join(dir, binary), new Uint8Array(floats.buffer));
  writeFileAtomic(
    path.join(dir, checkpointJson(name)),
    JSON.stringify({ binary, floats: total, value: JSON.parse(json) as unknown }) + '\n',
  );
  // Older binaries are no longer named by the JSON.
  for (const file of readdirSync(dir)) {
    if (file !== binary && isCheckpointBinary(name, file)) rmSync(path.join(dir, file), { force: true });
  }
}

/** Reads the checkpoint `<dir>/<name>`; undefined when there is none. Throws on a damaged one. */
export function readCheckpoint(dir: string, name: string): unknown {
  let header: string;
  try {
    header = readFileSync(path.join(dir, checkpointJson(name)), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const file = path.join(dir, `${name}.json`);
  const damaged = (why: string) =>
    new ConfigError(`${file}: ${why}: the checkpoint is damaged (delete it to restart the episode in progress)`);
  let parsed: { binary?: unknown; floats?: unknown; value?: unknown };
  try {
    parsed = JSON.parse(header) as typeof parsed;
  } catch {
    throw damaged('not valid JSON');
  }
  const { binary, floats, value } = parsed ?? {};
  if (typeof binary !== 'string' || path.basename(binary) !== binary || typeof floats !== 'number')
    throw damaged(`no binary file name and float count`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path.join(dir, binary));
  } catch (err) {
    throw damaged(`its ${binary} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (bytes.length !== floats * 4) throw damaged(`its ${binary} has ${bytes.length} bytes, expected ${floats * 4}`);
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  return decode(JSON.stringify(value), data);
}

/** Removes the checkpoint `<dir>/<name>` (both files), if any. */
export function removeCheckpoint(dir: string, name: string): void {
  rmSync(path.join(dir, checkpointJson(name)), { force: true });
  for (const file of readdirSync(dir)) {
    if (isCheckpointBinary(name, file)) rmSync(path.join(dir, file), { force: true });
  }
}
