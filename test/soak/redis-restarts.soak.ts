/**
 * Soak (npm run soak, not CI): Redis restarts empty (no persistence) under a queued run, after a longer
 * pause each time. Within the coordinator's 5 s the jobs it lost are queued again and finish; past it,
 * the coordinator gives up in one line and `resume` of the same job finishes the run once Redis is back.
 * CI (test/reliability/queue-faults.test.ts) covers one restart after 0.3 s.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { InProcessExecutor } from '../../src/execution/executor.js';
import { parseQueueUrl } from '../../src/execution/queue/protocol.js';
import { QueueExecutor } from '../../src/execution/queue/queue-executor.js';
import { QueueWorker } from '../../src/execution/queue/queue-worker.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const OPTIONS = {
  agent: 'constant',
  rate: 0.2,
  episodes: 2,
  epochs: 6,
  dataset: 'synthetic',
  model: 'mlp:32',
  trainSize: 600,
  valSize: 30,
  testSize: 30,
  backend: 'auto',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with `promise`, or with 'hung' after `ms` (the timer cleared either way). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('soak: Redis restarting empty under a queued run', function () {
  this.timeout(600_000);
  let redis: TestRedis;
  const tmp = mkdtempSync(path.join(tmpdir(), 'droptune-soak-redis-'));
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const worker = (queueName: string, lines: string[]) =>
    new QueueWorker({
      url: parseQueueUrl(redis.url),
      queueName,
      executor: new InProcessExecutor(),
      lockDurationMs: 2000,
      stalledIntervalMs: 500,
      log: (line) => lines.push(line),
    });

  for (const pauseMs of [1500, 3000, 4500]) {
    it(`a restart after ${pauseMs / 1000} s, a worker running: the lost job is queued again and finishes`, async () => {
      const name = `pause-${pauseMs}`;
      const lost: string[] = [];
      const executor = await QueueExecutor.open({
        url: parseQueueUrl(redis.url),
        queueName: name,
        onLost: (m) => lost.push(m),
      });
      const lines: string[] = [];
      const w = worker(name, lines);
      try {
        await w.start();
        let settled = false;
        const out = path.join(tmp, name);
        const run = executor.run({ options: OPTIONS, seed: 1, out });
        void run.finally(() => (settled = true)).catch(() => undefined);
        // Redis goes once the worker has started the run
        while (!existsSync(path.join(out, 'config.json')) && !settled) await sleep(10);
        // the run must still be waiting on its worker when Redis goes, or nothing is tested
        expect(settled).to.equal(false);
        await redis.kill();
        await sleep(pauseMs);
        await redis.restart();
        const result = await within(run, 120_000);
        expect(result, lines.join('\n')).to.not.equal('hung');
        expect(lost).to.deep.equal([]);
        expect((result as { summary?: { interrupted: boolean } }).summary?.interrupted).to.equal(false);
      } finally {
        await w.close(true);
        await executor.close();
      }
    });
  }

  it('an outage of 8 s: the coordinator gives up in one line, and resume finishes the run once Redis is back', async () => {
    const name = 'outage';
    const out = path.join(tmp, name);
    const lost: string[] = [];
    const executor = await QueueExecutor.open({
      url: parseQueueUrl(redis.url),
      queueName: name,
      onLost: (m) => lost.push(m),
    });
    const run = executor.run({ options: OPTIONS, seed: 2, out });
    await sleep(300);
    expect(existsSync(path.join(out, 'config.json')), 'no worker: the run has not started').to.equal(false);
    await redis.kill();
    const given = await within(run, 30_000);
    await executor.close();
    expect(given).to.not.equal('hung');
    expect((given as { interrupted?: boolean }).interrupted).to.equal(true);
    expect(lost).to.have.length(1);
    expect(lost[0]).to.match(/^Redis at redis:\/\/127\.0\.0\.1:\d+ went away \(.+\)$/);
    await sleep(8000 - 5000);
    await redis.restart();

    const again = await QueueExecutor.open({ url: parseQueueUrl(redis.url), queueName: name });
    const lines: string[] = [];
    const w = worker(name, lines);
    try {
      await w.start();
      const result = await within(again.run({ options: OPTIONS, seed: 2, out, resume: true }), 120_000);
      expect(result, lines.join('\n')).to.not.equal('hung');
      expect((result as { summary?: { interrupted: boolean } }).summary?.interrupted).to.equal(false);
      expect((result as { records: unknown[] }).records).to.have.length(OPTIONS.episodes);
    } finally {
      await w.close(true);
      await again.close();
    }
  });
});
