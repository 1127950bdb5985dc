/**
 * A real Redis for the queue tests: Debian's redis-server on a free 127.0.0.1 port, in a temporary
 * folder, without persistence; and the processes the tests drive against it (workers, a coordinator).
 * A redis-server that cannot start fails the test with the reason: the queue is never tested without one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  url: string;
  port: number;
  /** Ends the server (SIGKILL: Redis going away without notice). */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty (no persistence). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function startServer(port: number, dir: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
    } catch (err) {
      reject(
        new Error(
          `redis-server could not start (${(err as Error).message}): the queue tests need Debian's redis-server (apt-get install redis-server)`,
        ),
      );
      return;
    }
    let output = '';
    const timer = setTimeout(
      () => reject(new Error(`redis-server did not get ready on port ${port} within 10 s:\n${output}`)),
      10_000,
    );
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(
        new Error(
          `redis-server could not start (${err.message}): the queue tests need Debian's redis-server (apt-get install redis-server)`,
        ),
      );
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`));
    });
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
  });
}

const ended = (child: ChildProcess, signal: NodeJS.Signals) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'droptune-redis-'));
  let server = await startServer(port, dir);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill: () => ended(server, 'SIGKILL'),
    restart: async () => {
      server = await startServer(port, dir);
    },
    stop: async () => {
      await ended(server, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A child process with its output kept, and a way to wait for a line of it. */
export interface Proc {
  child: ChildProcess;
  output(): string;
  /** Resolves once the output matches. */
  waitFor(pattern: RegExp, ms?: number): Promise<void>;
  /** Resolves with the exit code (or the signal). */
  exited: Promise<number | NodeJS.Signals>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function startCommand(command: string, args: string[]): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', `src/cli/${command}.ts`, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const read = (chunk: Buffer) => {
    output += chunk.toString();
    for (const w of [...waiters])
      if (w.pattern.test(output)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
  };
  child.stdout!.on('data', read);
  child.stderr!.on('data', read);
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal!)),
  );
  return {
    child,
    output: () => output,
    waitFor: (pattern, ms = 120_000) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(output)) return resolve();
        const timer = setTimeout(
          () => reject(new Error(`${command} printed no ${pattern} within ${ms} ms:\n${output}`)),
          ms,
        );
        waiters.push({ pattern, resolve: () => (clearTimeout(timer), resolve()) });
        void exited.then(
          (code) => (
            clearTimeout(timer),
            pattern.test(output)
              ? resolve()
              : reject(new Error(`${command} exited (${code}) without printing ${pattern}:\n${output}`))
          ),
        );
      }),
    exited,
    kill: (signal = 'SIGKILL') => ended(child, signal),
  };
}

/** A queue worker process that hands a dead worker's job on within seconds (short lock and stall check). */
export function startWorker(url: string, extra: string[] = []): Proc {
  return startCommand('worker', ['--queue', url, '--lock-duration', '3', '--stalled-interval', '1', ...extra]);
}
