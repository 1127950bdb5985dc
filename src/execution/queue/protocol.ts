/**
 * What the coordinator and the queue workers share (queue-executor.ts, queue-worker.ts): the Redis URL,
 * the queue's name, the job payload and its validation, and the run folder as files that travel back.
 *
 * A queued job is a Job (job.ts) as plain JSON. The worker trains it in a scratch folder of its own
 * machine and returns every file of the finished run folder; the coordinator writes them into the
 * job's `out`. So the coordinator's disk is the one run log, whichever machine trained the run, and the
 * folder holds the same bytes a local pool writes (config.json records `out`, not the scratch folder).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { ConfigError } from '../../core/errors.js';
import { writeFileAtomic } from '../../store/checkpoint.js';
import { LOCK_FILE, RUN_FILES, checkpointJson, isCheckpointBinary, memberCheckpoint } from '../../store/layout.js';
import type { Job } from '../job.js';
import type { SegmentJob, SegmentResult } from '../../run/segment.js';

// url

export interface QueueUrl {
  /** As given: what a worker is started with. */
  href: string;
  /** For messages: the password masked. */
  shown: string;
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
}

const URL_FORM = 'redis://[[user]:password@]host[:port][/db] (rediss:// for TLS)';

/** Parses --queue; a ConfigError names the option, the value and the form it takes. */
export function parseQueueUrl(value: unknown, flag = '--queue'): QueueUrl {
  const bad = (why: string) => new ConfigError(`${flag} must be ${URL_FORM}, got '${String(value)}': ${why}`);
  if (typeof value !== 'string' || value === '') throw bad('no URL');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad('not a URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw bad(`the scheme is ${url.protocol.replace(/:$/, '')}`);
  if (url.hostname === '') throw bad('no host');
  if (url.search !== '' || url.hash !== '') throw bad('no query or fragment is taken');
  const port = url.port === '' ? 6379 : Number(url.port);
  const dbText = url.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d{1,2}$/.test(dbText)) throw bad(`the database must be a number, got '${dbText}'`);
  const username = url.username === '' ? undefined : decodeURIComponent(url.username);
  const password = url.password === '' ? undefined : decodeURIComponent(url.password);
  const auth = password !== undefined ? `${username ?? ''}:***@` : username !== undefined ? `${username}@` : '';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    href: value,
    shown: `${url.protocol}//${auth}${url.host}${dbText === '' ? '' : `/${dbText}`}`,
    host,
    port,
    db: dbText === '' ? 0 : Number(dbText),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    tls: url.protocol === 'rediss:',
  };
}

/**
 * A new connection. BullMQ needs `maxRetriesPerRequest: null` (its blocking commands wait as long as
 * they must); while Redis is away ioredis keeps reconnecting, and the coordinator decides when to give up.
 */
export function connect(url: QueueUrl, extra: RedisOptions = {}): Redis {
  const conn = new Redis({
    host: url.host,
    port: url.port,
    db: url.db,
    ...(url.username !== undefined ? { username: url.username } : {}),
    ...(url.password !== undefined ? { password: url.password } : {}),
    ...(url.tls ? { tls: { servername: url.host } } : {}),
    maxRetriesPerRequest: null,
    // Reconnect every second at most: a coordinator waiting for Redis sees it back soon.
    retryStrategy: (times) => Math.min(times * 200, 1000),
    ...extra,
  });
  // Without a listener ioredis prints every failed reconnection; the owner of the connection reports it once.
  conn.on('error', () => undefined);
  return conn;
}

/** Redis cannot be reached at the start: the one line to show. */
export class RedisUnreachable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisUnreachable';
  }
}

export const withTimeout = <T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(message())), ms);
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (err: unknown) => (clearTimeout(timer), reject(err instanceof Error ? err : new Error(String(err)))),
    );
  });

