/**
 * A run as large as the one that broke the dashboard (issue 24, item 5): 75k episodes of 11 epochs, a
 * 200 MB steps.jsonl, written from a seeded stream; and the dashboard started on it in a process of its
 * own, so its peak RSS (the kernel's VmHWM) is the server's alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, cpSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';

import { createRng } from '../../src/core/rng.js';
import { FIXTURES } from './run-fixtures.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');

const r2 = (x: number) => Math.round(x * 100) / 100;

/**
 * Writes a finished thompson-like run of `episodes` × `epochs` with two dropout layers into `dir`
 * (config.json from the fixture thompson-s2, steps.jsonl, episodes.jsonl, summary.json); returns the
 * size of steps.jsonl in bytes.
 */
export function writeLargeRun(dir: string, episodes = 75_000, epochs = 11, seed = 0): number {
  mkdirSync(dir, { recursive: true });
  cpSync(path.join(FIXTURES, 'sweep', 'thompson-s2', 'config.json'), path.join(dir, 'config.json'));
  const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as {
    options: Record<string, unknown>;
  };
  config.options['episodes'] = episodes;
  config.options['epochs'] = epochs;
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const rng = createRng(seed);
  const steps = openSync(path.join(dir, 'steps.jsonl'), 'w');
  const eps = openSync(path.join(dir, 'episodes.jsonl'), 'w');
  let bytes = 0;
  for (let e = 1; e <= episodes; e++) {
    let lines = '';
    const schedule: number[][] = [];
    let valAcc = 0;
    let ret = 0;
    for (let t = 1; t <= epochs; t++) {
      const rates = [r2(rng.next() * 0.5), r2(rng.next() * 0.5)];
      schedule.push(rates);
      const trainLoss = r2(1 / (t + 1) + rng.next() * 0.1);
      valAcc = r2(0.5 + 0.4 * (t / epochs) + rng.normal() * 0.02);
      const reward = r2(rng.next() * 0.1);
      ret += reward;
      const step = {
        episode: e,
        epoch: t,
        rates,
        action: [rng.int(3), rng.int(3)],
        reward,
        trainLoss,
        trainLossStd: 0.05,
        trainAcc: r2(valAcc + 0.02),
        valLoss: r2(trainLoss + 0.05),
        valAcc,
        terminated: false,
        truncated: t === epochs,
        observation: [trainLoss, valAcc, rates[0], rates[1], r2(t / epochs)],
        stepMs: 400 + rng.int(100),
      };
      lines += JSON.stringify(step) + '\n';
    }
    bytes += writeSync(steps, lines);
    const record = {
      episode: e,
      return: r2(ret),
      epochs,
      initialValAcc: 0.1,
      valAcc,
      valLoss: 0.3,
      testAcc: r2(valAcc - 0.01),
      testLoss: 0.31,
      diverged: false,
      schedule,
      episodeMs: 4000,
    };
    writeSync(eps, JSON.stringify(record) + '\n');
  }
  closeSync(steps);
  closeSync(eps);
  writeFileSync(
    path.join(dir, 'summary.json'),
    JSON.stringify({ agent: 'thompson', wallMs: episodes * 4000, interrupted: false, episodes }),
  );
  return bytes;
}

export interface DashboardProcess {
  child: ChildProcess;
  port: number;
  /** Peak and current resident set of the server process, in MB (from /proc/<pid>/status). */
  memory(): { peakMb: number; rssMb: number };
  /** CPU time the server process has used, user and system, in ms (from /proc/<pid>/stat). */
  cpuMs(): number;
  stop(): Promise<void>;
}

/** `npm run dashboard -- root --port 0` (of the checkout `repo`) as a child process, once it prints its address. */
export function startDashboardProcess(root: string, repo = ROOT): Promise<DashboardProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repo, 'src/cli/dashboard.ts'), root, '--port', '0'],
    {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the dashboard did not start within 30 s:\n${out}`)), 30_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve({
        child,
        port: Number(m[1]),
        memory: () => {
          const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
          const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]);
          return { peakMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
        },
        cpuMs: () => {
          // fields 14 and 15 (utime, stime) after the command name in parentheses, in clock ticks of 10 ms
          const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8')
            .replace(/^.*\) /, '')
            .split(' ');
          return (Number(fields[11]) + Number(fields[12])) * 10;
        },
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the dashboard exited with ${code} before it started:\n${out}`));
    });
  });
}

/** A GET on the dashboard: status, body size in bytes, and the time to the last byte in ms. */
export async function timedGet(
  port: number,
  route: string,
): Promise<{ status: number; bytes: number; ms: number; body: string }> {
  const start = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}${route}`);
  const body = await res.text();
  return { status: res.status, bytes: Buffer.byteLength(body), ms: performance.now() - start, body };
}
