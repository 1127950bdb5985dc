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
import { ConfigError } from '../core/errors.js';
import { writeFileAtomic } from '../runs/checkpoint.js';
import { LOCK_FILE } from '../runs/run-folder.js';
import { RUN_FILES } from '../runs/run-writer.js';
import type { Job } from './job.js';

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
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw bad(`the scheme is ${url.protocol.replace(/:$/, '')}`);
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

// names

const NAME = /^[A-Za-z0-9._-]{1,100}$/;

export function checkQueueName(value: unknown, flag = '--queue-name'): string {
  if (typeof value !== 'string' || !NAME.test(value)) throw new ConfigError(`${flag} must be 1 to 100 letters, digits, '.', '_' or '-', got '${String(value)}'`);
  return value;
}

/** One queue per experiment (or population): named after its folder, with a hash of its full path. */
export function queueNameFor(folder: string): string {
  const full = path.resolve(folder);
  const base = path.basename(full).replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 60);
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
export function jobIdOf(payload: RunPayload): string {
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
export function checkPayload(data: unknown): RunPayload {
  if (!isObject(data)) throw new MalformedJob('the payload is not an object');
  if (data['version'] !== PAYLOAD_VERSION) throw new MalformedJob(`version ${JSON.stringify(data['version'])}, this worker reads version ${PAYLOAD_VERSION}: run the same droptune on the coordinator and the workers`);
  if (data['kind'] !== 'run') throw new MalformedJob(`kind ${JSON.stringify(data['kind'])}, expected 'run'`);
  const job = data['job'];
  if (!isObject(job)) throw new MalformedJob('job is not an object');
  const known = ['options', 'seed', 'out', 'fold', 'agentState'];
  const unknown = Object.keys(job).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new MalformedJob(`job has unknown field${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')} (known: ${known.join(', ')})`);
  if (!isObject(job['options'])) throw new MalformedJob('job.options is not an object');
  if (!isCount(job['seed'], 0) || (job['seed'] as number) > 2 ** 32 - 1) throw new MalformedJob(`job.seed must be a whole number in [0, 2^32), got ${JSON.stringify(job['seed'])}`);
  if (typeof job['out'] !== 'string' || job['out'] === '') throw new MalformedJob(`job.out must be a folder path, got ${JSON.stringify(job['out'])}`);
  const fold = job['fold'];
  if (fold !== undefined && !(isObject(fold) && isCount(fold['folds'], 2) && isCount(fold['fold'], 0) && (fold['fold'] as number) < (fold['folds'] as number))) {
    throw new MalformedJob(`job.fold must be { fold, folds } with 0 <= fold < folds, got ${JSON.stringify(fold)}`);
  }
  return data as unknown as RunPayload;
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
      files.push(TEXT.test(name) ? { path: relPath, encoding: 'utf8', data: bytes.toString('utf8') } : { path: relPath, encoding: 'base64', data: bytes.toString('base64') });
    }
  };
  walk('');
  return files;
}

/** A worker's return value, checked before anything is written: a file may not leave the run folder. */
export function checkRunReturn(value: unknown): RunReturn {
  if (!isObject(value) || value['version'] !== PAYLOAD_VERSION || !Array.isArray(value['files'])) throw new Error(`the worker returned no run files (${JSON.stringify(value)?.slice(0, 80)})`);
  for (const file of value['files'] as unknown[]) {
    if (!isObject(file) || typeof file['path'] !== 'string' || typeof file['data'] !== 'string' || (file['encoding'] !== 'utf8' && file['encoding'] !== 'base64')) throw new Error('the worker returned a malformed run file');
    const rel = file['path'];
    if (rel === '' || path.isAbsolute(rel) || rel.split(/[\\/]/).some((part) => part === '..' || part === '')) throw new Error(`the worker returned a file outside its run folder: ${rel}`);
  }
  return value as unknown as RunReturn;
}

/**
 * Writes a run folder from its files: whatever an earlier, unfinished attempt left there goes, each file
 * is written atomically, and summary.json comes last (its presence marks a finished run).
 */
export function writeRunFiles(out: string, files: readonly RunFile[]): void {
  mkdirSync(out, { recursive: true });
  const tops = new Set(files.map((f) => f.path.split('/')[0]!));
  for (const name of readdirSync(out)) if (!tops.has(name)) rmSync(path.join(out, name), { recursive: true, force: true });
  const last = (f: RunFile) => (f.path === RUN_FILES.summary ? 1 : 0);
  for (const file of [...files].sort((a, b) => last(a) - last(b))) {
    const target = path.join(out, file.path);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileAtomic(target, file.encoding === 'utf8' ? file.data : new Uint8Array(Buffer.from(file.data, 'base64')));
  }
}