/** Answers a PING within `ms`, or throws RedisUnreachable with the connection's last error. */
export async function checkReachable(conn: Redis, url: QueueUrl, ms = 5000): Promise<void> {
  let lastError = 'no answer';
  const onError = (err: Error) => (lastError = err.message.split('\n')[0]!);
  conn.on('error', onError);
  try {
    await withTimeout(conn.ping(), ms, () => lastError);
  } catch (err) {
    throw new RedisUnreachable(`cannot reach Redis at ${url.shown}: ${(err as Error).message}`);
  } finally {
    conn.off('error', onError);
  }
}

// names

const NAME = /^[A-Za-z0-9._-]{1,100}$/;

export function checkQueueName(value: unknown, flag = '--queue-name'): string {
  if (typeof value !== 'string' || !NAME.test(value))
    throw new ConfigError(`${flag} must be 1 to 100 letters, digits, '.', '_' or '-', got '${String(value)}'`);
  return value;
}

/** One queue per experiment (or population): named after its folder, with a hash of its full path. */
export function queueNameFor(folder: string): string {
  const full = path.resolve(folder);
  const base = path
    .basename(full)
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .slice(0, 60);
  return `droptune-${base}-${createHash('sha256').update(full).digest('hex').slice(0, 8)}`;
}

/** A Redis set of the queues coordinators are running: a worker without --queue-name serves them all. */
export const REGISTRY_KEY = 'droptune:queues';

// payload

export const PAYLOAD_VERSION = 1;

/** A queued run: the job as the worker trains it (without `resume` or `writeTo`, which are the worker's). */
export interface RunPayload {
  version: typeof PAYLOAD_VERSION;
  kind: 'run';
  job: Pick<Job, 'options' | 'seed' | 'out' | 'fold' | 'agentState'>;
}

/**
 * A queued PBT segment (segment.ts): the member's checkpoint files travel with it (the coordinator's
 * population folder is the only copy), and come back trained.
 */
export interface SegmentPayload {
  version: typeof PAYLOAD_VERSION;
  kind: 'segment';
  segment: SegmentJob;
  /** The member's checkpoint, `member-<m>.json` and its binary; none before generation 0. */
  checkpoint: RunFile[];
}

export interface SegmentReturn {
  version: typeof PAYLOAD_VERSION;
  result: SegmentResult;
  checkpoint: RunFile[];
}

export type QueuePayload = RunPayload | SegmentPayload;

/** One file of a run folder, relative to it. */
export interface RunFile {
  path: string;
  encoding: 'utf8' | 'base64';
  data: string;
}

/** What a worker returns for a run: every file of the finished folder. */
export interface RunReturn {
  version: typeof PAYLOAD_VERSION;
  files: RunFile[];
}

/** The job id: a hash of the payload, so the same run queued again (a resumed coordinator) is the same job. */
export function jobIdOf(payload: QueuePayload): string {
  return createHash('sha256').update(JSON.stringify(payload)).digest('hex').slice(0, 32);
}

/** A job its worker refuses before training: the reason is what the coordinator reports. */
export class MalformedJob extends Error {
  constructor(reason: string) {
    super(`malformed job: ${reason}`);
    this.name = 'MalformedJob';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown, min: number) => typeof v === 'number' && Number.isInteger(v) && v >= min;

/** The payload's shape (its options are checked by resolveJob, by the worker); throws MalformedJob. */
export function checkPayload(data: unknown): QueuePayload {
  if (!isObject(data)) throw new MalformedJob('the payload is not an object');
  if (data['version'] !== PAYLOAD_VERSION)
    throw new MalformedJob(
      `version ${JSON.stringify(data['version'])}, this worker reads version ${PAYLOAD_VERSION}: run the same droptune on the coordinator and the workers`,
    );
  if (data['kind'] === 'segment') return checkSegmentPayload(data);
  if (data['kind'] !== 'run')
    throw new MalformedJob(`kind ${JSON.stringify(data['kind'])}, expected 'run' or 'segment'`);
  const job = data['job'];
  if (!isObject(job)) throw new MalformedJob('job is not an object');
  const known = ['options', 'seed', 'out', 'fold', 'agentState'];
  const unknown = Object.keys(job).filter((k) => !known.includes(k));
  if (unknown.length > 0)
    throw new MalformedJob(
      `job has unknown field${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')} (known: ${known.join(', ')})`,
    );
  if (!isObject(job['options'])) throw new MalformedJob('job.options is not an object');
  if (!isCount(job['seed'], 0) || (job['seed'] as number) > 2 ** 32 - 1)
    throw new MalformedJob(`job.seed must be a whole number in [0, 2^32), got ${JSON.stringify(job['seed'])}`);
  if (typeof job['out'] !== 'string' || job['out'] === '')
    throw new MalformedJob(`job.out must be a folder path, got ${JSON.stringify(job['out'])}`);
  const fold = job['fold'];
  if (
    fold !== undefined &&
    !(
      isObject(fold) &&
      isCount(fold['folds'], 2) &&
      isCount(fold['fold'], 0) &&
      (fold['fold'] as number) < (fold['folds'] as number)
    )
  ) {
    throw new MalformedJob(`job.fold must be { fold, folds } with 0 <= fold < folds, got ${JSON.stringify(fold)}`);
  }
  return data as unknown as RunPayload;
}

function checkSegmentPayload(data: Record<string, unknown>): SegmentPayload {
  const segment = data['segment'];
  if (!isObject(segment)) throw new MalformedJob('segment is not an object');
  for (const key of ['data', 'env'] as const)
    if (!isObject(segment[key])) throw new MalformedJob(`segment.${key} is not an object`);
  for (const key of ['backend', 'dir'] as const)
    if (typeof segment[key] !== 'string') throw new MalformedJob(`segment.${key} is not a string`);
  for (const key of ['member', 'generation', 'seed', 'untilEpoch'] as const)
    if (!isCount(segment[key], 0))
      throw new MalformedJob(`segment.${key} must be a whole number >= 0, got ${JSON.stringify(segment[key])}`);
  const rates = segment['rates'];
  if (!Array.isArray(rates) || rates.length === 0 || !rates.every((r) => typeof r === 'number' && r >= 0 && r < 1))
    throw new MalformedJob(`segment.rates must be rates in [0, 1), got ${JSON.stringify(rates)}`);
  checkFiles(
    data['checkpoint'],
    memberFile(segment['member'] as number),
    (reason) => new MalformedJob(`checkpoint: ${reason}`),
  );
  return data as unknown as SegmentPayload;
}

/** The names a member's checkpoint files may have: its JSON and its binaries. */
const memberFile = (member: number) => (name: string) =>
  name === checkpointJson(memberCheckpoint(member)) ||
  (isCheckpointBinary(memberCheckpoint(member), name) && !name.includes('/'));

/** Files as RunFile[], each path inside its folder (`allowed` narrows it further). */
function checkFiles(value: unknown, allowed: (rel: string) => boolean, fail: (reason: string) => Error): RunFile[] {
  if (!Array.isArray(value)) throw fail('not a list of files');
  for (const file of value as unknown[]) {
    if (
      !isObject(file) ||
      typeof file['path'] !== 'string' ||
      typeof file['data'] !== 'string' ||
      (file['encoding'] !== 'utf8' && file['encoding'] !== 'base64')
    )
      throw fail('a malformed file');
    const rel = file['path'];
    if (
      rel === '' ||
      path.isAbsolute(rel) ||
      rel.split(/[\\/]/).some((part) => part === '..' || part === '') ||
      !allowed(rel)
    )
      throw fail(`a file outside its folder: ${rel}`);
  }
  return value as RunFile[];
}

// member checkpoints

/** A member's checkpoint as files: its JSON and the binary it names; none when it has no checkpoint. */
export function readMemberFiles(dir: string, member: number): RunFile[] {
  const json = checkpointJson(memberCheckpoint(member));
  let header: string;
  try {
    header = readFileSync(path.join(dir, json), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const { binary } = JSON.parse(header) as { binary: string };
  return [
    { path: binary, encoding: 'base64', data: readFileSync(path.join(dir, binary)).toString('base64') },
    { path: json, encoding: 'utf8', data: header },
  ];
}

/** Writes a member's checkpoint from its files, binary first, and drops the binaries it no longer names. */
export function writeMemberFiles(dir: string, member: number, files: readonly RunFile[]): void {
  mkdirSync(dir, { recursive: true });
  const json = (f: RunFile) => (f.path.endsWith('.json') ? 1 : 0);
  for (const file of [...files].sort((a, b) => json(a) - json(b)))
    writeFileAtomic(
      path.join(dir, file.path),
      file.encoding === 'utf8' ? file.data : new Uint8Array(Buffer.from(file.data, 'base64')),
    );
  const kept = new Set(files.map((f) => f.path));
  for (const name of readdirSync(dir))
    if (isCheckpointBinary(memberCheckpoint(member), name) && !kept.has(name))
      rmSync(path.join(dir, name), { force: true });
}

/** A worker's return value for a segment, checked before its checkpoint is written. */
export function checkSegmentReturn(value: unknown, member: number): SegmentReturn {
  if (!isObject(value) || value['version'] !== PAYLOAD_VERSION || !isObject(value['result']))
    throw new Error(`the worker returned no segment result (${JSON.stringify(value)?.slice(0, 80)})`);
  checkFiles(value['checkpoint'], memberFile(member), (reason) => new Error(`the worker returned ${reason}`));
  return value as unknown as SegmentReturn;
}

// run folder files

const TEXT = /\.(json|jsonl|md|txt|svg|csv|html)$/;

/** Every file of a finished run folder, sorted; the lock and temporary files are not part of it. */
export function readRunFiles(dir: string): RunFile[] {
  const files: RunFile[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const relPath = rel === '' ? name : `${rel}/${name}`;
      if (name === LOCK_FILE || name.endsWith('.tmp')) continue;
      if (statSync(path.join(dir, relPath)).isDirectory()) {
        walk(relPath);
        continue;
      }
      const bytes = readFileSync(path.join(dir, relPath));
      files.push(
        TEXT.test(name)
          ? { path: relPath, encoding: 'utf8', data: bytes.toString('utf8') }
          : { path: relPath, encoding: 'base64', data: bytes.toString('base64') },
      );
    }
  };
  walk('');
  return files;
}

/** A worker's return value, checked before anything is written: a file may not leave the run folder. */
export function checkRunReturn(value: unknown): RunReturn {
  if (!isObject(value) || value['version'] !== PAYLOAD_VERSION || !Array.isArray(value['files']))
    throw new Error(`the worker returned no run files (${JSON.stringify(value)?.slice(0, 80)})`);
  checkFiles(
    value['files'],
    () => true,
    (reason) => new Error(`the worker returned ${reason.replace('its folder', 'its run folder')}`),
  );
  return value as unknown as RunReturn;
}

/**
 * Writes a run folder from its files: whatever an earlier, unfinished attempt left there goes, each file
 * is written atomically, and summary.json comes last (its presence marks a finished run).
 */
export function writeRunFiles(out: string, files: readonly RunFile[]): void {
  mkdirSync(out, { recursive: true });
  const tops = new Set(files.map((f) => f.path.split('/')[0]!));
  for (const name of readdirSync(out))
    if (!tops.has(name)) rmSync(path.join(out, name), { recursive: true, force: true });
  const last = (f: RunFile) => (f.path === RUN_FILES.summary ? 1 : 0);
  for (const file of [...files].sort((a, b) => last(a) - last(b))) {
    const target = path.join(out, file.path);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileAtomic(target, file.encoding === 'utf8' ? file.data : new Uint8Array(Buffer.from(file.data, 'base64')));
  }
}
